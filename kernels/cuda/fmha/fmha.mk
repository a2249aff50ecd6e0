# kernels/cuda/fmha/fmha.mk - the CUDA FMHA (attention forward) family, issue
# 7: the rungs (candidate .so files) and the trusted harness
# spak-harness-cuda-fmha. Included by the top Makefile after
# kernels/cuda/common/common.mk (the shared harness core and headers); the
# GEMM twin is kernels/cuda/gemm/gemm.mk.
#
#   $(O)/spak-harness-cuda-fmha            the judge (nvcc; cudart static, cuBLAS for the GEMM
#                                          ceiling, Jansson, dl, the runner control and libspak's
#                                          sandbox); it runs each kernel in $(O)/spak-runner-cuda
#   $(O)/cuda/fmha/baseline-cudnn.so       cuDNN's SDPA behind the FMHA ABI: the baseline the
#                                          judge runs in a runner like the candidate's (cuDNN is
#                                          dlopen()ed)
#   $(O)/cuda/fmha/rungN_*.so              each rung with its default parameters
#   $(O)/cuda/fmha/rungN_*.ptxas.txt       the ptxas report (registers, spills, smem)
#   $(O)/tests/test_fmha_core              unit tests of the GPU-free harness logic (cc)
#   make cuda-fmha-sweep                   parameter variants -> $(O)/cuda/fmha-sweep/
#
# As in gemm.mk: the unit test is built in every build (also SAN=1), the
# nvcc products only in the plain build.

