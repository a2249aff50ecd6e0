/* ------------------------------------------------------------------------------------------ */
/* AMX path: bf16 tiles with an n-way fp32 split (error-compensated products), fp32 accumulate */

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16,avx512bf16,avx512bw,avx512vl,avx512f")

typedef struct {
    uint8_t palette_id, start_row;
    uint8_t rsv[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) tilecfg_t;

typedef uint16_t bf16_t;

static inline __m256i cvt_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }
static inline __m512 bf16_f32(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* x = p0 + p1 (+ p2 when ns == 3) with each part bf16 */
static inline __attribute__((always_inline)) void split_parts(__m512 x, __m256i *p0, __m256i *p1, __m256i *p2,
                                                              const int ns)
{
    __m256i h = cvt_bf16(x);
    __m512 r = _mm512_sub_ps(x, bf16_f32(h));
    __m256i l = cvt_bf16(r);
    *p0 = h;
    *p1 = l;
    if (ns >= 3) *p2 = cvt_bf16(_mm512_sub_ps(r, bf16_f32(l)));
}

/* resumable softmax over the rows of one 32-row group (interleaved into tile work) */
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

/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<ns} A_i[32][32*nks] B_j[32*nks][32] */
static inline __attribute__((always_inline)) void amx_2x2(float *c, long ldc, int acc, const bf16_t *a, long lda,
                                                          long astride, const bf16_t *b, long bnb, long bstride,
                                                          int nks, const int ns, smx_t *st, int q)
{
    __asm__ volatile("" ::: "memory"); /* tile loads read memory the compiler cannot see */
    if (acc) {
        _tile_loadd(0, c, ldc * 4);
        _tile_loadd(1, c + 16, ldc * 4);
        _tile_loadd(2, c + 16 * ldc, ldc * 4);
        _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int ks = 0; ks < nks; ks++) {
        for (int i = 0; i < ns; i++) {
            const bf16_t *ai = a + i * astride + ks * 32;
            _tile_loadd(4, ai, lda * 2);
            _tile_loadd(5, ai + 16 * lda, lda * 2);
            for (int j = 0; j < ns - i; j++) {
                const bf16_t *bj = b + j * bstride + (long)ks * 512;
                _tile_loadd(6, bj, 64);
                _tile_loadd(7, bj + bnb, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
                if (st) smx_step(st, q);
            }
        }
    }
    _tile_stored(0, c, ldc * 4);
    _tile_stored(1, c + 16, ldc * 4);
    _tile_stored(2, c + 16 * ldc, ldc * 4);
    _tile_stored(3, c + 16 * ldc + 16, ldc * 4);
}

typedef struct {
    int Sp, Dp, nksd;
    long kps, vps, bnbK, bnbV; /* part strides and next-n-block offsets (bf16 elements) */
    long spf, spb;             /* row strides: fp32 scores, bf16 probabilities */
    bf16_t *Kp, *Vp, *Qa, *Pa, *tmp;
    float *Pf, *Of, *linv;
} abufs_t;

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u); }

/* K -> parts, B-tile layout [nb=Sp/16][ks=Dp/32][16 pairs][16 keys][2] */
static __attribute__((unused)) void amx_pack_k(const float *k, int S, int D, abufs_t *ab)
{
    const int Sp = ab->Sp, Dp = ab->Dp, nksd = ab->nksd;
    bf16_t *t0 = ab->tmp, *t1 = ab->tmp + Dp, *t2 = ab->tmp + 2 * Dp;
    for (int j = 0; j < Sp; j++) {
        for (int d = 0; d < Dp; d += 16) {
            __m512 x = _mm512_setzero_ps();
            if (j < S) x = _mm512_maskz_loadu_ps(tail_mask(D - d), k + (long)j * D + d);
            __m256i p0, p1, p2;
            split_parts(x, &p0, &p1, &p2, NSQ);
            _mm256_storeu_si256((__m256i *)(t0 + d), p0);
            _mm256_storeu_si256((__m256i *)(t1 + d), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(t2 + d), p2);
        }
        int nb = j >> 4, cc = j & 15;
        for (int i = 0; i < NSQ; i++) {
            const uint32_t *src = (const uint32_t *)(ab->tmp + i * Dp);
            uint32_t *dst = (uint32_t *)(ab->Kp + i * ab->kps) + (long)nb * nksd * 256 + cc;
            for (int pr = 0; pr < Dp / 2; pr++) dst[(long)pr * 16] = src[pr];
        }
    }
}

