/*
 * Attention forward, fp32 semantics on AMX: every fp32 operand is split into ns bf16 parts
 * (x = x0 + x1 [+ x2]) and the products x_i*y_j with i+j < ns are accumulated in fp32 tiles
 * (ns=2: 3 products; ns=3: 6 products, ~fp32). Scores use ns=3 (exp amplifies their error), PV uses NSP. Per (b,h): K and V packed to
 * VNNI B-tiles; per Q block of ABQ rows:
 *   1. scores (log2 domain) via 32x32 tile blocks (2x2 tiles, 8 tmm registers)
 *   2. exact row softmax (AVX-512 exp2) written as bf16 parts; causal key blocks skipped
 *   3. O = P V via the same tile blocks over key chunks of KC, scaled by 1/l at the end
 * Fallback (no AMX): the AVX-512 fp32 6x64 register-blocked kernel.
 * Heads split over pthreads.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "abi.h"

#ifndef NSPLIT
#define NSPLIT 2
#endif
#ifndef ABQ
#define ABQ 64
#endif
#ifndef KC
#define KC 64
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#define FBQ 24
#define FBK 256
#if (ABQ % 32) != 0 || (KC % 32) != 0
#error "ABQ and KC must be multiples of 32"
#endif
#if NSPLIT < 2 || NSPLIT > 3
#error "NSPLIT must be 2 or 3"
#endif

