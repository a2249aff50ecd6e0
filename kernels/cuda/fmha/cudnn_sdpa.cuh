/*
 * cudnn_sdpa.cuh - cuDNN's scaled-dot-product attention (forward), built from
 * C through the cuDNN 9 backend (graph) API: the baseline of
 * spak-harness-cuda-fmha, wrapped behind the FMHA ABI by baseline_cudnn.cu
 * (the judge runs it in a runner like the candidate's); cudnn_dry.cu builds
 * it stand-alone.
 *
 * libcudnn.so.9 is opened with dlopen() at run time (only cudnn_graph.h's
 * types are used at compile time): a device without cuDNN, or a cuDNN whose
 * heuristics offer no engine for the graph, gives a clear baseline_error in
 * the records instead of a harness that cannot start.
 *
 * The operation graph is the one cuDNN's fused flash-attention engines match
 * (the composition the cudnn-frontend SDPA node expands to before cuDNN
 * 9.21), with fp32 virtual intermediates:
 *
 *   S1 = matmul(Q [B,H,S,D], K^T [B,Hkv,D,S])     K^T is K seen through strides
 *   S2 = S1 * scale                                scale: fp32 by-value scalar
 *  [causal]  row = gen_index(S2, axis 2), col = gen_index(S2, axis 3)
 *            mask = row >= col ; S3 = select(mask ? S2 : lowest_float)
 *   M  = reduce_max(S3) over keys    [B,H,S,1]
 *   E  = exp(S3 - M)
 *   L  = reduce_add(E)               [B,H,S,1]
 *  [lse]     stats = M + log(L)      [B,H,S,1] fp32, non-virtual
 *   P  = E / L
 *   O  = matmul(P, V [B,Hkv,S,D])    [B,H,S,D]
 *
 * P (the input of the second matmul) is a virtual tensor in the I/O type:
 * the cudnn-frontend notes "requirement by cudnn backend to take in bmm2
 * aType as i/o type"; an fp32 P is tried second.
 *
 * Engine choice: heuristics mode A (then FALLBACK), first engine config whose
 * execution plan finalizes. Which variant ran goes into the records
 * ("baseline_engine"); when none does, the first variant's error is the
 * "baseline_error". kernels/cuda/fmha/cudnn_dry.cu builds the same graph
 * stand-alone (without a device: up to the operation graph).
 */
#include <cudnn_graph.h>
#include <float.h>

struct cudnn_api {
    void *lib;
    size_t (*getVersion)(void);
    cudnnStatus_t (*create)(cudnnHandle_t *);
    cudnnStatus_t (*destroy)(cudnnHandle_t);
    cudnnStatus_t (*setStream)(cudnnHandle_t, cudaStream_t);
    const char *(*errorString)(cudnnStatus_t);
    void (*lastError)(char *, size_t);
    cudnnStatus_t (*createDesc)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
    cudnnStatus_t (*destroyDesc)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*finalize)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*setAttr)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t, cudnnBackendAttributeType_t,
                             int64_t, const void *);
    cudnnStatus_t (*getAttr)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t, cudnnBackendAttributeType_t,
                             int64_t, int64_t *, void *);
    cudnnStatus_t (*execute)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
};

#define SDPA_MAX_DESC 64

struct sdpa {
    struct cudnn_api api;
    cudnnHandle_t h;
    cudnnBackendDescriptor_t descs[SDPA_MAX_DESC]; /* every descriptor made, destroyed at the end */
    int ndesc;
    cudnnBackendDescriptor_t plan;
    int64_t ws_bytes; /* the plan's workspace need: the caller provides it to sdpa_exec */
    float scale, neg;
    char engine[160];
    char err[768];
};

/* Record a failed cuDNN call: which step, the status and cuDNN's own message. */
static bool sdpa_fail(struct sdpa *g, const char *what, cudnnStatus_t st)
{
    char last[384] = "";
    if (g->api.lastError)
        g->api.lastError(last, sizeof last);
    snprintf(g->err, sizeof g->err, "cudnn: %s failed: %s (%d)%s%s", what,
             g->api.errorString ? g->api.errorString(st) : "?", (int)st, last[0] ? ": " : "", last);
    return false;
}

