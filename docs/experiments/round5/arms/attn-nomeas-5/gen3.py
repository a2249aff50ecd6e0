s = open('amx_part.c').read()
R = []
def rep(a, b):
    global s
    assert a in s, a[:80]
    s = s.replace(a, b)
rep('''/* x = p0 + p1 (+ p2) with each part bf16 */
static inline void split_parts(__m512 x, __m256i *p0, __m256i *p1, __m256i *p2)
{
    __m256i h = cvt_bf16(x);
    __m512 r = _mm512_sub_ps(x, bf16_f32(h));
    __m256i l = cvt_bf16(r);
    *p0 = h;
    *p1 = l;
#if NSPLIT >= 3
    *p2 = cvt_bf16(_mm512_sub_ps(r, bf16_f32(l)));
#else
    (void)p2;
#endif
}''', '''/* x = p0 + p1 (+ p2 when ns == 3) with each part bf16 */
static inline __attribute__((always_inline)) void split_parts(__m512 x, __m256i *p0, __m256i *p1, __m256i *p2,
                                                              const int ns)
{
    __m256i h = cvt_bf16(x);
    __m512 r = _mm512_sub_ps(x, bf16_f32(h));
    __m256i l = cvt_bf16(r);
    *p0 = h;
    *p1 = l;
    if (ns >= 3) *p2 = cvt_bf16(_mm512_sub_ps(r, bf16_f32(l)));
}''')
rep('''/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<NSPLIT} A_i[32][32*nks] B_j[32*nks][32] */
static inline void amx_2x2(float *c, long ldc, int acc, const bf16_t *a, long lda, long astride,
                           const bf16_t *b, long bnb, long bstride, int nks)''','''/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<ns} A_i[32][32*nks] B_j[32*nks][32] */
static inline __attribute__((always_inline)) void amx_2x2(float *c, long ldc, int acc, const bf16_t *a, long lda,
                                                          long astride, const bf16_t *b, long bnb, long bstride,
                                                          int nks, const int ns)''')
rep('''        for (int i = 0; i < NSPLIT; i++) {
            const bf16_t *ai''','''        for (int i = 0; i < ns; i++) {
            const bf16_t *ai''')
rep('for (int j = 0; j < NSPLIT - i; j++) {','for (int j = 0; j < ns - i; j++) {')
rep('''            split_parts(x, &p0, &p1, &p2);
            _mm256_storeu_si256((__m256i *)(t0 + d), p0);
            _mm256_storeu_si256((__m256i *)(t1 + d), p1);
#if NSPLIT >= 3
            _mm256_storeu_si256((__m256i *)(t2 + d), p2);
#else
            (void)t2;
#endif''','''            split_parts(x, &p0, &p1, &p2, NSQ);
            _mm256_storeu_si256((__m256i *)(t0 + d), p0);
            _mm256_storeu_si256((__m256i *)(t1 + d), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(t2 + d), p2);''')
rep('''        for (int i = 0; i < NSPLIT; i++) {
            const uint32_t *src''','''        for (int i = 0; i < NSQ; i++) {
            const uint32_t *src''')
rep('''            split_parts(x0, &a0, &a1, &a2);
            split_parts(x1, &b0, &b1, &b2);''','''            split_parts(x0, &a0, &a1, &a2, NSP);
            split_parts(x1, &b0, &b1, &b2, NSP);''')
rep('''#if NSPLIT >= 3
            _mm512_store_si512((void *)(ab->Vp + 2 * ab->vps + off), VIL(a2, b2));
#else
            (void)a2, (void)b2;
#endif''','''            if (NSP >= 3) _mm512_store_si512((void *)(ab->Vp + 2 * ab->vps + off), VIL(a2, b2));''')
rep('''            split_parts(x, &p0, &p1, &p2);
            bf16_t *dst = ab->Qa + (long)r * Dp + d;
            _mm256_storeu_si256((__m256i *)dst, p0);
            _mm256_storeu_si256((__m256i *)(dst + qstride), p1);
#if NSPLIT >= 3
            _mm256_storeu_si256((__m256i *)(dst + 2 * qstride), p2);
#endif''','''            split_parts(x, &p0, &p1, &p2, NSQ);
            bf16_t *dst = ab->Qa + (long)r * Dp + d;
            _mm256_storeu_si256((__m256i *)dst, p0);
            _mm256_storeu_si256((__m256i *)(dst + qstride), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(dst + 2 * qstride), p2);''')
rep('''            split_parts(e, &p0, &p1, &p2);
            _mm256_storeu_si256((__m256i *)(d0 + j), p0);
            _mm256_storeu_si256((__m256i *)(d0 + pstride + j), p1);
#if NSPLIT >= 3
            _mm256_storeu_si256((__m256i *)(d0 + 2 * pstride + j), p2);
#endif''','''            split_parts(e, &p0, &p1, &p2, NSP);
            _mm256_storeu_si256((__m256i *)(d0 + j), p0);
            _mm256_storeu_si256((__m256i *)(d0 + pstride + j), p1);
            if (NSP >= 3) _mm256_storeu_si256((__m256i *)(d0 + 2 * pstride + j), p2);''')
rep('''                    ab->Kp + (long)(n0 / 16) * ab->bnbK, ab->bnbK, ab->kps, ab->nksd);''','''                    ab->Kp + (long)(n0 / 16) * ab->bnbK, ab->bnbK, ab->kps, ab->nksd, NSQ);''')
rep('''                        (ke - kc) / 32);''','''                        (ke - kc) / 32, NSP);''')
rep('''    size_t nK = (size_t)NSPLIT * ab.kps, nV = (size_t)NSPLIT * ab.vps, nQ = (size_t)NSPLIT * ABQ * ab.Dp,
           nPa = (size_t)NSPLIT * ABQ * ab.spb, nT = (size_t)3 * ab.Dp;''','''    size_t nK = (size_t)NSQ * ab.kps, nV = (size_t)NSP * ab.vps, nQ = (size_t)NSQ * ABQ * ab.Dp,
           nPa = (size_t)NSP * ABQ * ab.spb, nT = (size_t)3 * ab.Dp;''')
assert 'NSPLIT' not in s, [l for l in s.split('\n') if 'NSPLIT' in l]
open('amx_part3.c','w').write(s)

h = open('head_part.c').read()
s = h
rep('''#ifndef NSPLIT
#define NSPLIT 2
#endif''','''#ifndef NSP
#define NSP 2 /* bf16 parts of P and V (PV product): 2 -> 3 products */
#endif
#define NSQ 3 /* bf16 parts of Q and K (scores feed exp2: need ~fp32) -> 6 products */''')
rep('''#if NSPLIT < 2 || NSPLIT > 3
#error "NSPLIT must be 2 or 3"
#endif''','''#if NSP < 2 || NSP > 3
#error "NSP must be 2 or 3"
#endif''')

assert 'NSPLIT' not in s
open('head_part3.c','w').write(s)

s = open('fallback.inc.c').read()
rep('''static inline __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381606e-04f));''', '''/* 2^x for finite x <= 0 (scalef flushes very negative exponents to 0); Taylor degree 6 */
static inline __m512 exp2_ps(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-04f);''')
open('fallback3.inc.c','w').write(s)
