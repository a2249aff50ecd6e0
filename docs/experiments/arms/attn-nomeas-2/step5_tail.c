
typedef struct {
    ctx_t *c;
    int tid;
} targ_t;

static size_t rup64(size_t x) { return (x + 63) / 64 * 64; }

static void *worker(void *arg)
{
    targ_t *ta = (targ_t *)arg;
    ctx_t *c = ta->c;
    const int S = c->S, D = c->D, Sp = c->Sp;
#ifdef HAVE_AMX
    const int use_amx = c->amx && HYB && ta->tid == 1;
#else
    const int use_amx = 0;
#endif
    char *mem = NULL;
    long cur = -1;
    void *ret = NULL;
    if (!use_amx) {
        size_t sz_kt = rup64((size_t)Sp * D * 4);
        size_t sz_vp = (D % 16) ? rup64((size_t)S * c->Dp * 4) : 0;
        size_t sz_s = rup64((size_t)BLK * (Sp + 16) * 4);
        size_t sz_l = rup64((size_t)BLK * 4);
        mem = aligned_alloc(64, sz_kt + sz_vp + sz_s + sz_l);
        if (!mem) return (void *)1;
        float *kt = (float *)mem;
        float *vp = sz_vp ? (float *)(mem + sz_kt) : NULL;
        float *sbuf = (float *)(mem + sz_kt + sz_vp);
        float *invl = (float *)(mem + sz_kt + sz_vp + sz_s);
        for (;;) {
            long t = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
            if (t >= c->items) break;
            long bh = t / c->nblk;
            int qb = c->nblk - 1 - (int)(t % c->nblk);
            if (bh != cur) {
                avx_pack_head(c, bh, kt, vp);
                cur = bh;
            }
            avx_block(c, bh, qb, kt, vp, sbuf, invl);
        }
    }
#ifdef HAVE_AMX
    else {
        size_t nkv = (size_t)Sp * 3 * D / 2;
        size_t sz_kv = rup64(nkv * 4);
        size_t sz_tmp = rup64((size_t)3 * 16 * D / 2 * 4);
        size_t sz_qb = rup64((size_t)BLK * 3 * D * 2);
        size_t sz_pb = rup64((size_t)3 * BLK * (Sp + 32) * 2);
        size_t sz_s = rup64((size_t)BLK * (Sp + 16) * 4);
        size_t sz_o = rup64((size_t)BLK * D * 4);
        size_t sz_l = rup64((size_t)BLK * 4);
        mem = aligned_alloc(64, 2 * sz_kv + sz_tmp + sz_qb + sz_pb + sz_s + sz_o + sz_l);
        if (!mem) return (void *)1;
        abufs_t bf;
        char *m = mem;
        bf.kv = (uint32_t *)m; m += sz_kv;
        bf.vv = (uint32_t *)m; m += sz_kv;
        bf.tmp = (uint32_t *)m; m += sz_tmp;
        bf.qb = (uint16_t *)m; m += sz_qb;
        bf.pb = (uint16_t *)m; m += sz_pb;
        bf.sbuf = (float *)m; m += sz_s;
        bf.obuf = (float *)m; m += sz_o;
        bf.invl = (float *)m;
        unsigned char cfg[64];
        memset(cfg, 0, sizeof cfg);
        cfg[0] = 1;
        for (int t = 0; t < 8; t++) {
            cfg[16 + 2 * t] = 64;
            cfg[48 + t] = 16;
        }
        __asm__ volatile("ldtilecfg %0" ::"m"(*(const unsigned char(*)[64])cfg));
        for (;;) {
            long t = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
            if (t >= c->items) break;
            long bh = t / c->nblk;
            int qb = c->nblk - 1 - (int)(t % c->nblk);
            if (bh != cur) {
                amx_pack_head(c, bh, bf.kv, bf.vv, bf.tmp);
                __asm__ volatile("" ::: "memory");
                cur = bh;
            }
            amx_block(c, bh, qb, &bf);
        }
        __asm__ volatile("tilerelease" ::);
    }
#endif
    free(mem);
    return ret;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V, float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.B = B; c.H = H; c.S = S; c.D = D; c.causal = causal;
    c.Q = Q; c.K = K; c.V = V; c.O = O;
    c.Sp = (S + KB - 1) / KB * KB;
    c.Dp = (D + 15) / 16 * 16;
    c.nblk = (S + BLK - 1) / BLK;
    c.items = (long)B * H * c.nblk;
    c.c = 1.4426950408889634f / sqrtf((float)D);
    int nt = NT > 0 ? NT : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > c.items) nt = (int)c.items;
#ifdef HAVE_AMX
    c.amx = HYB && nt >= 2 && D % 32 == 0 && syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#endif
    pthread_t th[64];
    targ_t ta[64];
    int started = 0;
    for (int t = 0; t < nt; t++) {
        ta[t].c = &c;
        ta[t].tid = t;
    }
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, worker, &ta[t]) != 0) break;
        started++;
    }
    int rc = 0;
    if (worker(&ta[0])) rc = 3;
    for (int t = 1; t <= started; t++) {
        void *r2;
        pthread_join(th[t], &r2);
        if (r2) rc = 3;
    }
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step5-hybrid", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
