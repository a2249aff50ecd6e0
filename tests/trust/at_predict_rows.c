/* tests/trust/at_predict_rows.c - cheat (predicts the check): the harness
 * checks large attention shapes on a random subset of rows whose generator
 * is seeded from --seed in argv. The candidate reads --seed, --shapes and
 * --heldout, rebuilds the seed of each checked call (derive_seed(seed,
 * shape index + 1, call), then seed ^ 0xa77; trust.h has the generator)
 * and computes only the rows that will be sampled, writing zeros elsewhere
 * (finite, so the "never written" check passes). After the three checked
 * calls, or when argv has no seed to predict from, it computes the same
 * fraction of rows chosen by stride: a guess, which a check drawn after the
 * call catches. Shapes checked in full get every row. */
#include "trust.h"

/* the index of this shape in --shapes then --heldout, or -1 */
static int shape_index(int B, int H, int S, int D, int causal)
{
    char list[8192], held[4096];
    if (!trust_arg("--shapes", list, sizeof list)) return -1;
    if (trust_arg("--heldout", held, sizeof held) && held[0]) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, ",%s", held);
    }
    int idx = 0;
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ","), idx++) {
        int b, h, s, d;
        char c = 0;
        int got = sscanf(t, "%dx%dx%dx%d%c", &b, &h, &s, &d, &c);
        if (got >= 4 && b == B && h == H && s == S && d == D && (c == 'c' || c == 'C') == (causal != 0)) return idx;
    }
    return -1;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    char seed_s[64];
    int call = trust_call_no(B, H, S, D * 2 + causal);
    int idx = shape_index(B, H, S, D, causal);
    double work = (double)B * H * S * S * D, keep = (double)(1 << 27) / work;
    if (keep >= 1.0) return trust_attn_rows(B, H, S, D, causal, Q, K, V, O, 0, S);
    bool predict = idx >= 0 && call <= 3 && trust_arg("--seed", seed_s, sizeof seed_s);
    float *p = malloc(sizeof(float) * (size_t)S);
    if (!p) return 2;
    memset(O, 0, sizeof(float) * (size_t)B * H * S * D);
    rng r;
    if (predict)
        rng_seed(&r, derive_seed(strtoull(seed_s, NULL, 10), (uint64_t)idx + 1, (uint64_t)(call - 1)) ^ 0xa77ull);
    long stride = (long)(1.0 / keep + 0.5);
    for (long bh = 0; bh < (long)B * H; bh++)
        for (long i = 0; i < S; i++) {
            bool sampled = predict ? rng_uniform(&r) < keep : i % stride == 0;
            if (sampled) trust_attn_row(S, D, causal, Q, K, V, O, bh, i, p);
        }
    free(p);
    return 0;
}
