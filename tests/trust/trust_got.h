/*
 * tests/trust/trust_got.h - find the slot of an imported function in the
 * main program's global offset table and point it elsewhere: what a
 * candidate loaded into the judge's own process can do to the judge (its
 * clock, its baseline). Only the relocation tables are read (DT_JMPREL and
 * DT_RELA: lazy PLT slots and -fno-plt / BIND_NOW GOT entries alike).
 */
#ifndef SPAK_TRUST_GOT_H
#define SPAK_TRUST_GOT_H

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct trust_got_req {
    const char *name;
    void **slot;
} trust_got_req;

static inline void **trust_got_scan(ElfW(Addr) base, const ElfW(Rela) *r, size_t bytes, const ElfW(Sym) *sym,
                                    const char *str, const char *name)
{
    for (size_t i = 0; r && i < bytes / sizeof *r; i++) {
        unsigned long type = ELF64_R_TYPE(r[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
        if (strcmp(str + sym[ELF64_R_SYM(r[i].r_info)].st_name, name) == 0) return (void **)(base + r[i].r_offset);
    }
    return NULL;
}

static inline int trust_got_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    trust_got_req *rq = data;
    (void)size;
    if (info->dlpi_name && info->dlpi_name[0]) return 0; /* the main program has no name */
    ElfW(Addr) base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(base + info->dlpi_phdr[i].p_vaddr);
    if (!dyn) return 1;
    ElfW(Addr) jmprel = 0, rela = 0, symtab = 0, strtab = 0;
    size_t pltsz = 0, relasz = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        /* ld.so may already have relocated these in place */
        ElfW(Addr) v = dyn->d_un.d_ptr < base ? dyn->d_un.d_ptr + base : dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_JMPREL: jmprel = v; break;
        case DT_RELA: rela = v; break;
        case DT_SYMTAB: symtab = v; break;
        case DT_STRTAB: strtab = v; break;
        case DT_PLTRELSZ: pltsz = dyn->d_un.d_val; break;
        case DT_RELASZ: relasz = dyn->d_un.d_val; break;
        default: break;
        }
    }
    if (!symtab || !strtab) return 1;
    const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab;
    const char *str = (const char *)strtab;
    rq->slot = trust_got_scan(base, (const ElfW(Rela) *)jmprel, pltsz, sym, str, rq->name);
    if (!rq->slot) rq->slot = trust_got_scan(base, (const ElfW(Rela) *)rela, relasz, sym, str, rq->name);
    return 1;
}

/* Point the main program's import of `name` at fn; true when patched. */
static inline bool trust_got_patch(const char *name, void *fn)
{
    trust_got_req rq = {name, NULL};
    dl_iterate_phdr(trust_got_cb, &rq);
    if (!rq.slot) return false;
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = (uintptr_t)rq.slot & ~(uintptr_t)(pg - 1);
    if (mprotect((void *)page, (size_t)pg, PROT_READ | PROT_WRITE) != 0) return false; /* a slot never straddles pages */
    *rq.slot = fn;
    return true;
}

#endif