#define SDPA_CK(what, call)                                                                                  \
    do {                                                                                                     \
        cudnnStatus_t st_ = (call);                                                                          \
        if (st_ != CUDNN_STATUS_SUCCESS)                                                                     \
            return sdpa_fail(g, what, st_);                                                                  \
    } while (0)

static bool sdpa_load(struct sdpa *g)
{
    struct cudnn_api *a = &g->api;
    static const char *const names[] = {"libcudnn.so.9", "libcudnn.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !a->lib; i++)
        a->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!a->lib) {
        snprintf(g->err, sizeof g->err, "cudnn: dlopen(libcudnn.so.9) failed: %s", dlerror());
        return false;
    }
    *(void **)&a->getVersion = dlsym(a->lib, "cudnnGetVersion");
    *(void **)&a->create = dlsym(a->lib, "cudnnCreate");
    *(void **)&a->destroy = dlsym(a->lib, "cudnnDestroy");
    *(void **)&a->setStream = dlsym(a->lib, "cudnnSetStream");
    *(void **)&a->errorString = dlsym(a->lib, "cudnnGetErrorString");
    *(void **)&a->lastError = dlsym(a->lib, "cudnnGetLastErrorString");
    *(void **)&a->createDesc = dlsym(a->lib, "cudnnBackendCreateDescriptor");
    *(void **)&a->destroyDesc = dlsym(a->lib, "cudnnBackendDestroyDescriptor");
    *(void **)&a->finalize = dlsym(a->lib, "cudnnBackendFinalize");
    *(void **)&a->setAttr = dlsym(a->lib, "cudnnBackendSetAttribute");
    *(void **)&a->getAttr = dlsym(a->lib, "cudnnBackendGetAttribute");
    *(void **)&a->execute = dlsym(a->lib, "cudnnBackendExecute");
    if (!a->getVersion || !a->create || !a->destroy || !a->setStream || !a->errorString || !a->createDesc ||
        !a->destroyDesc || !a->finalize || !a->setAttr || !a->getAttr || !a->execute) {
        snprintf(g->err, sizeof g->err, "cudnn: libcudnn lacks a backend API symbol");
        return false;
    }
    if (a->getVersion() < 90000) {
        snprintf(g->err, sizeof g->err, "cudnn: version %zu is older than 9.0", a->getVersion());
        return false;
    }
    return true;
}

static bool sdpa_new(struct sdpa *g, cudnnBackendDescriptorType_t t, cudnnBackendDescriptor_t *d)
{
    if (g->ndesc >= SDPA_MAX_DESC) {
        snprintf(g->err, sizeof g->err, "cudnn: descriptor cap reached (harness bug)");
        return false;
    }
    SDPA_CK("cudnnBackendCreateDescriptor", g->api.createDesc(t, d));
    g->descs[g->ndesc++] = *d;
    return true;
}

/* One attribute of a descriptor: n values of type at val (NULL: left
 * unset), what names the step in errors. */
struct sdpa_attr {
    const char *what;
    cudnnBackendAttributeName_t name;
    cudnnBackendAttributeType_t type;
    int64_t n;
    const void *val;
};

/* A descriptor of the given type into *d: the n attributes set in their
 * order, then finalized (the step fin). */
static bool sdpa_desc(struct sdpa *g, cudnnBackendDescriptor_t *d, cudnnBackendDescriptorType_t type, int n,
                      const struct sdpa_attr *attrs, const char *fin)
{
    if (!sdpa_new(g, type, d))
        return false;
    for (int i = 0; i < n; i++)
        if (attrs[i].val)
            SDPA_CK(attrs[i].what, g->api.setAttr(*d, attrs[i].name, attrs[i].type, attrs[i].n, attrs[i].val));
    SDPA_CK(fin, g->api.finalize(*d));
    return true;
}

#define SDPA_DESC CUDNN_TYPE_BACKEND_DESCRIPTOR

