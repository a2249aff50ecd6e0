# kernels/cpu/cpu.mk - the trusted CPU harness, $(O)/spak-harness-cpu.
# Included by the top Makefile. Only this binary links OpenBLAS (the baseline);
# libspak.a and the spak CLI never do (the GPU machine has no OpenBLAS).
# The kernel rungs and candidates are not built here: they are shared objects
# built per candidate (see the header of each kernels/cpu/*/*.c and bench.sh).

OPENBLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
OPENBLAS_LIBS   ?= $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

CPU_HARNESS := $(O)/spak-harness-cpu
ALL_TARGETS += $(CPU_HARNESS)

$(O)/obj/kernels/cpu/harness.o: kernels/cpu/harness.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OPENBLAS_CFLAGS) -c $< -o $@

$(CPU_HARNESS): $(O)/obj/kernels/cpu/harness.o
	$(CC) $(LDFLAGS) -o $@ $^ $(OPENBLAS_LIBS) -ljansson -lpthread -ldl -lm