/* same layout, 16 keys at a time: split rows into tmp[part][16][Dp], then gather columns of pairs */
static __attribute__((unused)) void amx_pack_k_vec(const float *k, int S, int D, abufs_t *ab)
{
    const int Sp = ab->Sp, Dp = ab->Dp, nksd = ab->nksd;
    const long ts = 16L * Dp; /* part stride in tmp */
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(Dp / 2));
    for (int nb = 0; nb < Sp / 16; nb++) {
        for (int c = 0; c < 16; c++) {
            int j = nb * 16 + c;
            for (int d = 0; d < Dp; d += 16) {
                __m512 x = _mm512_setzero_ps();
                if (j < S) x = _mm512_maskz_loadu_ps(tail_mask(D - d), k + (long)j * D + d);
                __m256i p0, p1, p2;
                split_parts(x, &p0, &p1, &p2, NSQ);
                bf16_t *t = ab->tmp + (long)c * Dp + d;
                _mm256_storeu_si256((__m256i *)t, p0);
                _mm256_storeu_si256((__m256i *)(t + ts), p1);
                if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(t + 2 * ts), p2);
            }
        }
        __asm__ volatile("" ::: "memory");
        for (int i = 0; i < NSQ; i++) {
            const int *src = (const int *)(ab->tmp + i * ts);
            uint32_t *dst = (uint32_t *)(ab->Kp + i * ab->kps) + (long)nb * nksd * 256;
            for (int pr = 0; pr < Dp / 2; pr++)
                _mm512_store_si512((void *)(dst + (long)pr * 16), _mm512_i32gather_epi32(idx, src + pr, 4));
        }
    }
}

/* V -> parts, B-tile layout [nb=Dp/16][ks=Sp/32][16 key pairs][16 cols][2] */
static void amx_pack_v(const float *v, int S, int D, abufs_t *ab)
{
    const int Sp = ab->Sp, Dp = ab->Dp;
    const int nksv = Sp / 32;
    for (int k0 = 0; k0 < Sp; k0 += 2) {
        int ks = k0 >> 5, r = (k0 & 31) >> 1;
        for (int nb = 0; nb < Dp / 16; nb++) {
            int d = nb * 16;
            __mmask16 mk = tail_mask(D - d);
            __m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
            if (k0 < S) x0 = _mm512_maskz_loadu_ps(mk, v + (long)k0 * D + d);
            if (k0 + 1 < S) x1 = _mm512_maskz_loadu_ps(mk, v + (long)(k0 + 1) * D + d);
            __m256i a0, a1, a2, b0, b1, b2;
            split_parts(x0, &a0, &a1, &a2, NSP);
            split_parts(x1, &b0, &b1, &b2, NSP);
            long off = (((long)nb * nksv + ks) * 16 + r) * 32;
#define VIL(a, b) _mm512_or_si512(_mm512_cvtepu16_epi32(a), _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16))
            _mm512_store_si512((void *)(ab->Vp + off), VIL(a0, b0));
            _mm512_store_si512((void *)(ab->Vp + ab->vps + off), VIL(a1, b1));
            if (NSP >= 3) _mm512_store_si512((void *)(ab->Vp + 2 * ab->vps + off), VIL(a2, b2));
        }
    }
}