/* A tensor: 4-d dims and strides, data type, uid, virtual / by-value. */
static bool sdpa_tensor(struct sdpa *g, cudnnBackendDescriptor_t *t, int64_t uid, cudnnDataType_t dt,
                        const int64_t dims[4], const int64_t strides[4], bool is_virtual, bool by_value)
{
    int64_t align = 16;
    const struct sdpa_attr at[] = {
        {"tensor data type", CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt},
        {"tensor dims", CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims},
        {"tensor strides", CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides},
        {"tensor uid", CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid},
        {"tensor alignment", CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align},
        {"tensor virtual", CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, is_virtual ? &is_virtual : NULL},
        {"tensor by value", CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, by_value ? &by_value : NULL},
    };
    return sdpa_desc(g, t, CUDNN_BACKEND_TENSOR_DESCRIPTOR, 7, at, "tensor finalize");
}

/* A pointwise operation y = mode(x [, b] [, t]). axis >= 0 only for GEN_INDEX. */
static bool sdpa_pointwise(struct sdpa *g, cudnnBackendDescriptor_t *op, cudnnPointwiseMode_t mode,
                           cudnnDataType_t prec, int64_t axis, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                           cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t pw;
    const struct sdpa_attr pa[] = {
        {"pointwise mode", CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode},
        {"pointwise precision", CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec},
        {"pointwise axis", CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, axis >= 0 ? &axis : NULL},
    };
    if (!sdpa_desc(g, &pw, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, 3, pa, "pointwise finalize"))
        return false;
    const struct sdpa_attr oa[] = {
        {"pointwise op desc", CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, SDPA_DESC, 1, &pw},
        {"pointwise op x", CUDNN_ATTR_OPERATION_POINTWISE_XDESC, SDPA_DESC, 1, &x},
        {"pointwise op b", CUDNN_ATTR_OPERATION_POINTWISE_BDESC, SDPA_DESC, 1, b ? &b : NULL},
        {"pointwise op t", CUDNN_ATTR_OPERATION_POINTWISE_TDESC, SDPA_DESC, 1, t ? &t : NULL},
        {"pointwise op y", CUDNN_ATTR_OPERATION_POINTWISE_YDESC, SDPA_DESC, 1, &y},
    };
    return sdpa_desc(g, op, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, 5, oa, "pointwise op finalize");
}

static bool sdpa_reduction(struct sdpa *g, cudnnBackendDescriptor_t *op, cudnnReduceTensorOp_t mode,
                           cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t rd;
    cudnnDataType_t f = CUDNN_DATA_FLOAT;
    const struct sdpa_attr ra[] = {
        {"reduction operator", CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode},
        {"reduction comp type", CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f},
    };
    if (!sdpa_desc(g, &rd, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, 2, ra, "reduction finalize"))
        return false;
    const struct sdpa_attr oa[] = {
        {"reduction op desc", CUDNN_ATTR_OPERATION_REDUCTION_DESC, SDPA_DESC, 1, &rd},
        {"reduction op x", CUDNN_ATTR_OPERATION_REDUCTION_XDESC, SDPA_DESC, 1, &x},
        {"reduction op y", CUDNN_ATTR_OPERATION_REDUCTION_YDESC, SDPA_DESC, 1, &y},
    };
    return sdpa_desc(g, op, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, 3, oa, "reduction op finalize");
}

static bool sdpa_matmul(struct sdpa *g, cudnnBackendDescriptor_t *op, cudnnBackendDescriptor_t a,
                        cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c)
{
    cudnnBackendDescriptor_t mm;
    cudnnDataType_t f = CUDNN_DATA_FLOAT;
    const struct sdpa_attr ma[] = {{"matmul comp type", CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f}};
    if (!sdpa_desc(g, &mm, CUDNN_BACKEND_MATMUL_DESCRIPTOR, 1, ma, "matmul finalize"))
        return false;
    const struct sdpa_attr oa[] = {
        {"matmul op a", CUDNN_ATTR_OPERATION_MATMUL_ADESC, SDPA_DESC, 1, &a},
        {"matmul op b", CUDNN_ATTR_OPERATION_MATMUL_BDESC, SDPA_DESC, 1, &b},
        {"matmul op c", CUDNN_ATTR_OPERATION_MATMUL_CDESC, SDPA_DESC, 1, &c},
        {"matmul op desc", CUDNN_ATTR_OPERATION_MATMUL_DESC, SDPA_DESC, 1, &mm},
    };
    return sdpa_desc(g, op, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, 4, oa, "matmul op finalize");
}