FMHA_DIR := kernels/cuda/fmha
FMHA_RUNGS := $(basename $(notdir $(wildcard $(FMHA_DIR)/rung*.cu)))
FMHA_ARCH ?= -gencode arch=compute_90a,code=sm_90a
FMHA_NVCCFLAGS ?= -O3 -std=c++17 $(FMHA_ARCH) -lineinfo -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
FMHA_HDRS := $(wildcard $(FMHA_DIR)/*.h $(FMHA_DIR)/*.cuh) $(CUDA_COMMON_HDRS)

FMHA_TEST := $(O)/tests/test_fmha_core
ALL_TARGETS += $(FMHA_TEST)

$(FMHA_TEST): $(O)/obj/$(FMHA_DIR)/test_fmha_core.o $(O)/obj/$(FMHA_DIR)/fmha_core.o $(CUDA_HARNESS_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lm

ifeq ($(HAVE_CUDA)$(HAVE_CUBLAS)$(HAVE_CUDNN)$(SAN),1110)
FMHA_SOS := $(FMHA_RUNGS:%=$(O)/cuda/fmha/%.so)
FMHA_HARNESS := $(O)/spak-harness-cuda-fmha
FMHA_BASELINE := $(O)/cuda/fmha/baseline-cudnn.so
ALL_TARGETS += $(FMHA_SOS) $(FMHA_HARNESS) $(FMHA_BASELINE)

.PHONY: cuda-fmha cuda
cuda-fmha: $(FMHA_SOS) $(FMHA_HARNESS) $(FMHA_BASELINE) $(CUDA_RUNNER)
cuda: $(FMHA_SOS) $(FMHA_HARNESS) $(FMHA_BASELINE)

# cuDNN's SDPA as a kernel .so: the baseline the judge runs in a runner like the candidate's
$(FMHA_BASELINE): $(FMHA_DIR)/baseline_cudnn.cu $(FMHA_DIR)/abi.h $(FMHA_DIR)/cudnn_sdpa.cuh $(FMHA_DIR)/fmha_core.h
	@mkdir -p $(dir $@)
	$(NVCC) $(FMHA_NVCCFLAGS) -shared -Xcompiler -fPIC -o $@ $< -ldl

$(O)/cuda/fmha/%.so: $(FMHA_DIR)/%.cu $(FMHA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(FMHA_NVCCFLAGS) -shared -Xcompiler -fPIC -Xptxas -v -o $@ $< 2> $(@:.so=.ptxas.txt) || { cat $(@:.so=.ptxas.txt); exit 1; }

$(FMHA_HARNESS): $(FMHA_DIR)/harness_fmha.cu $(O)/obj/$(FMHA_DIR)/fmha_core.o $(CUDA_HARNESS_CORE) $(CUDA_SESSION) \
                 $(CUDA_JUDGE_OBJS) $(LIB) $(FMHA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(FMHA_NVCCFLAGS) -o $@ $< $(O)/obj/$(FMHA_DIR)/fmha_core.o $(CUDA_HARNESS_CORE) $(CUDA_SESSION) $(CUDA_JUDGE_OBJS) \
	    -lcublas $(CUDA_JUDGE_LIBS)

# Parameter variants for kernels/cuda/fmha/bench.sh (not part of `all`):
#   make cuda-fmha-sweep  ->  $(O)/cuda/fmha-sweep/<rung>__<NAME-V>_<NAME-V>.so (no "=" in carried names)
FMHA_SWEEP ?= rung3_mma:WARPS=8 rung3_mma:WARPS=4,BLOCK_N=32 rung3_mma:WARPS=8,BLOCK_N=32 \
              rung3_mma:WARPS=4,STAGES=3 rung3_mma:WARPS=8,STAGES=3 rung2_online:BLOCK_M=32,TPR=8 \
              rung4_wgmma:BLOCK_N=64 rung4_wgmma:STAGES=2 rung4_wgmma:CONSUMERS=2 rung4_wgmma:STAGES=3
.PHONY: cuda-fmha-sweep
cuda-fmha-sweep:
	@mkdir -p $(O)/cuda/fmha-sweep
	@for v in $(FMHA_SWEEP); do \
	  r=$${v%%:*}; p=$${v#*:}; n=$$(echo "$$p" | tr ',=' '_-'); \
	  d=$$(echo "$$p" | sed 's/\([A-Z_]*=[0-9]*\)/-D\1/g; s/,/ /g'); \
	  echo "nvcc $$r $$d"; \
	  $(NVCC) $(FMHA_NVCCFLAGS) -shared -Xcompiler -fPIC $$d -o $(O)/cuda/fmha-sweep/$${r}__$$n.so $(FMHA_DIR)/$$r.cu & \
	done; wait
else ifeq ($(MAKELEVEL)$(SAN),00)
  $(info spak build: CUDA FMHA rungs and spak-harness-cuda-fmha skipped (need nvcc, cuBLAS and the cuDNN headers))
endif

# cuDNN's SDPA graph built stand-alone (GPU-free up to the operation graph):
#   $(O)/cuda/fmha/cudnn-dry BxHxSxD[gN][c] fp16|bf16 [lse]
ifeq ($(HAVE_CUDA)$(HAVE_CUDNN)$(SAN),110)
FMHA_DRY := $(O)/cuda/fmha/cudnn-dry
ALL_TARGETS += $(FMHA_DRY)
$(FMHA_DRY): $(FMHA_DIR)/cudnn_dry.cu $(O)/obj/$(FMHA_DIR)/fmha_core.o $(CUDA_HARNESS_CORE) $(FMHA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(FMHA_NVCCFLAGS) -o $@ $< $(O)/obj/$(FMHA_DIR)/fmha_core.o $(CUDA_HARNESS_CORE) -ljansson -ldl -lm
endif

# Misbehaving candidates for the harness's own tests (kernels/cuda/fmha/cheats.sh):
#   make cuda-fmha-cheats  ->  $(O)/cuda/fmha-cheats/cheat<N>.so
ifeq ($(HAVE_CUDA)$(SAN),10)
.PHONY: cuda-fmha-cheats
cuda-fmha-cheats:
	@mkdir -p $(O)/cuda/fmha-cheats
	@for n in 1 2 3 4 5 6 7 8 9; do \
	  $(NVCC) $(FMHA_NVCCFLAGS) -shared -Xcompiler -fPIC -DCHEAT=$$n -o $(O)/cuda/fmha-cheats/cheat$$n.so $(FMHA_DIR)/cheats.cu & \
	done; wait
endif