static void amx_block(const job_t *jb, abufs_t *ab, long bh, int i0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = ab->Dp;
    const float *q = jb->Q + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long spf = ab->spf, spb = ab->spb;
    const long qstride = (long)ABQ * Dp, pstride = (long)ABQ * spb;
    int nr = S - i0;
    if (nr > ABQ) nr = ABQ;
    int nm = (nr + 31) / 32;
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    const __m512 vqs = _mm512_set1_ps(qs);
    /* Q block -> scaled bf16 parts, rows [ABQ][Dp] */
    for (int r = 0; r < nm * 32; r++) {
        for (int d = 0; d < Dp; d += 16) {
            __m512 x = _mm512_setzero_ps();
            if (r < nr) x = _mm512_mul_ps(vqs, _mm512_maskz_loadu_ps(tail_mask(D - d), q + (long)(i0 + r) * D + d));
            __m256i p0, p1, p2;
            split_parts(x, &p0, &p1, &p2, NSQ);
            bf16_t *dst = ab->Qa + (long)r * Dp + d;
            _mm256_storeu_si256((__m256i *)dst, p0);
            _mm256_storeu_si256((__m256i *)(dst + qstride), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(dst + 2 * qstride), p2);
        }
    }
    int klim[ABQ / 32] = {0};
    for (int g = 0; g < nm; g++) {
        int e = S;
        if (causal) {
            e = i0 + g * 32 + 32;
            if (e > i0 + nr) e = i0 + nr;
        }
        klim[g] = (e + 31) & ~31;
    }
    int kmax = klim[nm - 1];
    /* pass 1: scores (log2 domain) */
    for (int n0 = 0; n0 < kmax; n0 += 32)
        for (int g = 0; g < nm; g++) {
            if (n0 >= klim[g]) continue;
            amx_2x2(ab->Pf + (long)g * 32 * spf + n0, spf, 0, ab->Qa + (long)g * 32 * Dp, Dp, qstride,
                    ab->Kp + (long)(n0 / 16) * ab->bnbK, ab->bnbK, ab->kps, ab->nksd, NSQ, NULL, 0);
        }
    /* pass 2: softmax -> bf16 parts (unnormalized), 1/l kept */
    for (int r = 0; r < nr; r++) {
        int n = causal ? i0 + r + 1 : S;
        int lim = klim[r / 32];
        const float *row = ab->Pf + (long)r * spf;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
        if (j < n) {
            __mmask16 mk = tail_mask(n - j);
            mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
        }
        __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sm = _mm512_setzero_ps();
        bf16_t *d0 = ab->Pa + (long)r * spb;
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
        ab->linv[r] = 1.0f / _mm512_reduce_add_ps(sm);
    }
    /* pass 3: O = P V, key chunks of KC */
    for (int kc = 0; kc < kmax; kc += KC)
        for (int g = 0; g < nm; g++) {
            int ke = kc + KC < klim[g] ? kc + KC : klim[g];
            if (ke <= kc) continue;
            for (int n0 = 0; n0 < Dp; n0 += 32)
                amx_2x2(ab->Of + (long)g * 32 * Dp + n0, Dp, kc > 0, ab->Pa + (long)g * 32 * spb + kc, spb,
                        pstride, ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                        (ke - kc) / 32, NSP, NULL, 0);
        }
    for (int r = 0; r < nr; r++) {
        float *dst = o + (long)(i0 + r) * D;
        const float *src = ab->Of + (long)r * Dp;
        __m512 li = _mm512_set1_ps(ab->linv[r]);
        for (int d = 0; d < D; d += 16)
            _mm512_mask_storeu_ps(dst + d, tail_mask(D - d), _mm512_mul_ps(_mm512_load_ps(src + d), li));
    }
}


/* ---- software-pipelined head (32-row groups): QK(g) tile blocks interleaved with softmax(g-1) rows,
 * so the AVX-512 softmax runs while the tile unit works; then PV(g-1). Buffers: Pf double-buffered. */
static void smx_step(smx_t *st, int q)
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

static __attribute__((unused)) void amx_head_pipe(const job_t *jb, abufs_t *ab, long bh)
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
    smx_t st;
    memset(&st, 0, sizeof st);
    for (int g = 0; g <= G; g++) {
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
            }
            if (g == 0) {
                prev_nr = nr, prev_lim = lim, prev_i0 = i0;
                continue;
            }
        }
        /* finish softmax of group g-1, then PV(g-1) and write its output */
        if (g == G) {
            st.pf = Pf[(g - 1) & 1], st.pa = ab->Pa, st.linv = ab->linv;
            st.spf = spf, st.spb = spb, st.pstride = pstride;
            st.nr = prev_nr, st.r = 0, st.j = 0, st.lim = prev_lim, st.causal = causal, st.i0 = prev_i0;
            st.S = S, st.inrow = 0;
        }
        smx_step(&st, 1 << 22);
        for (int kc = 0; kc < prev_lim; kc += KC) {
            int ke = kc + KC < prev_lim ? kc + KC : prev_lim;
            for (int n0 = 0; n0 < Dp; n0 += 32)
                amx_2x2(ab->Of + n0, Dp, kc > 0, ab->Pa + kc, spb, pstride,
                        ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                        (ke - kc) / 32, NSP, NULL, 0);
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

static void *aworker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, T = jb->T, tid = jb->tid;
    long nbh = (long)jb->B * jb->H;
    abufs_t ab;
    ab.Sp = (S + 31) & ~31;
    ab.Dp = (D + 31) & ~31;
    ab.nksd = ab.Dp / 32;
    ab.kps = (long)ab.Sp * ab.Dp;
    ab.vps = (long)ab.Sp * ab.Dp;
    ab.bnbK = (long)ab.nksd * 512;
    ab.bnbV = (long)(ab.Sp / 32) * 512;
    ab.spf = ab.Sp + 16;
    ab.spb = ab.Sp + 32;
    size_t nK = (size_t)NSQ * ab.kps, nV = (size_t)NSP * ab.vps, nQ = (size_t)NSQ * ABQ * ab.Dp,
           nPa = (size_t)NSP * ABQ * ab.spb, nT = (size_t)3 * 16 * ab.Dp;
    size_t nPf = (size_t)(ABQ > 64 ? ABQ : 64) * ab.spf, nOf = (size_t)ABQ * ab.Dp;
    size_t bytes = 2 * (nK + nV + nQ + nPa + nT) + 4 * (nPf + nOf + ABQ) + 8 * 64;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, bytes) != 0) {
        jb->rc = 3;
        return NULL;
    }
    char *p = (char *)mem;
