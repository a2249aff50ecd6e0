/*
 * kernels/cpu/common/info.h - the optional self-description a CPU candidate may
 * export next to its kernel entry point (shared by both kernel families).
 *
 *   const spak_kernel_info *spak_info(void);
 *
 * The harness reads it for the record (name, declared precision) and never
 * trusts it: precision is judged by measuring the error against a double
 * reference, so a candidate that declares "fp32" and rounds to bf16 fails.
 * A candidate without the symbol is treated as declaring "fp32".
 */
#ifndef SPAK_CPU_INFO_H
#define SPAK_CPU_INFO_H

#define SPAK_CPU_ABI_VERSION 1

typedef struct spak_kernel_info {
    int abi_version;       /* SPAK_CPU_ABI_VERSION */
    const char *name;      /* e.g. "matmul/packed" */
    const char *precision; /* the compute precision it claims: "fp32" */
    const char *params;    /* the defines it was built with, free text */
} spak_kernel_info;

#endif
