/* test_restrict.c - a space's restrictions (`restrict: [...]` of
 * design_space / tuning_space, docs/language.md 4.3; space.h): the points
 * where one is false are not counted, never proposed by grid, random or
 * default, not found by their key; a restriction that reads a parameter
 * absent at a point (its `when` false) says nothing there; a loop with its
 * own parameters keeps only the restrictions over them. Every point is
 * compared with the conditions computed here in C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/space.h"
#include "spec/spec.h"
#include "tap.h"

static const char spec_text[] =
    "system R {\n"
    "    design_space {\n"
    "        rung: [\"naive\", \"packed\"]\n"
    "        restrict: [rung == \"packed\" || bx == 16]\n"
    "    }\n"
    "    tuning_space {\n"
    "        bx: [16, 32, 64, 128]\n"
    "        by: [1, 2, 4, 8]\n"
    "        tile: [1, 2, 3] { when: rung == \"packed\" }\n"
    "        restrict: [bx * by >= 64, \"bx * by <= 256\", tile * bx <= 128]\n"
    "    }\n"
    "    trace_schema { variant T { case P { v: float } } }\n"
    "    engineering_loop All {\n"
    "        measure { cmd: \"true\", metric: \"v\" }\n"
    "    }\n"
    "    engineering_loop Own {\n"
    "        parameter bx\n"
    "        parameter by\n"
    "        measure { cmd: \"true\", metric: \"v\" }\n"
    "    }\n"
    "}\n";

/* The restrictions, by hand: digits (rung, bx, by, tile). */
static bool expected(size_t rung, size_t bx_i, size_t by_i, size_t tile_i, bool with_rung)
{
    static const int bxs[] = {16, 32, 64, 128}, bys[] = {1, 2, 4, 8};
    int bx = bxs[bx_i], by = bys[by_i], tile = (int)tile_i + 1;
    bool packed = rung == 1;
    if (with_rung && !packed && bx != 16)
        return false;
    if (bx * by < 64 || bx * by > 256)
        return false;
    if (with_rung && packed && tile * bx > 128)
        return false;
    return true;
}

static void test_all(const spak_loop_def *l)
{
    spak_space sp;
    spak_err err = {0};
    if (!TAP_OK(spak_space_init_loop(&sp, l, &err) == SPAK_OK && l->n_restricts == 4,
                "loop All: the space of both spaces' four restrictions (%zu) (%s)", l->n_restricts, err.msg))
        return;
    uint64_t want = 0;
    bool same = true;
    for (uint64_t i = 0; i < sp.total; i++) {
        size_t d[SPAK_SPACE_MAX_PARAMS];
        spak_space_digits(&sp, i, d);
        /* naive points have no tile: the one with tile's digit 0 stands for them */
        bool canon = d[0] == 1 || d[3] == 0;
        bool e = canon && expected(d[0], d[1], d[2], d[3], true);
        want += e;
        if (spak_space_exists(&sp, i) != e) {
            char key[256];
            spak_space_key(&sp, i, key, sizeof key);
            printf("# point %s: exists %d, expected %d\n", key, spak_space_exists(&sp, i), e);
            same = false;
        }
    }
    TAP_OK(same && sp.points == want && want > 0 && want < sp.total,
           "every point exists exactly when the restrictions hold (%llu of %llu; expected %llu)",
           (unsigned long long)sp.points, (unsigned long long)sp.total, (unsigned long long)want);
    uint64_t idx = 0;
    TAP_OK(spak_space_find(&sp, "rung=naive,bx=16,by=4", &idx) && spak_space_exists(&sp, idx),
           "a naive point: the tile restriction reads the absent tile and says nothing");
    TAP_OK(!spak_space_find(&sp, "rung=naive,bx=32,by=4", &idx) &&
               !spak_space_find(&sp, "rung=packed,bx=16,by=1,tile=1", &idx) &&
               !spak_space_find(&sp, "rung=packed,bx=128,by=1,tile=2", &idx),
           "keys of excluded points are not found (the external and llm strategies' proposals)");
    static const spak_strategy_kind kinds[] = {SPAK_STRAT_GRID, SPAK_STRAT_RANDOM, SPAK_STRAT_DEFAULT};
    static const char *const names[] = {"grid", "random", "default"};
    for (size_t k = 0; k < 3; k++) {
        spak_space_eval *done = calloc(sp.total, sizeof *done);
        size_t n = 0;
        bool all_ok = done != NULL, found = true;
        while (all_ok && found && n < sp.total) {
            uint64_t next = 0;
            if (spak_space_next(&sp, kinds[k], 7, done, n, &next, &found, &err) != SPAK_OK)
                all_ok = false;
            if (!found)
                break;
            all_ok = all_ok && spak_space_exists(&sp, next);
            done[n].index = next;
            done[n].score = (double)(next % 13);  /* some landscape for the climb */
            n++;
        }
        TAP_OK(all_ok && n == sp.points, "%s proposes only points that exist, each once, then stops (%zu of %llu)",
               names[k], n, (unsigned long long)sp.points);
        free(done);
    }
}

int main(void)
{
    spak_spec *s = NULL;
    spak_err err = {0};
    if (!TAP_OK(spak_spec_load_mem("r.spak", spec_text, sizeof spec_text - 1, &s, &err) == SPAK_OK,
                "the spec with restrictions checks (%s)", err.msg)) {
        return tap_done();
    }
    const spak_model *m = spak_spec_model(s);
    TAP_OK(m->n_restricts == 4, "four restrictions in the model, the string one parsed (%zu)", m->n_restricts);
    test_all(spak_model_loop(m, "All"));
    const spak_loop_def *own = spak_model_loop(m, "Own");
    spak_space sp = {0};
    bool built = own && spak_space_init_loop(&sp, own, &err) == SPAK_OK;
    TAP_OK(built && own->n_restricts == 2 && sp.points == 10 && sp.total == 16,
           "a loop of its own parameters (bx, by) keeps the two restrictions over them: 10 of 16 points (%llu)",
           (unsigned long long)sp.points);
    spak_spec_free(s);
    return tap_done();
}
