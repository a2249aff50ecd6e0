#define MR 6
#define KB 64


typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int T, tid, rc;
} job_t;

/* 2^x for finite x <= 0 (scalef flushes very negative exponents to 0); Taylor degree 6 */
static inline __m512 exp2_ps(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-04f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 6 rows x 64 keys: p[r][0..64) = sum_d qb[r][d] * kp[d][0..64) */
static inline void qk_micro(const float *restrict qb, int D, const float *restrict kp, float *restrict p,
                            long sp)
{
#define QKDECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0;
    QKDECL(0) QKDECL(1) QKDECL(2) QKDECL(3) QKDECL(4) QKDECL(5)
    const float *q0 = qb, *q1 = qb + D, *q2 = qb + 2 * D, *q3 = qb + 3 * D, *q4 = qb + 4 * D, *q5 = qb + 5 * D;
    for (int d = 0; d < D; d++) {
        const float *k = kp + (long)d * KB;
        __m512 k0 = _mm512_load_ps(k), k1 = _mm512_load_ps(k + 16), k2 = _mm512_load_ps(k + 32),
               k3 = _mm512_load_ps(k + 48);
#define QKROW(r)                                                                                               \
    {                                                                                                          \
        __m512 b = _mm512_set1_ps(q##r[d]);                                                                    \
        a##r##0 = _mm512_fmadd_ps(b, k0, a##r##0);                                                             \
        a##r##1 = _mm512_fmadd_ps(b, k1, a##r##1);                                                             \
        a##r##2 = _mm512_fmadd_ps(b, k2, a##r##2);                                                             \
        a##r##3 = _mm512_fmadd_ps(b, k3, a##r##3);                                                             \
    }
        QKROW(0) QKROW(1) QKROW(2) QKROW(3) QKROW(4) QKROW(5)
    }
#define QKST(r)                                                                                                \
    _mm512_storeu_ps(p + r * sp, a##r##0);                                                                     \
    _mm512_storeu_ps(p + r * sp + 16, a##r##1);                                                                \
    _mm512_storeu_ps(p + r * sp + 32, a##r##2);                                                                \
    _mm512_storeu_ps(p + r * sp + 48, a##r##3);
    QKST(0) QKST(1) QKST(2) QKST(3) QKST(4) QKST(5)
}

/* 6 rows x 64 cols: ob[r][0..64) += sum_{j in [j0,j1)} p[r][j] * v[j][0..64) */
static inline void pv_micro(const float *restrict p, long sp, const float *restrict v, int D, int j0, int j1,
                            float *restrict ob, long so, __mmask16 m0, __mmask16 m1, __mmask16 m2,
                            __mmask16 m3)
{
#define PVDECL(r)                                                                                              \
    __m512 c##r##0 = _mm512_load_ps(ob + r * so), c##r##1 = _mm512_load_ps(ob + r * so + 16),                  \
           c##r##2 = _mm512_load_ps(ob + r * so + 32), c##r##3 = _mm512_load_ps(ob + r * so + 48);
    PVDECL(0) PVDECL(1) PVDECL(2) PVDECL(3) PVDECL(4) PVDECL(5)
    const float *p0 = p, *p1 = p + sp, *p2 = p + 2 * sp, *p3 = p + 3 * sp, *p4 = p + 4 * sp, *p5 = p + 5 * sp;
    for (int j = j0; j < j1; j++) {
        const float *vr = v + (long)j * D;
        __m512 v0 = _mm512_maskz_loadu_ps(m0, vr), v1 = _mm512_maskz_loadu_ps(m1, vr + 16),
               v2 = _mm512_maskz_loadu_ps(m2, vr + 32), v3 = _mm512_maskz_loadu_ps(m3, vr + 48);
#define PVROW(r)                                                                                               \
    {                                                                                                          \
        __m512 b = _mm512_set1_ps(p##r[j]);                                                                    \
        c##r##0 = _mm512_fmadd_ps(b, v0, c##r##0);                                                             \
        c##r##1 = _mm512_fmadd_ps(b, v1, c##r##1);                                                             \
        c##r##2 = _mm512_fmadd_ps(b, v2, c##r##2);                                                             \
        c##r##3 = _mm512_fmadd_ps(b, v3, c##r##3);                                                             \
    }
        PVROW(0) PVROW(1) PVROW(2) PVROW(3) PVROW(4) PVROW(5)
    }
#define PVST(r)                                                                                                \
    _mm512_store_ps(ob + r * so, c##r##0);                                                                     \
    _mm512_store_ps(ob + r * so + 16, c##r##1);                                                                \
    _mm512_store_ps(ob + r * so + 32, c##r##2);                                                                \
    _mm512_store_ps(ob + r * so + 48, c##r##3);
    PVST(0) PVST(1) PVST(2) PVST(3) PVST(4) PVST(5)
}

static inline __mmask16 chunk_mask(int rem, int v)
{
    int n = rem - v * 16;
    if (n >= 16) return (__mmask16)0xFFFF;
    if (n <= 0) return 0;
    return (__mmask16)((1u << n) - 1u);
}

static void pack_k(const float *k, int S, int D, float *kp)
{
    int nkb = (S + KB - 1) / KB;
    for (int kb = 0; kb < nkb; kb++) {
        float *dst = kp + (long)kb * D * KB;
        int jn = S - kb * KB;
        if (jn > KB) jn = KB;
        if (jn < KB) memset(dst, 0, sizeof(float) * (size_t)D * KB);
        for (int jj = 0; jj < jn; jj++) {
            const float *src = k + (long)(kb * KB + jj) * D;
            for (int d = 0; d < D; d++) dst[(long)d * KB + jj] = src[d];
        }
    }
}

typedef struct {
    float *Kp, *P, *Qb, *Ob, *linv;
    long sp, so;
} bufs_t;

static void do_block(const job_t *jb, bufs_t *bf, long bh, int i0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float *q = jb->Q + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long sp = bf->sp, so = bf->so;
    float *P = bf->P, *Qb = bf->Qb, *Ob = bf->Ob, *linv = bf->linv;
    const float *Kp = bf->Kp;
    int nr = S - i0;
    if (nr > FBQ) nr = FBQ;
    int nmicro = (nr + MR - 1) / MR;
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    for (int r = 0; r < nmicro * MR; r++) {
        float *dst = Qb + (long)r * D;
        if (r < nr) {
            const float *src = q + (long)(i0 + r) * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] * qs;
        } else
            memset(dst, 0, sizeof(float) * (size_t)D);
    }
    int klim = causal ? (i0 + nr) : S;
    int mlim[FBQ / MR];
    for (int m = 0; m < nmicro; m++) {
        int e = i0 + m * MR + MR;
        if (e > i0 + nr) e = i0 + nr;
        mlim[m] = causal ? e : S;
    }
    /* pass 1: scores */
    for (int kt = 0; kt < klim; kt += FBK) {
        int kte = kt + FBK < klim ? kt + FBK : klim;
        for (int m = 0; m < nmicro; m++) {
            int je = kte < mlim[m] ? kte : mlim[m];
            for (int j0 = kt; j0 < je; j0 += KB)
                qk_micro(Qb + (long)m * MR * D, D, Kp + (long)(j0 / KB) * D * KB, P + (long)m * MR * sp + j0, sp);
        }
    }
    /* pass 2: softmax (unnormalized; 1/l kept) */
    for (int r = 0; r < nr; r++) {
        int n = causal ? i0 + r + 1 : S;
        int lim = mlim[r / MR];
        float *row = P + (long)r * sp;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
        }
        __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sm = _mm512_setzero_ps();
        j = 0;
        for (; j + 16 <= n; j += 16) {
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), mv));
            sm = _mm512_add_ps(sm, e);
            _mm512_storeu_ps(row + j, e);
        }
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + j), mv));
            e = _mm512_maskz_mov_ps(mk, e);
            sm = _mm512_add_ps(sm, e);
            _mm512_storeu_ps(row + j, e); /* zeros j >= n within this vector */
            j += 16;
        }
        for (; j < lim; j++) row[j] = 0.0f;
        linv[r] = 1.0f / _mm512_reduce_add_ps(sm);
    }
    /* pass 3: O = P V */
    int nch = (D + 63) / 64;
    memset(Ob, 0, sizeof(float) * (size_t)nmicro * MR * so);
    for (int kt = 0; kt < klim; kt += FBK) {
        int kte = kt + FBK < klim ? kt + FBK : klim;
        for (int m = 0; m < nmicro; m++) {
            int je = kte < mlim[m] ? kte : mlim[m];
            if (je <= kt) continue;
            for (int c = 0; c < nch; c++) {
                int rem = D - c * 64;
                pv_micro(P + (long)m * MR * sp, sp, v + c * 64, D, kt, je, Ob + (long)m * MR * so + c * 64, so,
                         chunk_mask(rem, 0), chunk_mask(rem, 1), chunk_mask(rem, 2), chunk_mask(rem, 3));
            }
        }
    }
    for (int r = 0; r < nr; r++) {
        float *dst = o + (long)(i0 + r) * D;
        const float *src = Ob + (long)r * so;
        __m512 li = _mm512_set1_ps(linv[r]);
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(dst + d, _mm512_mul_ps(_mm512_load_ps(src + d), li));
        if (d < D) {
            __mmask16 mk = (__mmask16)((1u << (D - d)) - 1u);
            _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_load_ps(src + d), li));
        }
    }
}

