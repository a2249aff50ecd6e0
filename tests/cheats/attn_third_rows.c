/* tests/cheats/attn_third_rows.c - cheat: attention that is correct on the
 * first 3 calls of each shape, then computes only every third query row and
 * copies that row's output into the next two (finite, plausible values), so
 * only a check of rows drawn after the call catches it. */
#include <math.h>
#include <string.h>
#include "../../kernels/cpu/attention/abi.h"

static int seen[5], calls;

static void row(int S, int D, int causal, const float *q, const float *k, const float *v, float *o, int i)
{
    float p[4096], m = -INFINITY, l = 0.0f, scale = 1.0f / sqrtf((float)D);
    int n = causal ? i + 1 : S;
    for (int j = 0; j < n; j++) {
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[(long)i * D + d] * k[(long)j * D + d];
        p[j] = s * scale;
        m = p[j] > m ? p[j] : m;
    }
    for (int j = 0; j < n; j++) l += p[j] = expf(p[j] - m);
    for (int d = 0; d < D; d++) {
        float s = 0.0f;
        for (int j = 0; j < n; j++) s += p[j] * v[(long)j * D + d];
        o[(long)i * D + d] = s / l;
    }
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (S > 4096 || D > SPAK_ATTN_MAX_D) return 1;
    int now[5] = {B, H, S, D, causal};
    if (memcmp(now, seen, sizeof now)) memcpy(seen, now, sizeof now), calls = 0;
    int step = ++calls > 3 ? 3 : 1;
    for (long bh = 0; bh < (long)B * H; bh++) {
        const float *q = Q + bh * S * D, *k = K + bh * S * D, *v = V + bh * S * D;
        float *o = O + bh * S * D;
        for (int i = 0; i < S; i++) {
            if (i % step == 0)
                row(S, D, causal, q, k, v, o, i);
            else
                memcpy(o + (long)i * D, o + (long)(i - 1) * D, sizeof(float) * (size_t)D);
        }
    }
    return 0;
}
