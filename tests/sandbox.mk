# tests/sandbox.mk - the sandbox's misbehaving candidates (tests/misbehave/*.c),
# one small program each, built into $(O)/tests/misbehave/ where
# test_sandbox finds them (next to its own binary). They are built without
# sanitizers even in the asan build: they are the untrusted side, they must
# not carry ASan's huge address-space reservation into RLIMIT_AS, and some
# crash on purpose.

MISBEHAVE_SRC := $(wildcard tests/misbehave/*.c)
MISBEHAVE_BIN := $(MISBEHAVE_SRC:tests/misbehave/%.c=$(O)/tests/misbehave/%)
MISBEHAVE_CFLAGS := $(filter-out -fsanitize% -fno-sanitize% -MMD -MP,$(CFLAGS))
MISBEHAVE_LDFLAGS := $(filter-out -fsanitize% -fno-sanitize%,$(LDFLAGS))

ALL_TARGETS += $(MISBEHAVE_BIN)

$(O)/tests/misbehave/%: tests/misbehave/%.c
	@mkdir -p $(dir $@)
	$(CC) $(MISBEHAVE_CFLAGS) $(MISBEHAVE_LDFLAGS) -o $@ $<
