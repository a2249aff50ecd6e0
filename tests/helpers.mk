# tests/helpers.mk - small programs the shell suites drive (tests/helpers/*.c),
# linked against the library, built into $(O)/tests/helpers/ (not test_*:
# tests/run.sh does not run them as unit tests).

HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(O)/tests/helpers/%)

ALL_TARGETS += $(HELPER_BIN)

$(O)/tests/helpers/%: $(O)/obj/tests/helpers/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
