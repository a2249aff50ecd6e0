# tests/sandbox.mk - the sandbox's misbehaving candidates (tests/misbehave/*.c),
# one small program each, built into $(O)/tests/misbehave/ where
# test_sandbox finds them (next to its own binary). They are built without
# sanitizers even in the asan build: they are the untrusted side, they must
# not carry ASan's huge address-space reservation into RLIMIT_AS, and some
# crash on purpose. Some are legitimate programs the syscall filter must let
# through: omp (OpenMP), threads (pthreads), sockpair, loadso (dlopen of
# plugin.so, from tests/misbehave/so/, and an executable mapping).

MISBEHAVE_SRC := $(wildcard tests/misbehave/*.c)
MISBEHAVE_BIN := $(MISBEHAVE_SRC:tests/misbehave/%.c=$(O)/tests/misbehave/%)
MISBEHAVE_SO := $(O)/tests/misbehave/plugin.so
MISBEHAVE_CFLAGS := $(filter-out -fsanitize% -fno-sanitize% -MMD -MP,$(CFLAGS))
MISBEHAVE_LDFLAGS := $(filter-out -fsanitize% -fno-sanitize%,$(LDFLAGS))

ALL_TARGETS += $(MISBEHAVE_BIN) $(MISBEHAVE_SO)

# per-program flags and libraries
$(O)/tests/misbehave/omp: MB_FLAGS := -fopenmp
$(O)/tests/misbehave/threads: MB_FLAGS := -pthread
$(O)/tests/misbehave/selfstop: MB_FLAGS := -pthread
$(O)/tests/misbehave/loadso: MB_LIBS := -ldl

$(O)/tests/misbehave/%: tests/misbehave/%.c
	@mkdir -p $(dir $@)
	$(CC) $(MISBEHAVE_CFLAGS) $(MB_FLAGS) $(MISBEHAVE_LDFLAGS) -o $@ $< $(MB_LIBS)

$(MISBEHAVE_SO): tests/misbehave/so/plugin.c
	@mkdir -p $(dir $@)
	$(CC) $(MISBEHAVE_CFLAGS) -fPIC -shared $(MISBEHAVE_LDFLAGS) -o $@ $<