static void sdpa_free_descs(struct sdpa *g)
{
    /* reverse order: operations before the tensors they reference */
    while (g->ndesc > 0)
        g->api.destroyDesc(g->descs[--g->ndesc]);
    g->plan = NULL;
}

/* uids of the non-virtual tensors */
enum { U_Q = 1, U_K = 2, U_V = 3, U_O = 4, U_SCALE = 5, U_NEG = 6, U_STATS = 7 };

/* Build the graph and find a plan; p_io: P in the I/O type instead of fp32. */
static bool sdpa_build_variant(struct sdpa *g, const struct fc_shape *s, int dtype, bool with_lse, bool p_io,
                               cudnnBackendHeurMode_t heur_mode)
{
    const int64_t B = s->b, H = s->h, G = s->hkv, S = s->s, D = s->d;
    const cudnnDataType_t io = dtype == SPAK_FMHA_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
    const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
    const int64_t dq[4] = {B, H, S, D}, sq[4] = {H * S * D, S * D, D, 1};
    const int64_t dkt[4] = {B, G, D, S}, skt[4] = {G * S * D, S * D, 1, D};
    const int64_t dv[4] = {B, G, S, D}, sv[4] = {G * S * D, S * D, D, 1};
    const int64_t ds[4] = {B, H, S, S}, ss[4] = {H * S * S, S * S, S, 1};
    const int64_t dr[4] = {B, H, S, 1}, sr[4] = {H * S, S, 1, 1};
    const int64_t d1[4] = {1, 1, 1, 1};
    cudnnBackendDescriptor_t tq, tk, tv, to, tscale, tneg = NULL, tstats = NULL;
    cudnnBackendDescriptor_t s1, s2, s3, row, col, mask, mx, sub, ex, sum, lg, p;
    cudnnBackendDescriptor_t ops[16], graph, heur;
    int nops = 0;
    int64_t uid = 100, count = 0;
    cudnnBackendDescriptor_t cfgs[16];
    int64_t ncfg = 0;

    if (!sdpa_tensor(g, &tq, U_Q, io, dq, sq, false, false) || !sdpa_tensor(g, &tk, U_K, io, dkt, skt, false, false) ||
        !sdpa_tensor(g, &tv, U_V, io, dv, sv, false, false) || !sdpa_tensor(g, &to, U_O, io, dq, sq, false, false) ||
        !sdpa_tensor(g, &tscale, U_SCALE, f32, d1, d1, false, true))
        return false;
    if (!sdpa_tensor(g, &s1, uid++, f32, ds, ss, true, false) || !sdpa_matmul(g, &ops[nops++], tq, tk, s1))
        return false;
    if (!sdpa_tensor(g, &s2, uid++, f32, ds, ss, true, false) ||
        !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_MUL, f32, -1, s1, tscale, NULL, s2))
        return false;
    s3 = s2;
    if (s->causal) {
        if (!sdpa_tensor(g, &tneg, U_NEG, f32, d1, d1, false, true) ||
            !sdpa_tensor(g, &row, uid++, CUDNN_DATA_INT32, ds, ss, true, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_GEN_INDEX, f32, 2, s2, NULL, NULL, row) ||
            !sdpa_tensor(g, &col, uid++, CUDNN_DATA_INT32, ds, ss, true, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_GEN_INDEX, f32, 3, s2, NULL, NULL, col) ||
            !sdpa_tensor(g, &mask, uid++, CUDNN_DATA_BOOLEAN, ds, ss, true, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, -1, row, col, NULL, mask) ||
            !sdpa_tensor(g, &s3, uid++, f32, ds, ss, true, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_BINARY_SELECT, f32, -1, s2, tneg, mask, s3))
            return false;
    }
    if (!sdpa_tensor(g, &mx, uid++, f32, dr, sr, true, false) ||
        !sdpa_reduction(g, &ops[nops++], CUDNN_REDUCE_TENSOR_MAX, s3, mx) ||
        !sdpa_tensor(g, &sub, uid++, f32, ds, ss, true, false) ||
        !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_SUB, f32, -1, s3, mx, NULL, sub) ||
        !sdpa_tensor(g, &ex, uid++, f32, ds, ss, true, false) ||
        !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_EXP, f32, -1, sub, NULL, NULL, ex) ||
        !sdpa_tensor(g, &sum, uid++, f32, dr, sr, true, false) ||
        !sdpa_reduction(g, &ops[nops++], CUDNN_REDUCE_TENSOR_ADD, ex, sum))
        return false;
    if (with_lse) {
        if (!sdpa_tensor(g, &lg, uid++, f32, dr, sr, true, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_LOG, f32, -1, sum, NULL, NULL, lg) ||
            !sdpa_tensor(g, &tstats, U_STATS, f32, dr, sr, false, false) ||
            !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_ADD, f32, -1, mx, lg, NULL, tstats))
            return false;
    }
    if (!sdpa_tensor(g, &p, uid++, p_io ? io : f32, ds, ss, true, false) ||
        !sdpa_pointwise(g, &ops[nops++], CUDNN_POINTWISE_DIV, f32, -1, ex, sum, NULL, p) ||
        !sdpa_matmul(g, &ops[nops++], p, tv, to))
        return false;

    if (!sdpa_new(g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph))
        return false;
    SDPA_CK("graph ops", g->api.setAttr(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, nops, ops));
    /* deprecated in 9.x but required by its early releases; ignored where obsolete */
    if (g->h)
        g->api.setAttr(graph, (cudnnBackendAttributeName_t)800 /* OPERATIONGRAPH_HANDLE */, CUDNN_TYPE_HANDLE, 1, &g->h);
    SDPA_CK("operation graph finalize (is the SDPA pattern supported here?)", g->api.finalize(graph));

    if (!sdpa_new(g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur))
        return false;
    SDPA_CK("heuristics graph", g->api.setAttr(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph));
    SDPA_CK("heuristics mode", g->api.setAttr(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode));
    SDPA_CK("heuristics finalize", g->api.finalize(heur));
    SDPA_CK("heuristics result count", g->api.getAttr(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                      CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL));
    if (count <= 0) {
        snprintf(g->err, sizeof g->err, "cudnn: heuristics (mode %d) found no engine for the SDPA graph",
                 (int)heur_mode);
        return false;
    }
    if (count > 16)
        count = 16;
    for (int64_t i = 0; i < count; i++)
        if (!sdpa_new(g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i]))
            return false;
    SDPA_CK("heuristics results", g->api.getAttr(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                                 count, &ncfg, cfgs));
    for (int64_t i = 0; i < ncfg; i++) {
        cudnnBackendDescriptor_t plan;
        cudnnStatus_t st;
        if (!sdpa_new(g, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan))
            return false;
        g->api.setAttr(plan, (cudnnBackendAttributeName_t)400 /* EXECUTION_PLAN_HANDLE */, CUDNN_TYPE_HANDLE, 1, &g->h);
        SDPA_CK("plan engine config", g->api.setAttr(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]));
        st = g->api.finalize(plan);
        if (st != CUDNN_STATUS_SUCCESS) {
            sdpa_fail(g, "execution plan finalize (every engine config refused)", st);
            continue;
        }
        g->plan = plan;
        SDPA_CK("plan workspace size", g->api.getAttr(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                      CUDNN_TYPE_INT64, 1, &count, &g->ws_bytes));
        snprintf(g->engine, sizeof g->engine, "cudnn %zu composite SDPA graph, P %s, heuristics %s, config %lld of %lld",
                 g->api.getVersion(), p_io ? "io-type" : "fp32", heur_mode == CUDNN_HEUR_MODE_A ? "A" : "fallback",
                 (long long)i + 1, (long long)ncfg);
        return true;
    }
    return false;
}

