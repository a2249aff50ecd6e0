# kernels/cpu/matmul/matmul.mk - the matmul family in the CPU harness
# (kernels/cpu/cpu.mk links it into $(O)/spak-harness-cpu). Its descriptor
# (family.c) times OpenBLAS sgemm as the built-in baseline, so this family
# brings OpenBLAS's flags and library.

OPENBLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
OPENBLAS_LIBS   ?= $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

CPU_FAMILIES     += matmul
CPU_FAMILY_OBJS  += $(O)/obj/kernels/cpu/matmul/family.o
CPU_HARNESS_LIBS += $(OPENBLAS_LIBS)

$(O)/obj/kernels/cpu/matmul/family.o: CFLAGS += $(OPENBLAS_CFLAGS)
