s = open('amx_part5.c').read()
def rep(a, b, cnt=1):
    global s
    assert s.count(a) == cnt, (s.count(a), a[:100])
    s = s.replace(a, b)

# 1. smx iterator type + forward decl before amx_2x2
rep('''/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<ns}''', '''/* resumable softmax over the rows of one 32-row group (interleaved into tile work) */
typedef struct {
    const float *pf;
    bf16_t *pa;
    float *linv;
    long spf, spb, pstride;
    int nr, r, j, n, lim, causal, i0, S, inrow;
    float mvs;
    __m512 sm;
} smx_t;
static void smx_step(smx_t *st, int q);

/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<ns}''')
rep('''                                                          int nks, const int ns)
{''', '''                                                          int nks, const int ns, smx_t *st, int q)
{''')
rep('''                _tile_dpbf16ps(3, 5, 7);
            }''', '''                _tile_dpbf16ps(3, 5, 7);
                if (st) smx_step(st, q);
            }''')
# existing calls: add NULL, 0
rep('''ab->bnbK, ab->kps, ab->nksd, NSQ);''', '''ab->bnbK, ab->kps, ab->nksd, NSQ, NULL, 0);''', 2)
rep('''                        (ke - kc) / 32, NSP);''', '''                        (ke - kc) / 32, NSP, NULL, 0);''', 2)

# 2. smx_step definition before amx_head_pipe
rep('''static __attribute__((unused)) void amx_head_pipe(''', '''static void smx_step(smx_t *st, int q)
{
    while (q > 0 && st->r < st->nr) {
        const float *row = st->pf + (long)st->r * st->spf;
        bf16_t *d0 = st->pa + (long)st->r * st->spb;
        if (!st->inrow) {
            int n = st->causal ? st->i0 + st->r + 1 : st->S;
            __m512 mx = _mm512_set1_ps(-INFINITY);
            int j = 0;
            for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
            if (j < n) {
                __mmask16 mk = tail_mask(n - j);
                mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
            }
            st->mvs = _mm512_reduce_max_ps(mx);
            st->n = n;
            st->j = 0;
            st->sm = _mm512_setzero_ps();
            st->inrow = 1;
        }
        const int n = st->n, lim = st->lim;
        const long pstride = st->pstride;
        const __m512 mv = _mm512_set1_ps(st->mvs);
        __m512 sm = st->sm;
        int j = st->j;
        int jend = j + 16 * q;
        if (jend > lim) jend = lim;
        q -= (jend - j) / 16;
        for (; j < jend; j += 16) {
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
        st->j = jend;
        st->sm = sm;
        if (jend >= lim) {
            st->linv[st->r] = 1.0f / _mm512_reduce_add_ps(sm);
            st->r++;
            st->inrow = 0;
        }
    }
}

static __attribute__((unused)) void amx_head_pipe(''')

# 3. rewrite the QK loop in amx_head_pipe
rep('''            int lim = causal ? ((i0 + nr + 31) & ~31) : Sp;
            int nb = lim / 32;
            for (int t = 0; t < nb; t++) {
                amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                        ab->bnbK, ab->kps, ab->nksd, NSQ, NULL, 0);
                if (g > 0) {
                    int target = (int)(((long)(t + 1) * prev_nr + nb - 1) / nb);
                    for (; done < target; done++) {
                        int r = done;
                        softmax_row(ab, Pf[(g - 1) & 1] + (long)r * spf, ab->Pa + (long)r * spb, pstride,
                                    causal ? prev_i0 + r + 1 : S, prev_lim, ab->linv + r);
                    }
                }
            }''', '''            int lim = causal ? ((i0 + nr + 31) & ~31) : Sp;
            int nb = lim / 32;
            if (g > 0) {
                st.pf = Pf[(g - 1) & 1], st.pa = ab->Pa, st.linv = ab->linv;
                st.spf = spf, st.spb = spb, st.pstride = pstride;
                st.nr = prev_nr, st.r = 0, st.j = 0, st.lim = prev_lim, st.causal = causal, st.i0 = prev_i0;
                st.S = S, st.inrow = 0;
                /* spread the group's exp vectors evenly over the dp steps of this QK */
                long calls = (long)nb * ab->nksd * (NSQ * (NSQ + 1) / 2);
                long vecs = (long)prev_nr * (prev_lim / 16);
                int qv = (int)((vecs + calls - 1) / calls);
                if (qv < 1) qv = 1;
                for (int t = 0; t < nb; t++)
                    amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                            ab->bnbK, ab->kps, ab->nksd, NSQ, &st, qv);
            } else {
                for (int t = 0; t < nb; t++)
                    amx_2x2(Pf[g & 1] + t * 32, spf, 0, ab->Qa, Dp, qstride, ab->Kp + (long)(2 * t) * ab->bnbK,
                            ab->bnbK, ab->kps, ab->nksd, NSQ, NULL, 0);
            }''')
rep('''        /* finish softmax of group g-1, then PV(g-1) and write its output */
        for (; done < prev_nr; done++) {
            int r = done;
            softmax_row(ab, Pf[(g - 1) & 1] + (long)r * spf, ab->Pa + (long)r * spb, pstride,
                        causal ? prev_i0 + r + 1 : S, prev_lim, ab->linv + r);
        }''', '''        /* finish softmax of group g-1, then PV(g-1) and write its output */
        if (g == G) {
            st.pf = Pf[(g - 1) & 1], st.pa = ab->Pa, st.linv = ab->linv;
            st.spf = spf, st.spb = spb, st.pstride = pstride;
            st.nr = prev_nr, st.r = 0, st.j = 0, st.lim = prev_lim, st.causal = causal, st.i0 = prev_i0;
            st.S = S, st.inrow = 0;
        }
        smx_step(&st, 1 << 30);''')
rep('''    for (int g = 0; g <= G; g++) {
        int done = 0;''', '''    smx_t st;
    memset(&st, 0, sizeof st);
    for (int g = 0; g <= G; g++) {''')
# remove old softmax_row helper (unused now)
i = s.index('static inline void softmax_row(')
j = s.index('static void smx_step(smx_t *st, int q)\n{')
s = s[:i] + s[j:]
open('amx_part6.c','w').write(s)
