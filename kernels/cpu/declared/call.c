/*
 * kernels/cpu/declared/call.c - how the runner (kernels/cpu/common/runner.c)
 * calls a declared kernel (docs/declared-kernels.md): the entry point the
 * CALL names, with the arguments its rp_decl lists (proto.h), through
 * libffi: a pointer into the read-only input set or the writable output
 * slot for a buffer, the value converted to its type for a scalar. The
 * entry's return value, if any, is not read. Linked into spak-runner-cpu
 * only; libffi is linked statically where its PIC archive exists
 * (declared.mk), so the runner needs no libffi.so on the machine.
 */
#include <ffi.h>
#include <stdint.h>
#include <string.h>

#include "../common/caller.h"
#include "../common/proto.h"

typedef union scalar {
    void *p;
    int8_t i8;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint32_t u32;
    uint16_t h;
    float f;
    double d;
} scalar;

/* a scalar argument's ffi type and value; NULL for a type it cannot pass */
static ffi_type *scalar_of(const rp_darg *a, scalar *v)
{
    switch (a->type) {
    case RP_I8: v->i8 = (int8_t)a->value; return &ffi_type_sint8;
    case RP_I32: v->i32 = (int32_t)a->value; return &ffi_type_sint32;
    case RP_I64: v->i64 = a->value; return &ffi_type_sint64;
    case RP_U8: v->u8 = (uint8_t)a->value; return &ffi_type_uint8;
    case RP_U32: v->u32 = (uint32_t)a->value; return &ffi_type_uint32;
    case RP_F32: v->f = (float)a->value; return &ffi_type_float;
    case RP_F64: v->d = (double)a->value; return &ffi_type_double;
    default: return NULL; /* f16/bf16 scalars: the judge refuses them */
    }
}

static int call(cpu_entry fn, const cpu_shape *sh, const cpu_bufs *b)
{
    (void)sh;
    const rp_decl *d = b->ext;
    if (!d || d->nargs < 0 || d->nargs > RP_MAX_DARGS) return 90;
    ffi_type *types[RP_MAX_DARGS];
    void *vals[RP_MAX_DARGS];
    scalar sv[RP_MAX_DARGS];
    for (int i = 0; i < d->nargs; i++) {
        const rp_darg *a = &d->arg[i];
        if (a->where == 2) {
            types[i] = scalar_of(a, &sv[i]);
            if (!types[i]) return 91;
        } else {
            unsigned char *base = (unsigned char *)(a->where == 0 ? (void *)b->in[0] : (void *)b->out);
            sv[i].p = base + a->off;
            types[i] = &ffi_type_pointer;
        }
        vals[i] = &sv[i];
    }
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)d->nargs, &ffi_type_void, types) != FFI_OK) return 92;
    ffi_call(&cif, FFI_FN(fn), NULL, vals);
    return 0;
}

const cpu_caller cpu_caller_declared = {.name = "declared", .symbol = NULL, .call = call};
