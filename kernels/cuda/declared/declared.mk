# kernels/cuda/declared/declared.mk - spak-judge-cuda, the generic CUDA
# judge of declared kernels (issue 17; docs/declared-kernels.md): its GPU-free
# half decl_core.c (the decl file, the buffers' layout, the argument array,
# the command line; cc) with its unit test, and the judge itself (nvcc),
# which starts the candidate's and the reference's cubins in
# spak-runner-cuda (kernels/cuda/common/runner_cuda.c, family "declared").
# Included by the top Makefile after kernels/cuda/common/common.mk.
#
#   $(O)/tests/test_decl_core      the unit tests (cc; every build)
#   $(O)/spak-judge-cuda           the judge (nvcc; plain build with CUDA)
#   make cuda-declared             the examples' and the cheats' cubins into
#                                  $(O)/cuda/declared/ (kernels/cuda/declared-check.sh)

CUDA_DECL_DIR  := kernels/cuda/declared
CUDA_DECL_CORE := $(O)/obj/$(CUDA_DECL_DIR)/decl_core.o
DC_TEST        := $(O)/tests/test_decl_core
ALL_TARGETS    += $(DC_TEST)

$(DC_TEST): $(O)/obj/$(CUDA_DECL_DIR)/test_decl_core.o $(CUDA_DECL_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lm

ifeq ($(HAVE_CUDA)$(HAVE_CUBLAS)$(SAN),110)
CUDA_DECL_JUDGE := $(O)/spak-judge-cuda
ALL_TARGETS += $(CUDA_DECL_JUDGE)

$(CUDA_DECL_JUDGE): $(CUDA_DECL_DIR)/judge.cu $(CUDA_DECL_DIR)/decl_fill.h $(CUDA_DECL_DIR)/decl_core.h \
                    $(CUDA_DECL_CORE) $(CUDA_HARNESS_CORE) $(CUDA_SESSION) $(CUDA_JUDGE_OBJS) $(LIB) $(CUDA_COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Isrc -Iinclude -o $@ $< $(CUDA_DECL_CORE) $(CUDA_HARNESS_CORE) $(CUDA_SESSION) \
	    $(CUDA_JUDGE_OBJS) -lcublas $(CUDA_JUDGE_LIBS)

# The examples (examples/declared/*/*.cu), the judge's cheats
# (tests/trust_gpu/declared/*.cu) and the classifier's kernels of known
# character (tests/classify_gpu/*.cu) as cubins, as the engine would build
# them (nvcc -cubin in the sandbox)
CUDA_DECL_CUBIN_ARCH ?= -arch=sm_90a
CUDA_DECL_SRCS := $(wildcard examples/declared/*/*.cu tests/trust_gpu/declared/*.cu tests/classify_gpu/*.cu)
CUDA_DECL_CUBINS := $(CUDA_DECL_SRCS:%.cu=$(O)/cuda/declared/%.cubin)
.PHONY: cuda-declared
cuda-declared: $(CUDA_DECL_JUDGE) $(CUDA_RUNNER) $(CUDA_DECL_CUBINS)

$(O)/cuda/declared/%.cubin: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -cubin $(CUDA_DECL_CUBIN_ARCH) -O3 -Werror all-warnings -o $@ $<
endif
