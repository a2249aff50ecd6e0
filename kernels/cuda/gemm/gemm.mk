# kernels/cuda/gemm/gemm.mk - the CUDA GEMM family: the rungs (candidate .so
# files) and the trusted harness spak-harness-cuda. Included by the top
# Makefile after kernels/cuda/common/common.mk (the shared harness core and
# headers); the FMHA twin is kernels/cuda/fmha/fmha.mk.
#
#   $(O)/spak-harness-cuda                  the harness (nvcc; cudart static, cuBLAS, Jansson, dl)
#   $(O)/cuda/gemm/rungN_*.so               each rung with its default parameters
#   $(O)/cuda/gemm/rungN_*.ptxas.txt        the ptxas report (registers, spills, smem)
#
# The nvcc products are built only in the plain build (SAN=0): the CUDA
# runtime and ASan do not mix well, and tests/suites/cuda_compile.sh reuses
# build/'s.

CUDA_GEMM_DIR := kernels/cuda/gemm
CUDA_GEMM_RUNGS := $(basename $(notdir $(wildcard $(CUDA_GEMM_DIR)/rung*.cu)))
CUDA_ARCH ?= -gencode arch=compute_90a,code=sm_90a
NVCCFLAGS ?= -O3 -std=c++17 $(CUDA_ARCH) -lineinfo -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
CUDA_HDRS := $(wildcard $(CUDA_GEMM_DIR)/*.h $(CUDA_GEMM_DIR)/*.cuh) $(CUDA_COMMON_HDRS)

ifeq ($(HAVE_CUDA)$(HAVE_CUBLAS)$(SAN),110)
CUDA_RUNG_SOS := $(CUDA_GEMM_RUNGS:%=$(O)/cuda/gemm/%.so)
CUDA_HARNESS := $(O)/spak-harness-cuda
CUDA_GEMM_BASELINE := $(O)/cuda/gemm/baseline-cublas.so
ALL_TARGETS += $(CUDA_RUNG_SOS) $(CUDA_HARNESS) $(CUDA_GEMM_BASELINE)

.PHONY: cuda
cuda: $(CUDA_RUNG_SOS) $(CUDA_HARNESS) $(CUDA_GEMM_BASELINE) $(CUDA_RUNNER)

# cuBLAS as a kernel .so: the baseline the judge runs in a runner like the candidate's
$(CUDA_GEMM_BASELINE): $(CUDA_GEMM_DIR)/baseline_cublas.cu $(CUDA_GEMM_DIR)/abi.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -shared -Xcompiler -fPIC -o $@ $< -lcublas

$(O)/cuda/gemm/%.so: $(CUDA_GEMM_DIR)/%.cu $(CUDA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -shared -Xcompiler -fPIC -Xptxas -v -o $@ $< 2> $(@:.so=.ptxas.txt) || { cat $(@:.so=.ptxas.txt); exit 1; }

$(CUDA_HARNESS): $(CUDA_GEMM_DIR)/harness.cu $(CUDA_HARNESS_CORE) $(CUDA_SESSION) $(CUDA_JUDGE_OBJS) $(LIB) $(CUDA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Isrc -Iinclude -o $@ $< $(CUDA_HARNESS_CORE) $(CUDA_SESSION) $(CUDA_JUDGE_OBJS) -lcublas $(CUDA_JUDGE_LIBS)
else ifeq ($(MAKELEVEL)$(SAN),00)
  $(info spak build: CUDA GEMM rungs and spak-harness-cuda skipped (need nvcc and cuBLAS))
endif

# Parameter variants for kernels/cuda/gemm/sweep.sh (not part of `all`):
#   make cuda-sweep  ->  $(O)/cuda/sweep/<rung>__<NAME=V>_<NAME=V>.so
CUDA_SWEEP ?= rung5_persistent:CLUSTER=1 rung5_persistent:CLUSTER=2 rung5_persistent:CLUSTER=2,GROUP_M=16 \
              rung5_persistent:CLUSTER=2,BN=128,MW=2
ifeq ($(HAVE_CUDA)$(SAN),10)
cuda_sweep_name = $(O)/cuda/sweep/$(word 1,$(subst :, ,$(1)))__$(subst $(comma),_,$(word 2,$(subst :, ,$(1)))).so
comma := ,
.PHONY: cuda-sweep
cuda-sweep:
	@mkdir -p $(O)/cuda/sweep
	@for v in $(CUDA_SWEEP); do \
	  r=$${v%%:*}; p=$${v#*:}; n=$$(echo "$$p" | tr ',' '_'); \
	  d=$$(echo "$$p" | sed 's/\([A-Z_]*=[0-9]*\)/-D\1/g; s/,/ /g'); \
	  echo "nvcc $$r $$d"; \
	  $(NVCC) $(NVCCFLAGS) -shared -Xcompiler -fPIC $$d -o $(O)/cuda/sweep/$${r}__$$n.so $(CUDA_GEMM_DIR)/$$r.cu & \
	done; wait
endif

# Misbehaving candidates for the harness's own tests (kernels/cuda/gemm/cheats.sh):
#   make cuda-cheats  ->  $(O)/cuda/cheats/cheat<N>.so
ifeq ($(HAVE_CUDA)$(SAN),10)
.PHONY: cuda-cheats
cuda-cheats:
	@mkdir -p $(O)/cuda/cheats
	@for n in 1 2 3 4 5 6 7 8; do \
	  $(NVCC) $(NVCCFLAGS) -shared -Xcompiler -fPIC -DCHEAT=$$n -o $(O)/cuda/cheats/cheat$$n.so $(CUDA_GEMM_DIR)/cheats.cu & \
	done; wait
endif
