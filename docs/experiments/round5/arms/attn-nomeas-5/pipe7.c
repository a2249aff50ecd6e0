static __attribute__((unused)) void amx_head_pipe(const job_t *jb, abufs_t *ab, long bh)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = ab->Dp, Sp = ab->Sp;
    const float *q = jb->Q + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long spf = ab->spf, spb = ab->spb;
    const long qstride = (long)32 * Dp, pstride = (long)32 * spb;
    float *Pf[2] = {ab->Pf, ab->Pf + (long)32 * spf};
    bf16_t *Pa[2] = {ab->Pa, ab->Pa + (long)NSP * 32 * spb};
    float *Li[2] = {ab->linv, ab->linv + 32};
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    const __m512 vqs = _mm512_set1_ps(qs);
    const int G = (S + 31) / 32;
#define GNR(g) (S - 32 * (g) < 32 ? S - 32 * (g) : 32)
#define GLIM(g) (causal ? ((32 * (g) + GNR(g) + 31) & ~31) : Sp)
    smx_t st;
    memset(&st, 0, sizeof st);
    /* iteration g: QK(g) and PV(g-2) on the tile unit, softmax(g-1) interleaved with both */
    for (int g = 0; g <= G + 1; g++) {
        smx_t *sp = NULL;
        int qv = 0;
        if (g >= 1 && g - 1 < G) {
            const int h = g - 1;
            st.pf = Pf[h & 1], st.pa = Pa[h & 1], st.linv = Li[h & 1];
            st.spf = spf, st.spb = spb, st.pstride = pstride;
            st.nr = GNR(h), st.r = 0, st.j = 0, st.lim = GLIM(h), st.causal = causal, st.i0 = 32 * h;
            st.S = S, st.inrow = 0;
            long calls = 0;
            if (g < G) calls += (long)(GLIM(g) / 32) * ab->nksd * (NSQ * (NSQ + 1) / 2);
            if (g >= 2) calls += (long)(GLIM(g - 2) / 32) * (Dp / 32) * (NSP * (NSP + 1) / 2);
            long vecs = (long)st.nr * (st.lim / 16);
            if (calls > 0) {
                qv = (int)((vecs + calls - 1) / calls);
                if (qv < 1) qv = 1;
                sp = &st;
            }
        }
        if (g < G) {
            const int i0 = g * 32, nr = GNR(g);
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
            const int nb = GLIM(g) / 32;
            if (sp) {
                for (int t = 0; t < nb; t++)
                    amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                            ab->bnbK, ab->kps, ab->nksd, NSQ, sp, qv);
            } else {
                for (int t = 0; t < nb; t++)
                    amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                            ab->bnbK, ab->kps, ab->nksd, NSQ, NULL, 0);
            }
        }
        if (g >= 2) {
            const int h = g - 2, lim = GLIM(h), nr = GNR(h);
            const bf16_t *pa = Pa[h & 1];
            for (int kc = 0; kc < lim; kc += KC) {
                int ke = kc + KC < lim ? kc + KC : lim;
                for (int n0 = 0; n0 < Dp; n0 += 32) {
                    if (sp)
                        amx_2x2(ab->Of + n0, Dp, kc > 0, pa + kc, spb, pstride,
                                ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                                (ke - kc) / 32, NSP, sp, qv);
                    else
                        amx_2x2(ab->Of + n0, Dp, kc > 0, pa + kc, spb, pstride,
                                ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                                (ke - kc) / 32, NSP, NULL, 0);
                }
            }
            const float *lv = Li[h & 1];
            for (int r = 0; r < nr; r++) {
                float *dst = o + (long)(32 * h + r) * D;
                const float *src = ab->Of + (long)r * Dp;
                __m512 li = _mm512_set1_ps(lv[r]);
                for (int d = 0; d < D; d += 16)
                    _mm512_mask_storeu_ps(dst + d, tail_mask(D - d), _mm512_mul_ps(_mm512_load_ps(src + d), li));
            }
        }
        if (g >= 1 && g - 1 < G) smx_step(&st, 1 << 22); /* finish softmax(g-1) */
    }
#undef GNR
#undef GLIM
}

