# spak - build file.
#
#   make            release build: build/libspak.a, build/spak, test programs
#   make asan       the same under AddressSanitizer + UBSan, in build/asan/
#   make test       both builds, then every test suite (tests/run.sh)
#   make fuzz       libFuzzer targets in build/fuzz/ (needs clang)
#   make clean
#
# Plain GNU make rather than CMake: one file, no generator step, the style of
# Lua/Redis/llm.c (docs/design.md says why). Module fragments
# (kernels/*/*/*.mk, kernels/*/*.mk, tests/*.mk) are included below and add their own targets.

O        ?= build
SAN      ?= 0
CC       ?= cc

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral -Werror
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(WARN) -Iinclude -Isrc -Itests -MMD -MP
ifeq ($(SAN),1)
  OPT      := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN    := -fsanitize=address,undefined
else
  OPT      := -O2
  LDSAN    :=
endif
CFLAGS   ?=
CFLAGS   += $(CFLAGS_BASE) $(OPT)
LDLIBS   := -lsqlite3 -ljansson -lcurl -l:libseccomp.a -lpthread -ldl -lm
LDFLAGS  += $(LDSAN)

# ---- CUDA toolkit detection (optional) -----------------------------------
NVCC       ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME  ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),)
HAVE_CUDA  := $(if $(NVCC),1,0)
HAVE_CUBLAS := $(if $(wildcard $(CUDA_HOME)/include/cublas_v2.h),1,0)
HAVE_CUDNN  := $(if $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h),1,0)
ifeq ($(MAKELEVEL),0)
  ifeq ($(HAVE_CUDA),1)
    $(info spak build: CUDA toolkit at $(CUDA_HOME) (nvcc $(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')), cuBLAS: $(if $(filter 1,$(HAVE_CUBLAS)),found,missing), cuDNN: $(if $(filter 1,$(HAVE_CUDNN)),found,missing))
  else
    $(info spak build: no CUDA toolkit found (nvcc not on PATH nor in /usr/local/cuda); building the CPU target only)
  endif
endif

# ---- the library and the CLI ---------------------------------------------
LIB_SRC  := $(wildcard src/*.c src/*/*.c src/*/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/obj/%.o)
LIB      := $(O)/libspak.a
CLI      := $(O)/spak

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

# the job side of a remote executor (tool/exec-job/main.c): runs a request in
# the sandbox on a compute node and writes the result back (docs/scale-out.md)
EXEC_JOB := $(O)/spak-exec-job

ALL_TARGETS := $(LIB) $(CLI) $(EXEC_JOB) $(UNIT_BIN)

.PHONY: all asan test fuzz clean
.SECONDARY:
all: build-all

# The kernel fragments in sorted order, so a target's common/ one comes before
# its families' (kernels/<target>/<family>/*.mk), and the families' before the
# target's own (kernels/<target>/*.mk), which links what the families added.
-include $(sort $(wildcard kernels/*/*/*.mk)) $(wildcard kernels/*/*.mk tests/*.mk fuzz/*.mk)

build-all: $(ALL_TARGETS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

CLI_SRC  := $(wildcard tool/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/obj/%.o)

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(EXEC_JOB): $(O)/obj/tool/exec-job/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(O)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

asan:
	$(MAKE) O=build/asan SAN=1 build-all

test: all asan
	tests/run.sh build build/asan

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