/* Build everything for one shape; false with g->err set when not possible. */
static bool sdpa_build(struct sdpa *g, const struct fc_shape *s, int dtype, bool with_lse, cudaStream_t st)
{
    static const struct { bool p_io; cudnnBackendHeurMode_t mode; } variants[] = {
        {true, CUDNN_HEUR_MODE_A}, {false, CUDNN_HEUR_MODE_A}, {true, CUDNN_HEUR_MODE_FALLBACK}};
    char first_err[768] = "";
    memset(g, 0, sizeof *g);
    g->scale = (float)(1.0 / sqrt((double)s->d));
    g->neg = -FLT_MAX;
    if (!sdpa_load(g))
        return false;
    SDPA_CK("cudnnCreate", g->api.create(&g->h));
    SDPA_CK("cudnnSetStream", g->api.setStream(g->h, st));
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        if (sdpa_build_variant(g, s, dtype, with_lse, variants[v].p_io, variants[v].mode))
            break;
        if (!first_err[0])
            snprintf(first_err, sizeof first_err, "%s", g->err);
        sdpa_free_descs(g);
    }
    if (!g->plan) {
        snprintf(g->err, sizeof g->err, "%s", first_err);
        return false;
    }
    return true;
}

/* Runs the plan once on stream with these buffers (lse NULL: the plan must
 * have been built without the stats output) and workspace ws (at least
 * g->ws_bytes). The variant pack is made for this call and destroyed after
 * the launch: cuDNN reads it while enqueueing, so each call may bring its
 * own buffers. false with g->err set on a cuDNN error. */
