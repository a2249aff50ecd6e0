
/* ---- software-pipelined head (32-row groups): QK(g) tile blocks interleaved with softmax(g-1) rows,
 * so the AVX-512 softmax runs while the tile unit works; then PV(g-1). Buffers: Pf double-buffered. */
static inline void softmax_row(const abufs_t *ab, const float *row, bf16_t *d0, long pstride, int n, int lim,
                               float *linv)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
    if (j < n) {
        __mmask16 mk = tail_mask(n - j);
        mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
    }
    __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sm = _mm512_setzero_ps();
    (void)ab;
    for (j = 0; j < lim; j += 16) {
        __m512 e;
        if (j + 16 <= n) {
            e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), mv));
        } else if (j < n) {
            __mmask16 mk = tail_mask(n - j);
            e = _mm512_maskz_mov_ps(mk, exp2_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + j), mv)));
        } else {
            e = _mm512_setzero_ps();
        }
        sm = _mm512_add_ps(sm, e);
        __m256i p0, p1, p2;
        split_parts(e, &p0, &p1, &p2, NSP);
        _mm256_storeu_si256((__m256i *)(d0 + j), p0);
        _mm256_storeu_si256((__m256i *)(d0 + pstride + j), p1);
        if (NSP >= 3) _mm256_storeu_si256((__m256i *)(d0 + 2 * pstride + j), p2);
    }
    *linv = 1.0f / _mm512_reduce_add_ps(sm);
}

static void amx_head_pipe(const job_t *jb, abufs_t *ab, long bh)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = ab->Dp, Sp = ab->Sp;
    const float *q = jb->Q + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long spf = ab->spf, spb = ab->spb;
    const long qstride = (long)32 * Dp, pstride = (long)32 * spb;
    float *Pf[2] = {ab->Pf, ab->Pf + (long)32 * spf};
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    const __m512 vqs = _mm512_set1_ps(qs);
    const int G = (S + 31) / 32;
    int prev_nr = 0, prev_lim = 0, prev_i0 = 0;
    for (int g = 0; g <= G; g++) {
        int done = 0;
        if (g < G) {
            const int i0 = g * 32;
            int nr = S - i0 < 32 ? S - i0 : 32;
            for (int r = 0; r < 32; r++)
                for (int d = 0; d < Dp; d += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (r < nr)
                        x = _mm512_mul_ps(vqs, _mm512_maskz_loadu_ps(tail_mask(D - d), q + (long)(i0 + r) * D + d));
                    __m256i p0, p1, p2;
                    split_parts(x, &p0, &p1, &p2, NSQ);
                    bf16_t *dst = ab->Qa + (long)r * Dp + d;
                    _mm256_storeu_si256((__m256i *)dst, p0);
                    _mm256_storeu_si256((__m256i *)(dst + qstride), p1);
                    if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(dst + 2 * qstride), p2);
                }
            int lim = causal ? ((i0 + nr + 31) & ~31) : Sp;
            int nb = lim / 32;
            for (int t = 0; t < nb; t++) {
                amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                        ab->bnbK, ab->kps, ab->nksd, NSQ);
                if (g > 0) {
                    int target = (int)(((long)(t + 1) * prev_nr + nb - 1) / nb);
                    for (; done < target; done++) {
                        int r = done;
                        softmax_row(ab, Pf[(g - 1) & 1] + (long)r * spf, ab->Pa + (long)r * spb, pstride,
                                    causal ? prev_i0 + r + 1 : S, prev_lim, ab->linv + r);
                    }
                }
            }
            if (g == 0) {
                prev_nr = nr, prev_lim = lim, prev_i0 = i0;
                continue;
            }
        }
        /* finish softmax of group g-1, then PV(g-1) and write its output */
        for (; done < prev_nr; done++) {
            int r = done;
            softmax_row(ab, Pf[(g - 1) & 1] + (long)r * spf, ab->Pa + (long)r * spb, pstride,
                        causal ? prev_i0 + r + 1 : S, prev_lim, ab->linv + r);
        }
        for (int kc = 0; kc < prev_lim; kc += KC) {
            int ke = kc + KC < prev_lim ? kc + KC : prev_lim;
            for (int n0 = 0; n0 < Dp; n0 += 32)
                amx_2x2(ab->Of + n0, Dp, kc > 0, ab->Pa + kc, spb, pstride,
                        ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                        (ke - kc) / 32, NSP);
        }
        for (int r = 0; r < prev_nr; r++) {
            float *dst = o + (long)(prev_i0 + r) * D;
            const float *src = ab->Of + (long)r * Dp;
            __m512 li = _mm512_set1_ps(ab->linv[r]);
            for (int d = 0; d < D; d += 16)
                _mm512_mask_storeu_ps(dst + d, tail_mask(D - d), _mm512_mul_ps(_mm512_load_ps(src + d), li));
        }
        if (g < G) {
            const int i0 = g * 32;
            prev_nr = S - i0 < 32 ? S - i0 : 32;
            prev_lim = causal ? ((i0 + prev_nr + 31) & ~31) : Sp;
            prev_i0 = i0;
        }
    }
}

