/*
 * baseline_cudnn.cu - the FMHA family's baseline as a kernel .so: cuDNN's
 * scaled-dot-product attention (the backend graph of cudnn_sdpa.cuh) behind
 * the FMHA ABI (abi.h). The judge (spak-harness-cuda-fmha) loads it into a
 * runner identical to the candidate's, so both sides are timed the same way
 * (the judge's clock, the same protocol, the same sandbox) and neither pays
 * a cost the other does not. Built as $(O)/cuda/fmha/baseline-cudnn.so
 * (fmha.mk).
 *
 * libcudnn.so.9 is dlopen()ed (cudnn_sdpa.cuh): a machine without cuDNN
 * still loads this .so; then every shape is refused (see below) and the
 * judge records a baseline_error instead of ratios.
 *
 * Graphs are built and cached per problem (B, H, Hkv, S, D, causal, dtype,
 * with or without the LSE output), at most SDPA_CACHE of them: the judge
 * asks spak_fmha_workspace once per shape (QUERY), which builds both graphs,
 * and the calls then only bind buffers and launch. A problem cuDNN cannot
 * plan makes spak_fmha_workspace return SIZE_MAX (the judge reads it as
 * "the baseline cannot run this shape") and spak_fmha return 1; cuDNN's
 * reason goes to stderr, which the judge copies into its log.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"
#include "fmha_core.h" /* struct fc_shape only: what cudnn_sdpa.cuh builds from */
#include "cudnn_sdpa.cuh"

static const struct spak_fmha_info info = {
    SPAK_FMHA_ABI_VERSION,
    "cuDNN SDPA backend graph (baseline)",
    SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16),
    SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128),
    1,  /* any S */
    0,  /* no S limit */
    1,  /* causal */
    1,  /* GQA / MQA: K and V are [B][Hkv][S][D], broadcast by the matmuls */
    1,  /* the stats output M + log(L) */
    80, /* cuDNN's fused attention engines start at sm_80 */
};

extern "C" const struct spak_fmha_info *spak_fmha_info(void)
{
    return &info;
}

#define SDPA_CACHE 8

struct entry {
    bool used, ok;
    long key[8];
    struct sdpa g; /* built (ok) or its error in g.err */
};

static struct entry cache[SDPA_CACHE];
static int next_slot; /* round robin: the runner's judge asks for one shape */

/* The cached graph for the problem, built on first use. Never NULL. */
static struct entry *get(int B, int H, int Hkv, int S, int D, int causal, int dtype, bool lse)
{
    long key[8] = {B, H, Hkv, S, D, causal, dtype, lse};
    for (int i = 0; i < SDPA_CACHE; i++)
        if (cache[i].used && !memcmp(cache[i].key, key, sizeof key))
            return &cache[i];
    struct entry *e = &cache[next_slot];
    next_slot = (next_slot + 1) % SDPA_CACHE;
    if (e->used)
        sdpa_destroy(&e->g);
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->key, key, sizeof key);
    struct fc_shape s;
    memset(&s, 0, sizeof s);
    s.b = B, s.h = H, s.hkv = Hkv, s.s = S, s.d = D, s.causal = causal != 0;
    e->ok = sdpa_build(&e->g, &s, dtype, lse, 0);
    if (e->ok)
        fprintf(stderr, "baseline-cudnn: %dx%dx%dx%d g%d%s %s%s: %s, workspace %lld bytes\n", B, H, S, D, Hkv,
                causal ? " causal" : "", dtype == SPAK_FMHA_F16 ? "fp16" : "bf16", lse ? " lse" : "", e->g.engine,
                (long long)e->g.ws_bytes);
    else
        fprintf(stderr, "baseline-cudnn: %dx%dx%dx%d g%d%s %s%s: no plan: %s\n", B, H, S, D, Hkv,
                causal ? " causal" : "", dtype == SPAK_FMHA_F16 ? "fp16" : "bf16", lse ? " lse" : "", e->g.err);
    return e;
}

static bool declared(int Hkv, int H, int D, int dtype)
{
    return (dtype == SPAK_FMHA_F16 || dtype == SPAK_FMHA_BF16) && (D == 64 || D == 128) && Hkv > 0 && H % Hkv == 0;
}

/* Where a plan without the stats output exists, it runs when no LSE is
 * asked; where only the plan with stats exists (cuDNN 9.14 on an H100 had
 * none without stats for causal fp16 at D=128), that one runs and writes
 * its LSE into scratch after its workspace: a cost the candidate, which
 * may skip the LSE, does not pay (the records say which plan ran, on the
 * runner's log). */
static size_t lse_scratch(int B, int H, int S)
{
    return ((size_t)B * H * S * sizeof(float) + 255) / 256 * 256;
}

extern "C" size_t spak_fmha_workspace(int B, int H, int Hkv, int S, int D, int causal, int dtype)
{
    if (!declared(Hkv, H, D, dtype))
        return SIZE_MAX;
    struct entry *a = get(B, H, Hkv, S, D, causal, dtype, false), *b = get(B, H, Hkv, S, D, causal, dtype, true);
    if (!a->ok && !b->ok)
        return SIZE_MAX;
    size_t w = a->ok ? (size_t)a->g.ws_bytes : 0;
    if (b->ok) {
        size_t wb = ((size_t)b->g.ws_bytes + 255) / 256 * 256 + (a->ok ? 0 : lse_scratch(B, H, S));
        w = wb > w ? wb : w;
    }
    return w;
}

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
    if (!declared(Hkv, H, D, dtype))
        return (int)cudaErrorInvalidValue;
    struct entry *e = get(B, H, Hkv, S, D, causal, dtype, lse != NULL);
    if (!e->ok && !lse) { /* no plan without stats: the one with, its LSE into scratch */
        e = get(B, H, Hkv, S, D, causal, dtype, true);
        size_t off = ((size_t)e->g.ws_bytes + 255) / 256 * 256;
        if (!e->ok || !workspace || off + lse_scratch(B, H, S) > workspace_bytes)
            return (int)cudaErrorInvalidValue;
        lse = (float *)((char *)workspace + off);
    }
    if (!e->ok || (size_t)e->g.ws_bytes > workspace_bytes || (e->g.ws_bytes > 0 && !workspace))
        return (int)cudaErrorInvalidValue;
    e->g.scale = scale; /* a by-value tensor: read while the launch is enqueued */
    if (!sdpa_exec(&e->g, Q, K, V, O, lse, causal != 0, workspace, stream)) {
        fprintf(stderr, "baseline-cudnn: %s\n", e->g.err);
        return (int)cudaErrorLaunchFailure;
    }
    return 0;
}