#define TAKE(ptr, type, n)                                                                                     \
    ptr = (type *)p;                                                                                           \
    p += ((sizeof(type) * (n) + 63) & ~(size_t)63);
    TAKE(ab.Kp, bf16_t, nK)
    TAKE(ab.Vp, bf16_t, nV)
    TAKE(ab.Qa, bf16_t, nQ)
    TAKE(ab.Pa, bf16_t, nPa)
    TAKE(ab.tmp, bf16_t, nT)
    TAKE(ab.Pf, float, nPf)
    TAKE(ab.Of, float, nOf)
    TAKE(ab.linv, float, ABQ)
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    int nqb = (S + ABQ - 1) / ABQ;
    if (nbh % T == 0) {
        long per = nbh / T;
        for (long bh = tid * per; bh < (tid + 1) * per; bh++) {
            KPACK_FN(jb->K + bh * (long)S * D, S, D, &ab);
            amx_pack_v(jb->V + bh * (long)S * D, S, D, &ab);
#if PIPE
            amx_head_pipe(jb, &ab, bh);
#else
            for (int qb = 0; qb < nqb; qb++) amx_block(jb, &ab, bh, qb * ABQ);
#endif
        }
    } else {
        for (long bh = 0; bh < nbh; bh++) {
            int any = 0;
            for (int qb = 0; qb < nqb; qb++) {
                if ((qb + bh) % T != tid) continue;
                if (!any) {
                    KPACK_FN(jb->K + bh * (long)S * D, S, D, &ab);
                    amx_pack_v(jb->V + bh * (long)S * D, S, D, &ab);
                    any = 1;
                }
                amx_block(jb, &ab, bh, qb * ABQ);
            }
        }
    }
    _tile_release();
    free(mem);
    jb->rc = 0;
    return NULL;
}

#pragma GCC pop_options

static int amx_ready(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 24)) || !(d & (1u << 22))) return 0; /* AMX-TILE, AMX-BF16 */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    if (!(a & (1u << 5))) return 0; /* AVX512_BF16 */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0) return 0;
    return 1;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int use_amx = amx_ready();
    int T = NTHREADS;
    if (T <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        T = n > 0 ? (int)n : 1;
    }
    if (T > 64) T = 64;
    long nqb = (long)B * H * ((S + (use_amx ? ABQ : FBQ) - 1) / (use_amx ? ABQ : FBQ));
    if (T > nqb) T = (int)nqb;
    if (T < 1) T = 1;
    void *(*fn)(void *) = use_amx ? aworker : fworker;
    job_t jobs[64];
    pthread_t th[64];
    int started[64] = {0};
    for (int t = 0; t < T; t++) jobs[t] = (job_t){B, H, S, D, causal, Q, K, V, O, T, t, 0};
    for (int t = 1; t < T; t++) started[t] = pthread_create(&th[t], NULL, fn, &jobs[t]) == 0;
    fn(&jobs[0]);
    int rc = jobs[0].rc;
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            fn(&jobs[t]);
        if (jobs[t].rc) rc = jobs[t].rc;
    }
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16-split", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
