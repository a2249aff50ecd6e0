/*
 * kernels/cpu/common/caller.h - how the runner (kernels/cpu/common/runner.c)
 * calls a kernel of one family: the symbol a .so exports and a function that
 * unpacks a shape and the buffers into that family's ABI. One per family, in
 * kernels/cpu/<family>/call.c:
 *
 *   const cpu_caller cpu_caller_<name> = { .name = "<name>", ... };
 *
 * The runner links these and nothing else of a family: no reference, no
 * baseline library (the judge links the references, family.h). cpu.mk writes
 * the table cpu_callers[] from CPU_FAMILIES. Static data, no ownership.
 */
#ifndef SPAK_CPU_CALLER_H
#define SPAK_CPU_CALLER_H

#include <stdbool.h>

typedef struct cpu_shape {
    long d[4]; /* the family's dimensions in order (matmul: M N K; attention: B H S D) */
    int causal;
    bool heldout;
    bool drawn;   /* a held-out shape the judge (or spak, for a decl) drew at run time: never sent to the runner */
    char str[80]; /* canonical text: the dimensions joined by 'x', 'c' when causal */
} cpu_shape;

/* inputs in[0..nin) and the output, each as many floats as the family's sizes() says */
typedef struct cpu_bufs {
    float *in[3];
    float *out;
    const void *ext; /* the declared family's rp_decl of the CALL (proto.h), else NULL */
} cpu_bufs;

/* the candidate's entry point as loaded; the family casts it back to its ABI type */
typedef void (*cpu_entry)(void);

typedef struct cpu_caller {
    const char *name;   /* the family, as in --family */
    const char *symbol; /* the entry point a .so exports; NULL: named by each CALL (declared) */
    /* one call of fn on shape sh and buffers b; returns the kernel's return code */
    int (*call)(cpu_entry fn, const cpu_shape *sh, const cpu_bufs *b);
} cpu_caller;

#endif
