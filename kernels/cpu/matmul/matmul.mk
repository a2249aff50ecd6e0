# kernels/cpu/matmul/matmul.mk - the matmul family in the CPU harness
# (kernels/cpu/cpu.mk links family.c into $(O)/spak-harness-cpu and call.c
# into $(O)/spak-runner-cpu). Its built-in baseline is OpenBLAS sgemm behind
# the matmul ABI, a .so (baseline_openblas.c) that the judge runs in a runner
# like a candidate: only that .so links OpenBLAS. Built without sanitizers,
# like the runner that loads it (kernels/cpu/cpu.mk says why).

OPENBLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
OPENBLAS_LIBS   ?= $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

CPU_FAMILIES     += matmul
CPU_FAMILY_OBJS  += $(O)/obj/kernels/cpu/matmul/family.o $(O)/obj/kernels/cpu/matmul/traffic.o
CPU_CALLER_OBJS  += $(O)/obj/kernels/cpu/matmul/call.o
CPU_BASELINES    += $(O)/cpu/matmul/baseline-openblas.so

$(O)/cpu/matmul/baseline-openblas.so: kernels/cpu/matmul/baseline_openblas.c kernels/cpu/matmul/abi.h kernels/cpu/common/info.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS)) $(OPENBLAS_CFLAGS) -fPIC -shared $< -o $@ $(OPENBLAS_LIBS)
