# kernels/cuda/common/common.mk - what the CUDA kernel families share
# (kernels/cuda/common/): the GPU-free harness logic harness_core.c (options,
# shapes, records, statistics; cc) and its unit test, and the headers both
# harnesses and all rungs include (common.cuh, sm90.cuh, wgmma_ops.cuh,
# harness_device.cuh). Included by the top Makefile before the families'
# fragments (kernels/cuda/gemm/gemm.mk, kernels/cuda/fmha/fmha.mk), which
# link $(CUDA_HARNESS_CORE) and depend on $(CUDA_COMMON_HDRS).
#
#   $(O)/obj/kernels/cuda/common/harness_core.o   the shared core (cc)
#   $(O)/tests/test_cuda_harness                  its unit tests (cc)
#   $(O)/obj/kernels/cuda/common/session.o        the timed rounds' rules (cc)
#   $(O)/tests/test_cuda_session                  their unit tests (cc)
#
# The unit test is built in every build (also the sanitizer build); the nvcc
# products of the families only in the plain build (SAN=0): the CUDA runtime
# and ASan do not mix well.

CUDA_COMMON_DIR   := kernels/cuda/common
CUDA_COMMON_HDRS  := $(wildcard $(CUDA_COMMON_DIR)/*.h $(CUDA_COMMON_DIR)/*.cuh)
CUDA_HARNESS_CORE := $(O)/obj/$(CUDA_COMMON_DIR)/harness_core.o
# the timed rounds' rules (session.c): over libspak's intervals (src/analyze/stats.c)
CUDA_SESSION      := $(O)/obj/$(CUDA_COMMON_DIR)/session.o

HC_TEST := $(O)/tests/test_cuda_harness
CS_TEST := $(O)/tests/test_cuda_session
ALL_TARGETS += $(HC_TEST) $(CS_TEST)

$(HC_TEST): $(O)/obj/$(CUDA_COMMON_DIR)/test_harness_core.o $(CUDA_HARNESS_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lm

$(CS_TEST): $(O)/obj/$(CUDA_COMMON_DIR)/test_session.o $(CUDA_SESSION) $(O)/obj/src/analyze/stats.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lm

# The judge/runner split (issue 13): a CUDA judge starts each kernel it
# times (the candidate, and the family's baseline wrapped as a .so) in
# $(O)/spak-runner-cuda, in spak's sandbox, and shares device memory with it
# through POSIX fds (cuda_judge.c, runner_cuda.c). Plain C11 over the CUDA
# driver and runtime APIs; cc builds both. The judges link the runner
# control (kernels/common/runner_ctl.c) and libspak.a's sandbox.
ifeq ($(HAVE_CUDA)$(SAN),10)
CUDA_RUNNER := $(O)/spak-runner-cuda
CUDA_JUDGE_OBJS := $(O)/obj/$(CUDA_COMMON_DIR)/cuda_judge.o $(O)/obj/kernels/common/runner_ctl.o
# (no -lcuda: cuda_judge.c dlopen()s the driver, so a judge starts without one and says "no CUDA device")
CUDA_JUDGE_LIBS := $(LIB) $(LDLIBS)
ALL_TARGETS += $(CUDA_RUNNER)

$(O)/obj/$(CUDA_COMMON_DIR)/cuda_judge.o: CFLAGS += -I$(CUDA_HOME)/include

$(CUDA_RUNNER): $(CUDA_COMMON_DIR)/runner_cuda.c kernels/common/runner_io.c $(CUDA_COMMON_DIR)/cuda_proto.h \
                kernels/common/runner_proto.h kernels/common/runner_io.h kernels/cuda/gemm/abi.h kernels/cuda/fmha/abi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(CUDA_HOME)/include -o $@ $(filter %.c,$^) -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib64/stubs \
	    -lcudart_static -lcuda -ldl -lrt -lpthread
endif
