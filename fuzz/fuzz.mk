# fuzz/fuzz.mk - `make fuzz`: the libFuzzer targets build/fuzz/fuzz_spec, build/fuzz/fuzz_diff and build/fuzz/fuzz_t1.
#
# Included by the top Makefile. Built with clang (libFuzzer ships with it),
# compiling the language sources directly under ASan + UBSan + the fuzzer's
# coverage instrumentation, so it never links the gcc-built libspak.a and a
# normal `make` never needs clang. Run it with fuzz/run.sh (docs/fuzzing.md).

FUZZ_CC     ?= clang
FUZZ_OUT    := build/fuzz
FUZZ_LIBSRC := src/spec/lex.c src/spec/parse.c src/spec/ast.c src/spec/fmt.c src/spec/check.c src/spec/kernel.c src/analyze/executor_names.c src/spec/expr.c \
               src/spec/model.c src/spec/spec.c \
               src/spec/diag.c src/util.c src/analyze/trace.c src/knowledge/knowledge.c src/spec/space.c \
               src/program/strategies.c src/template.c src/spec/suggest.c src/spec/sources.c \
               src/spec/pyexpr.c src/spec/t1.c src/spec/t1_import.c \
               $(wildcard src/program/llm/*.c)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(WARN) -Iinclude -Isrc \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

fuzz: $(FUZZ_OUT)/fuzz_spec $(FUZZ_OUT)/fuzz_diff $(FUZZ_OUT)/fuzz_t1

$(FUZZ_OUT)/fuzz_spec: fuzz/fuzz_spec.c $(FUZZ_LIBSRC) $(wildcard src/*.h src/*/*.h src/*/*/*.h include/*.h) fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_spec.c $(FUZZ_LIBSRC) -ljansson -lcurl -lm

# the strict diff applier of an MCP engineer's proposals (fuzz/fuzz_diff.c)
$(FUZZ_OUT)/fuzz_diff: fuzz/fuzz_diff.c src/program/diff.c src/util.c src/program/diff.h src/util.h fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_diff.c src/program/diff.c src/util.c -ljansson -lm

# the T1 reader and its Python expression subset (fuzz/fuzz_t1.c)
$(FUZZ_OUT)/fuzz_t1: fuzz/fuzz_t1.c $(FUZZ_LIBSRC) $(wildcard src/*.h src/*/*.h src/*/*/*.h include/*.h) fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_t1.c $(FUZZ_LIBSRC) -ljansson -lcurl -lm