static bool sdpa_exec(struct sdpa *g, const void *Q, const void *K, const void *V, void *O, float *lse, bool causal,
                      void *ws, cudaStream_t stream)
{
    int64_t uids[7];
    void *ptrs[7];
    int n = 0;
    cudnnBackendDescriptor_t vp = NULL;
    cudnnStatus_t st;
    const char *what = "cudnnSetStream";
    uids[n] = U_Q, ptrs[n++] = (void *)Q;
    uids[n] = U_K, ptrs[n++] = (void *)K;
    uids[n] = U_V, ptrs[n++] = (void *)V;
    uids[n] = U_O, ptrs[n++] = O;
    uids[n] = U_SCALE, ptrs[n++] = &g->scale;
    if (causal)
        uids[n] = U_NEG, ptrs[n++] = &g->neg;
    if (lse)
        uids[n] = U_STATS, ptrs[n++] = lse;
    if ((st = g->api.setStream(g->h, stream)) != CUDNN_STATUS_SUCCESS ||
        (what = "variant pack create",
         (st = g->api.createDesc(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp)) != CUDNN_STATUS_SUCCESS) ||
        (what = "variant pack uids", (st = g->api.setAttr(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n,
                                                         uids)) != CUDNN_STATUS_SUCCESS) ||
        (what = "variant pack pointers", (st = g->api.setAttr(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                                             CUDNN_TYPE_VOID_PTR, n, ptrs)) != CUDNN_STATUS_SUCCESS) ||
        (what = "variant pack workspace", (st = g->api.setAttr(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE,
                                                              CUDNN_TYPE_VOID_PTR, 1, &ws)) != CUDNN_STATUS_SUCCESS) ||
        (what = "variant pack finalize", (st = g->api.finalize(vp)) != CUDNN_STATUS_SUCCESS) ||
        (what = "cudnnBackendExecute", (st = g->api.execute(g->h, g->plan, vp)) != CUDNN_STATUS_SUCCESS)) {
        if (vp)
            g->api.destroyDesc(vp);
        return sdpa_fail(g, what, st);
    }
    g->api.destroyDesc(vp);
    return true;
}

static void sdpa_destroy(struct sdpa *g)
{
    if (g->api.lib) {
        sdpa_free_descs(g);
        if (g->h)
            g->api.destroy(g->h);
    }
    g->h = NULL;
}
