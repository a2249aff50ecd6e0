# kernels/cpu/declared/declared.mk - declared kernels in the CPU harness
# (docs/declared-kernels.md): family.c (the decl file, fills, the reference
# runner, the comparison) into $(O)/spak-harness-cpu, call.c (libffi) into
# $(O)/spak-runner-cpu. libffi is linked statically from its PIC archive
# where Debian's libffi-dev ships one, so a machine without libffi.so.8 (the
# GPU machine) runs the runner; else dynamically.

FFI_LIBS ?= $(if $(wildcard /usr/lib/x86_64-linux-gnu/libffi_pic.a /usr/lib/aarch64-linux-gnu/libffi_pic.a),-l:libffi_pic.a,$(shell pkg-config --libs libffi 2>/dev/null || echo -lffi))

CPU_FAMILIES     += declared
CPU_FAMILY_OBJS  += $(O)/obj/kernels/cpu/declared/family.o
CPU_CALLER_OBJS  += $(O)/obj/kernels/cpu/declared/call.o
CPU_RUNNER_LIBS  += $(FFI_LIBS)