static void *fworker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, T = jb->T, tid = jb->tid;
    long nbh = (long)jb->B * jb->H;
    int nkb = (S + KB - 1) / KB;
    long spad = (long)nkb * KB + FBK;
    bufs_t bf;
    bf.sp = spad + 16;
    bf.so = (long)((D + 63) / 64) * 64;
    void *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    int ok = posix_memalign(&a, 64, sizeof(float) * (size_t)nkb * KB * D + 64) == 0;
    ok &= posix_memalign(&b, 64, sizeof(float) * (size_t)FBQ * bf.sp + 64) == 0;
    ok &= posix_memalign(&c, 64, sizeof(float) * (size_t)FBQ * D + 64) == 0;
    ok &= posix_memalign(&d, 64, sizeof(float) * (size_t)FBQ * bf.so + 64) == 0;
    float linv[FBQ];
    if (!ok) {
        free(a), free(b), free(c), free(d);
        jb->rc = 3;
        return NULL;
    }
    bf.Kp = a, bf.P = b, bf.Qb = c, bf.Ob = d, bf.linv = linv;
    int nqb = (S + FBQ - 1) / FBQ;
    if (nbh % T == 0) {
        long per = nbh / T;
        for (long bh = tid * per; bh < (tid + 1) * per; bh++) {
            pack_k(jb->K + bh * (long)S * D, S, D, bf.Kp);
            for (int qb = 0; qb < nqb; qb++) do_block(jb, &bf, bh, qb * FBQ);
        }
    } else {
        for (long bh = 0; bh < nbh; bh++) {
            int any = 0;
            for (int qb = 0; qb < nqb; qb++) {
                if ((qb + bh) % T != tid) continue;
                if (!any) pack_k(jb->K + bh * (long)S * D, S, D, bf.Kp), any = 1;
                do_block(jb, &bf, bh, qb * FBQ);
            }
        }
    }
    free(a), free(b), free(c), free(d);
    jb->rc = 0;
    return NULL;
}

