/*
 * tests/kernels/test_kernels.c — the SIMD kernels of runtime/archc_kernels.h
 * against naive double-precision loops: every weight format, prefill tiles
 * with ragged edges (T, N not multiples of the tile), decode GEMV, fp8 e4m3
 * with block multipliers over partial blocks, bias,
 * residual in place, both GLU activations, and attention with causal,
 * sliding-window, chunked masks and sinks.  Thread counts 1 and 2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "archc_kernels.h"

static int failures;

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check(const char *what, const float *got, const double *want, int n, double tol) {
    double maxerr = 0, maxref = 0;
    int nan = 0;
    for (int i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (e != e) nan++;   /* a NaN output (e > maxerr would be false) */
        if (e > maxerr) maxerr = e;
        if (fabs(want[i]) > maxref) maxref = fabs(want[i]);
    }
    double rel = nan ? NAN : maxerr / (maxref > 0 ? maxref : 1);
    if (!(rel <= tol)) {
        printf("FAIL %s: max rel err %.3g > %.3g\n", what, rel, tol);
        failures++;
    }
}

/* fp8 block shape of test_linear: 3 × 24 exercises the general tile (partial
 * blocks on both axes); 8 × 128 with K a multiple of 64 the AVX-512 tiles that
 * fold the block multiplier into x (RT_FP8_FAST), including a last partial block
 * of K (K = 320) and rows past N in the last tile; K = 96 is not a multiple of
 * 64 and takes the general tile with these blocks */
static int fp8_bn = 3, fp8_bk = 24;

static void test_linear(int fmt, int T, int K, int N, int bias, int res, int glu) {
    unsigned s = (unsigned)(fmt * 7919 + T * 31 + K * 7 + N);
    float *x = malloc(sizeof(float) * T * K), *b = malloc(sizeof(float) * N), *bu = malloc(sizeof(float) * N);
    float *y = malloc(sizeof(float) * T * N), *r = malloc(sizeof(float) * T * N);
    void *w = malloc(4 * (size_t)N * K), *wu = malloc(4 * (size_t)N * K);
    double *want = malloc(sizeof(double) * T * N);
    /* fp8: blocks of 3 rows × 24 columns (partial on both axes for most shapes) */
    const int bn = fp8_bn, bk = fp8_bk, nkb = (K + bk - 1) / bk;
    float *sc = malloc(sizeof(float) * ((N + bn - 1) / bn) * nkb), *scu = malloc(sizeof(float) * ((N + bn - 1) / bn) * nkb);
    for (int i = 0; i < ((N + bn - 1) / bn) * nkb; i++) { sc[i] = 0.004f * (1.5f + frand(&s)); scu[i] = 0.004f * (1.5f + frand(&s)); }
    for (int i = 0; i < T * K; i++) x[i] = frand(&s);
    for (int i = 0; i < N; i++) { b[i] = frand(&s); bu[i] = frand(&s); }
    for (int i = 0; i < N * K; i++) {
        float v = frand(&s), u = frand(&s);
        if (fmt == RT_F32) { ((float *)w)[i] = v; ((float *)wu)[i] = u; }
        else if (fmt == RT_BF16) { ((uint16_t *)w)[i] = st_f32_to_bf16(v); ((uint16_t *)wu)[i] = st_f32_to_bf16(u); }
        else if (fmt == RT_FP8) { /* any e4m3 code but the NaNs 0x7F / 0xFF */
            unsigned a = (unsigned)((v + 1.0f) * 127.9f), c = (unsigned)((u + 1.0f) * 127.9f);
            ((uint8_t *)w)[i] = (uint8_t)((a & 0x7F) == 0x7F ? a - 1 : a);
            ((uint8_t *)wu)[i] = (uint8_t)((c & 0x7F) == 0x7F ? c - 1 : c);
        }
        else { ((uint16_t *)w)[i] = st_f32_to_f16(v); ((uint16_t *)wu)[i] = st_f32_to_f16(u); }
    }
    for (int i = 0; i < T * N; i++) r[i] = y[i] = frand(&s);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double g = 0, u = 0;
            for (int k = 0; k < K; k++) {
                double ms = fmt == RT_FP8 ? sc[(n / bn) * nkb + k / bk] : 1.0, mu = fmt == RT_FP8 ? scu[(n / bn) * nkb + k / bk] : 1.0;
                g += (double)x[t * K + k] * rt_wget(w, fmt, n * K + k) * ms;
                u += (double)x[t * K + k] * rt_wget(wu, fmt, n * K + k) * mu;
            }
            if (bias) { g += b[n]; u += bu[n]; }
            double v = glu ? (glu == 1 ? g / (1 + exp(-g)) : 0.5 * g * (1 + tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)))) * u : g;
            if (res) v += r[t * N + n];
            want[t * N + n] = v;
        }
    RtLinear L = {.x = x, .w = w, .y = y, .T = T, .K = K, .N = N, .fmt = fmt};
    if (bias) { L.b = b; L.b_up = bu; }
    if (res) L.res = y; /* in place: y holds the residual */
    if (glu) { L.w_up = wu; L.act = glu == 1 ? RT_ACT_SILU : RT_ACT_GELU_TANH; }
    if (fmt == RT_FP8) { L.scale = sc; L.scale_up = scu; L.bn = bn; L.bk = bk; }
    rt_linear(&L);
    char what[128];
    snprintf(what, sizeof what, "linear fmt=%d T=%d K=%d N=%d bias=%d res=%d glu=%d", fmt, T, K, N, bias, res, glu);
    check(what, y, want, T * N, 1e-5);
    free(x); free(b); free(bu); free(y); free(r); free(w); free(wu); free(want); free(sc); free(scu);
}

/* --precision=bf16 (rt_precision): bf16 weights against bf16-rounded activations,
 * the products exact and the sums in f32; odd K pads the last pair.  Where the
 * CPU has no bf16 dot products the exact path runs, which is within the same
 * tolerance of this reference only because the rounding of x is then absent:
 * the reference used is the one for the path that runs. */
static void test_linear_bf16_precision(int T, int K, int N, int glu, int bias_res) {
    unsigned s = (unsigned)(T * 97 + K * 13 + N + glu + 7 * bias_res);
    float *x = malloc(sizeof(float) * T * K), *y = malloc(sizeof(float) * T * N), *b = malloc(sizeof(float) * N);
    float *bu = malloc(sizeof(float) * N), *r = malloc(sizeof(float) * T * N);
    uint16_t *w = malloc(2 * (size_t)N * K), *wu = malloc(2 * (size_t)N * K);
    double *want = malloc(sizeof(double) * T * N);
    for (int i = 0; i < T * K; i++) x[i] = frand(&s);
    for (int i = 0; i < N * K; i++) { w[i] = st_f32_to_bf16(frand(&s)); wu[i] = st_f32_to_bf16(frand(&s)); }
    for (int i = 0; i < N; i++) { b[i] = frand(&s); bu[i] = frand(&s); }
    for (int i = 0; i < T * N; i++) r[i] = frand(&s);
#ifdef RT_HAVE_BF16_DOT
    /* the dot-form kernel (K % 32 == 0), the GEMM and the decode tile (rt_gemv_tile_dp) round x */
    int rounded = T >= RT_GEMM_MIN_T || T == 1 || K % 32 == 0;
#else
    int rounded = 0;
#endif
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double g = 0, u = 0;
            for (int k = 0; k < K; k++) {
                double xv = rounded ? st_bf16_to_f32(st_f32_to_bf16(x[t * K + k])) : x[t * K + k];
                g += xv * st_bf16_to_f32(w[(size_t)n * K + k]);
                u += xv * st_bf16_to_f32(wu[(size_t)n * K + k]);
            }
            if (bias_res) { g += b[n]; u += bu[n]; }
            want[t * N + n] = (glu ? g / (1 + exp(-g)) * u : g) + (bias_res ? r[t * N + n] : 0.0);
        }
    RtLinear L = {.x = x, .w = w, .y = y, .T = T, .K = K, .N = N, .fmt = RT_BF16};
    if (glu) { L.w_up = wu; L.act = RT_ACT_SILU; }
    if (bias_res) {   /* the residual in place, as the model's o_proj and down_proj add it */
        memcpy(y, r, sizeof(float) * T * N);
        L.b = b;
        L.b_up = glu ? bu : NULL;
        L.res = y;
    }
    rt_precision = RT_PRECISION_BF16;
    rt_linear(&L);
    rt_precision = RT_PRECISION_F32;
    char what[128];
    snprintf(what, sizeof what, "linear --precision=bf16 T=%d K=%d N=%d glu=%d bias+res=%d", T, K, N, glu, bias_res);
    check(what, y, want, T * N, 1e-5);
    free(x); free(y); free(w); free(wu); free(want); free(b); free(bu); free(r);
}

/* Mixture of experts (rt_moe, softmax routing, top-k renormalised): every
 * expert's tokens on the few-token kernel (2 ≤ n), the GEMM (many tokens) or
 * the GEMV (n = 1), grouped or one pair at a time, against double loops.
 * bf16 with --precision=bf16 rounds x and the GLU output to bf16 where the
 * expert runs on bf16 dot products (on AVX512_BF16: n = 1, the decode tile;
 * n ≥ 2 the few-token kernel or the GEMM). */
static void test_moe(int fmt, int prec, int T, int H, int I, int E, int K, int grouped) {
    unsigned s = (unsigned)(fmt * 31 + prec * 7 + T * 101 + H * 3 + I + E * 13 + K + grouped);
    size_t ws = fmt == RT_F32 ? 4 : 2;
    float *x = malloc(sizeof(float) * T * H), *y = malloc(sizeof(float) * T * H), *router = malloc(sizeof(float) * E * H);
    double *want = calloc((size_t)T * H, sizeof(double));
    void **g = malloc(sizeof(void *) * E), **u = malloc(sizeof(void *) * E), **d = malloc(sizeof(void *) * E);
    for (int i = 0; i < T * H; i++) x[i] = frand(&s);
    /* a router biased towards low indices: some experts get many tokens, some one */
    for (int e = 0; e < E; e++)
        for (int h = 0; h < H; h++) router[e * H + h] = 0.3f * frand(&s) + (e < 2 ? 0.02f * (float)(h % 7) : 0.0f);
    for (int e = 0; e < E; e++) {
        g[e] = malloc(ws * I * H); u[e] = malloc(ws * I * H); d[e] = malloc(ws * H * I);
        for (int i = 0; i < I * H; i++) {
            float a = frand(&s) * 0.2f, b = frand(&s) * 0.2f, c = frand(&s) * 0.2f;
            if (fmt == RT_F32) { ((float *)g[e])[i] = a; ((float *)u[e])[i] = b; ((float *)d[e])[i] = c; }
            else { ((uint16_t *)g[e])[i] = st_f32_to_bf16(a); ((uint16_t *)u[e])[i] = st_f32_to_bf16(b); ((uint16_t *)d[e])[i] = st_f32_to_bf16(c); }
        }
    }
    /* reference routing in double */
    int *sel = malloc(sizeof(int) * T * K), *cnt = calloc(E, sizeof(int));
    double *wt = malloc(sizeof(double) * T * K);
    for (int t = 0; t < T; t++) {
        double l[64], m = -1e300, sum = 0;
        for (int e = 0; e < E; e++) {
            l[e] = 0;
            for (int h = 0; h < H; h++) l[e] += (double)x[t * H + h] * router[e * H + h];
            if (l[e] > m) m = l[e];
        }
        for (int e = 0; e < E; e++) { l[e] = exp(l[e] - m); sum += l[e]; }
        double ws_ = 0;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int j = 0; j < k; j++) taken |= sel[t * K + j] == e;
                if (!taken && (best < 0 || l[e] > l[best])) best = e;
            }
            sel[t * K + k] = best;
            wt[t * K + k] = l[best] / sum;
            ws_ += wt[t * K + k];
            cnt[best]++;
        }
        for (int k = 0; k < K; k++) wt[t * K + k] /= ws_;
    }
    double *a = malloc(sizeof(double) * I);
    for (int e = 0; e < E; e++) {
        int n = grouped ? cnt[e] : 1, rounded = 0;
        (void)n;
#ifdef RT_HAVE_BF16_DOT
        rounded = fmt == RT_BF16 && prec && (n == 1 || (H % 32 == 0 && I % 32 == 0 ? 1 : n >= RT_GEMM_MIN_T));
#endif
#define RT_TEST_R(v) (rounded ? (double)st_bf16_to_f32(st_f32_to_bf16((float)(v))) : (double)(v))
#define RT_TEST_W(p, i) (fmt == RT_F32 ? (double)((float *)(p))[i] : (double)st_bf16_to_f32(((uint16_t *)(p))[i]))
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++) {
                if (sel[t * K + k] != e) continue;
                for (int i = 0; i < I; i++) {
                    double gs = 0, us = 0;
                    for (int h = 0; h < H; h++) {
                        double xv = RT_TEST_R(x[t * H + h]);
                        gs += xv * RT_TEST_W(g[e], (size_t)i * H + h);
                        us += xv * RT_TEST_W(u[e], (size_t)i * H + h);
                    }
                    a[i] = (float)(gs / (1 + exp(-gs)) * us);   /* the kernel keeps a in f32 */
                }
                for (int h = 0; h < H; h++) {
                    double ys = 0;
                    for (int i = 0; i < I; i++) ys += RT_TEST_R(a[i]) * RT_TEST_W(d[e], (size_t)h * I + i);
                    want[t * H + h] += wt[t * K + k] * ys;
                }
            }
#undef RT_TEST_R
#undef RT_TEST_W
    }
    RtMoe M = {.x = x, .y = y, .router = router, .gate = (const void *const *)g, .up = (const void *const *)u,
               .down = (const void *const *)d, .T = T, .H = H, .I = I, .E = E, .K = K, .fmt = fmt, .normalize = 1,
               .grouped = grouped, .router_fmt = RT_F32};
    rt_precision = prec ? RT_PRECISION_BF16 : RT_PRECISION_F32;
    rt_moe(&M);
    rt_precision = RT_PRECISION_F32;
    char what[160];
    snprintf(what, sizeof what, "moe fmt=%d precision=%s T=%d H=%d I=%d E=%d K=%d grouped=%d", fmt, prec ? "bf16" : "f32", T, H, I, E, K, grouped);
    check(what, y, want, T * H, 1e-5);
    for (int e = 0; e < E; e++) { free(g[e]); free(u[e]); free(d[e]); }
    free(g); free(u); free(d); free(x); free(y); free(router); free(want); free(sel); free(cnt); free(wt); free(a);
}

/* Stacked-expert matmuls: [in, out] weights (f32/bf16) and MXFP4 rows, against
 * a reference that decodes e2m1 / e8m0 on its own. */
static void test_linear_t(int fmt, int T, int K, int N, int bias) {
    static const double e2m1[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};
    unsigned s = (unsigned)(fmt * 131 + T * 17 + K * 3 + N);
    float *x = malloc(sizeof(float) * T * K), *b = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * T * N);
    double *want = malloc(sizeof(double) * T * N), *wref = malloc(sizeof(double) * (size_t)N * K);  /* [N][K] */
    void *w = malloc(4 * (size_t)N * K);
    uint8_t *sc = malloc((size_t)N * (K / 32 + 1));
    for (int i = 0; i < T * K; i++) x[i] = frand(&s);
    for (int i = 0; i < N; i++) b[i] = frand(&s);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            float v = frand(&s);
            if (fmt == RT_F32) { ((float *)w)[(size_t)k * N + n] = v; wref[(size_t)n * K + k] = v; }
            else if (fmt == RT_BF16) { uint16_t h = st_f32_to_bf16(v); ((uint16_t *)w)[(size_t)k * N + n] = h; wref[(size_t)n * K + k] = st_bf16_to_f32(h); }
        }
    if (fmt == RT_MXFP4) {
        uint8_t *q = w;
        for (int n = 0; n < N; n++)
            for (int g = 0; g < K / 32; g++) {
                sc[n * (K / 32) + g] = (uint8_t)(120 + (int)((frand(&s) + 1) * 4));
                for (int j = 0; j < 16; j++) {
                    uint8_t byte = (uint8_t)((frand(&s) + 1) * 127.9f);
                    q[((size_t)n * (K / 32) + g) * 16 + j] = byte;
                    double m = ldexp(1.0, sc[n * (K / 32) + g] - 127);
                    wref[(size_t)n * K + 32 * g + 2 * j] = e2m1[byte & 15] * m;
                    wref[(size_t)n * K + 32 * g + 2 * j + 1] = e2m1[byte >> 4] * m;
                }
            }
    }
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double a = bias ? b[n] : 0;
            for (int k = 0; k < K; k++) a += (double)x[t * K + k] * wref[(size_t)n * K + k];
            want[t * N + n] = a;
        }
    RtLinearT L = {.x = x, .w = w, .scales = sc, .b = bias ? b : NULL, .y = y, .T = T, .K = K, .N = N, .fmt = fmt};
    rt_linear_t(&L);
    char what[128];
    snprintf(what, sizeof what, "linear_t fmt=%d T=%d K=%d N=%d bias=%d", fmt, T, K, N, bias);
    check(what, y, want, T * N, 1e-5);
    free(x); free(b); free(y); free(want); free(wref); free(w); free(sc);
}

/* ring: the cache holds only `ring` rows (key j in row j % ring), as the
 * swa-tile pass lays out a windowed layer's cache; temp: Llama 4's attention
 * temperature (floor 4, scale 0.1); logn: Qwen-1's LogN past logn tokens. */
static void test_attention_x(int T, int pos, int heads, int kv, int d, int window, int chunk, int sinks, int ring, int temp, int logn) {
    unsigned s = (unsigned)(T * 13 + pos * 17 + heads + window * 3 + chunk * 5 + sinks + ring * 7 + temp + logn * 11);
    int len = pos + T, kvw = kv * d, rows = ring ? ring : len;
    float *q = malloc(sizeof(float) * T * heads * d), *k = malloc(sizeof(float) * len * kvw), *v = malloc(sizeof(float) * len * kvw);
    float *kc = malloc(sizeof(float) * rows * kvw), *vc = malloc(sizeof(float) * rows * kvw);
    float *o = malloc(sizeof(float) * T * heads * d), *sk = malloc(sizeof(float) * heads), *qs = malloc(sizeof(float) * d);
    double *want = calloc((size_t)T * heads * d, sizeof(double));
    for (int i = 0; i < T * heads * d; i++) q[i] = frand(&s) * 2;
    for (int i = 0; i < len * kvw; i++) { k[i] = frand(&s) * 2; v[i] = frand(&s); }
    for (int j = 0; j < len; j++)   /* the cache as the kernel sees it: the last `rows` keys */
        if (j >= len - rows) {
            memcpy(kc + (size_t)(j % rows) * kvw, k + (size_t)j * kvw, sizeof(float) * kvw);
            memcpy(vc + (size_t)(j % rows) * kvw, v + (size_t)j * kvw, sizeof(float) * kvw);
        }
    for (int h = 0; h < heads; h++) sk[h] = frand(&s);
    float scale = 1.0f / sqrtf((float)d);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < heads; h++) {
            int p = pos + t, g = h / (heads / kv);
            double m = sinks ? sk[h] : -1e300, sum = 0;
            double *sc = malloc(sizeof(double) * len);
            for (int i = 0; i < d; i++) {   /* q's scaling in f32, as transformers computes it */
                qs[i] = q[(t * heads + h) * d + i];
                if (temp) qs[i] = qs[i] * (log1pf(floorf(((float)p + 1.0f) / 4.0f)) * 0.1f + 1.0f);
                if (logn && p + 1 > logn) qs[i] = qs[i] * (float)(log((double)(p + 1)) / log((double)logn));
            }
            for (int j = 0; j <= p; j++) {
                int vis = (!window || j > p - window) && (!chunk || j / chunk == p / chunk);
                if (!vis) { sc[j] = -INFINITY; continue; }
                double dot = 0;
                for (int i = 0; i < d; i++) dot += (double)qs[i] * k[j * kvw + g * d + i];
                sc[j] = dot * scale;
                if (sc[j] > m) m = sc[j];
            }
            for (int j = 0; j <= p; j++) if (sc[j] != -INFINITY) sum += exp(sc[j] - m);
            if (sinks) sum += exp(sk[h] - m);
            for (int j = 0; j <= p; j++) {
                if (sc[j] == -INFINITY) continue;
                double w = exp(sc[j] - m) / sum;
                for (int i = 0; i < d; i++) want[(t * heads + h) * d + i] += w * v[j * kvw + g * d + i];
            }
            free(sc);
        }
    RtAttention A = {.q = q, .k = kc, .v = vc, .out = o, .sinks = sinks ? sk : NULL, .T = T, .pos = pos, .heads = heads,
                     .kv_heads = kv, .head_dim = d, .scale = scale, .window = window, .chunk = chunk, .ring = ring,
                     .temp_floor = temp ? 4.0f : 0.0f, .temp_scale = temp ? 0.1f : 0.0f, .logn_seq = logn};
    rt_attention(&A);
    char what[160];
    snprintf(what, sizeof what, "attention T=%d pos=%d h=%d kv=%d d=%d window=%d chunk=%d sinks=%d ring=%d temp=%d logn=%d", T, pos,
             heads, kv, d, window, chunk, sinks, ring, temp, logn);
    check(what, o, want, T * heads * d, 1e-5);
    free(q); free(k); free(v); free(kc); free(vc); free(o); free(sk); free(qs); free(want);
}

static void test_attention(int T, int pos, int heads, int kv, int d, int window, int chunk, int sinks) {
    test_attention_x(T, pos, heads, kv, d, window, chunk, sinks, 0, 0, 0);
}

#ifdef RT_HAVE_BF16_DOT
/* the vector bf16 rounding (rt_f32_to_bf16_row) against st_f32_to_bf16: ties
 * both ways, NaN, infinities, zeros, subnormals, the largest finite values and
 * random bit patterns, in runs that also leave a scalar tail */
static void test_bf16_round(void) {
    uint32_t bits[1000];
    const uint32_t special[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u, 0x7F800001u,
                                0x00000001u, 0x807FFFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x3F808000u, 0x3F818000u, 0x3F807FFFu,
                                0x3F808001u, 0x7F7F8000u, 0xBF808000u, 0x00008000u, 0x00018000u};
    unsigned s = 12345;
    for (int i = 0; i < 1000; i++) {
        s = s * 1664525u + 1013904223u;
        bits[i] = i < (int)(sizeof special / sizeof special[0]) ? special[i] : (s ^ (s << 13)) + (uint32_t)i * 2654435761u;
    }
    float x[1000];
    uint16_t got[1000];
    memcpy(x, bits, sizeof x);
    rt_f32_to_bf16_row(x, got, 1000);
    for (int i = 0; i < 1000; i++)
        if (got[i] != st_f32_to_bf16(x[i])) {
            printf("FAIL bf16 rounding of 0x%08X: 0x%04X, want 0x%04X\n", bits[i], got[i], st_f32_to_bf16(x[i]));
            failures++;
            break;
        }
}
#endif

#if defined(__AVX512F__)
/* the vector e^x of the SwiGLU epilogue (rt_exp16) against expf: a sweep of
 * [-110, 95] (the underflow to 0, the overflow to inf), infinities, NaN; within
 * 2 ulp of expf where the result is normal, and the same 0 / inf / NaN */
static void test_exp16(void) {
    int bad = 0;
    float worst = 0.0f;
    for (int i = 0; i < 205 * 1000 + 16 && !bad; i += 16) {
        float x[16], y[16];
        for (int l = 0; l < 16; l++) x[l] = -110.0f + (float)(i + l) * 0.001f;
        if (i == 0) { x[0] = INFINITY; x[1] = -INFINITY; x[2] = NAN; x[3] = 0.0f; x[4] = -0.0f; x[5] = 88.72f; x[6] = -87.3f; }
        _mm512_storeu_ps(y, rt_exp16(_mm512_loadu_ps(x)));
        for (int l = 0; l < 16; l++) {
            float want = expf(x[l]);
            if (isnan(want) ? !isnan(y[l]) : isinf(want) || want == 0.0f ? y[l] != want : want < 1.2e-38f ? fabsf(y[l] - want) > 1e-44f : 0) bad = 1;
            if (!bad && isnormal(want)) {
                float ulps = fabsf(y[l] - want) / (nextafterf(want, INFINITY) - want);
                if (ulps > worst) worst = ulps;
                if (ulps > 2.0f) bad = 1;
            }
            if (bad) { printf("FAIL exp16(%.9g) = %.9g, expf %.9g\n", x[l], y[l], want); failures++; break; }
        }
    }
    if (!bad) printf("ok: exp16 within %.2f ulp of expf\n", worst);
}
#endif

int main(void) {
    int checks = 0;
#ifdef RT_HAVE_BF16_DOT
    test_bf16_round();
    checks++;
#endif
#if defined(__AVX512F__)
    test_exp16();
    checks++;
#endif
    /* e4m3 decoding: 1.0, the largest (448), the smallest subnormal (2^-9), -1.5 */
    const uint8_t codes[] = {0x38, 0x7E, 0x01, 0xBC};
    const float values[] = {1.0f, 448.0f, 0.001953125f, -1.5f};
    for (int i = 0; i < 4; i++)
        if (rt_wget(&codes[i], RT_FP8, 0) != values[i]) {
            printf("FAIL fp8 code 0x%02X decodes to %g, want %g\n", codes[i], rt_wget(&codes[i], RT_FP8, 0), values[i]);
            failures++;
        }
    for (int threads = 1; threads <= 2; threads++) {
        rt_threads_init(threads);
        for (int fmt = 0; fmt < 4; fmt++) {
            int shapes[][3] = {{1, 64, 64}, {1, 37, 13}, {5, 64, 30}, {7, 100, 9}, {33, 128, 70}, {4, 16, 4}, {1, 1000, 257},
                              /* prefill GEMM path: T ≥ 8, K past one packed block, ragged panels */
                              {13, 1100, 37}, {8, 3, 1}, {20, 513, 65}};
            for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                for (int variant = 0; variant < 5; variant++) {
                    int bias = variant & 1, res = variant == 2 || variant == 3, glu = variant == 4 ? 1 + (int)(i & 1) : 0;
                    test_linear(fmt, shapes[i][0], shapes[i][1], shapes[i][2], bias, res, glu);
                    checks++;
                }
        }
        int fshapes[][3] = {{1, 256, 44}, {1, 320, 64}, {5, 320, 44}, {4, 512, 16}, {13, 128, 20}, {3, 96, 8}};
        fp8_bn = 8;
        fp8_bk = 128;
        for (unsigned i = 0; i < sizeof fshapes / sizeof fshapes[0]; i++)
            for (int variant = 0; variant < 5; variant++) {
                int bias = variant & 1, res = variant == 2 || variant == 3, glu = variant == 4 ? 1 : 0;
                test_linear(RT_FP8, fshapes[i][0], fshapes[i][1], fshapes[i][2], bias, res, glu);
                checks++;
            }
        fp8_bn = 3;
        fp8_bk = 24;
        /* K % 32 == 0 with T ≥ 2 takes the dot-form kernel (rt_linear_few_bf16):
         * T = 5 and 9 below RT_GEMM_MIN_T, K = 2048 with a padded x stride, N not
         * a multiple of its 48-row tasks or 3-row tiles.  With AMX (T ≥ RT_AMX_MIN_T,
         * rt_linear_amx): one 16-token tile, tokens padded to 32 and 64, N short of
         * a 32-row task, a long K */
        int pshapes[][3] = {{13, 1100, 37}, {8, 3, 1}, {20, 513, 65}, {1, 64, 40}, {20, 512, 50}, {130, 96, 70}, {1, 70, 9},
                            {5, 64, 49}, {9, 2048, 100}, {2, 32, 1}, {16, 64, 32}, {33, 2048, 100}, {64, 320, 7}};
        for (unsigned i = 0; i < sizeof pshapes / sizeof pshapes[0]; i++)
            for (int v = 0; v < 4; v++) {
                test_linear_bf16_precision(pshapes[i][0], pshapes[i][1], pshapes[i][2], v & 1, v >> 1);
                checks++;
            }
        int tshapes[][3] = {{1, 64, 70}, {5, 96, 130}, {3, 32, 7}, {1, 256, 16}, {1, 32, 3}};
        for (unsigned i = 0; i < sizeof tshapes / sizeof tshapes[0]; i++)
            for (int fmt = 0; fmt < 3; fmt++) {
                int f = fmt == 2 ? RT_MXFP4 : fmt;
                test_linear_t(f, tshapes[i][0], tshapes[i][1], tshapes[i][2], (int)(i & 1));
                checks++;
            }
        /* (T, H, I, E, K): few-token kernel, more tokens per expert (T = 90,
         * E = 4), the f32 GEMM past RT_MOE_FEW_MAX_F32 (T = 200, E = 2), decode,
         * dims that are not multiples of 32 (rt_linear throughout), and rows of
         * x whose stride rt_few_stride pads (H = 512: 2 KB of f32, 1 KB of bf16),
         * and gate/up rows of x longer than the L1 holds for a tile of tokens (H = 1088) */
        int mshapes[][5] = {{13, 64, 96, 8, 2}, {90, 64, 32, 4, 2}, {200, 64, 32, 2, 2}, {1, 64, 96, 8, 3},
                            {11, 40, 24, 6, 2}, {30, 128, 64, 16, 4}, {24, 512, 256, 4, 2}, {10, 1088, 64, 4, 2}};
        for (unsigned i = 0; i < sizeof mshapes / sizeof mshapes[0]; i++)
            for (int v = 0; v < 6; v++) {
                int fmt = v & 1 ? RT_BF16 : RT_F32, prec = v >= 2 && fmt == RT_BF16, grouped = v != 4;
                /* T = 200 is there for the f32 GEMM; with --precision=bf16 its 400
                 * pairs × 32 GLU outputs make a bf16 rounding tie of the GLU output
                 * (f32 in the kernel, double in the reference) likely: skipped */
                if (prec && mshapes[i][0] == 200) continue;
                test_moe(fmt, prec, mshapes[i][0], mshapes[i][1], mshapes[i][2], mshapes[i][3], mshapes[i][4], grouped);
                checks++;
            }
        test_attention(1, 0, 4, 2, 16, 0, 0, 0);
        test_attention(9, 0, 4, 2, 16, 0, 0, 0);
        test_attention(9, 20, 6, 2, 32, 0, 0, 0);
        test_attention(12, 5, 4, 4, 8, 4, 0, 0);
        test_attention(1, 30, 4, 1, 16, 8, 0, 0);
        test_attention(10, 3, 4, 2, 16, 0, 4, 0);
        test_attention(6, 7, 4, 2, 16, 5, 0, 1);
        /* head_dim 128 and 64, groups of 8 and 16 heads per kv head (the grouped
         * AVX-512 kernel splits a 16-head group in two), contexts past its
         * 16-key and 32-value blocks */
        test_attention(3, 100, 16, 2, 128, 0, 0, 0);
        test_attention(1, 300, 16, 1, 64, 0, 0, 1);
        test_attention(5, 40, 8, 8, 32, 17, 0, 0);
        /* prefill tiled over query rows (T >= 8, head_dim % 32 == 0): groups of
         * 8 (sinks; a window), 16 (split in two; chunks) and 1 (8 tokens a task,
         * head_dim 256), token counts that leave a partial last task */
        test_attention(20, 50, 16, 2, 64, 0, 0, 1);
        test_attention(33, 10, 8, 1, 32, 9, 0, 0);
        test_attention(17, 40, 16, 1, 128, 0, 16, 0);
        test_attention(12, 0, 4, 4, 256, 0, 0, 0);
        test_attention(9, 250, 4, 2, 64, 0, 0, 0);
        /* a ring cache (window 24 in 40 rows), temperature, LogN: per-token
         * (T = 1, 3), grouped (head_dim 16) and tiled (T >= 8, head_dim 32) */
        for (int d = 16; d <= 32; d += 16)
            for (int T = 1; T <= 12; T += T < 3 ? 2 : 9) {
                test_attention_x(T, 60, 4, 2, d, 24, 0, 0, 40, 0, 0);
                test_attention_x(T, 30, 4, 1, d, 0, 0, 0, 0, 1, 0);
                test_attention_x(T, 30, 4, 2, d, 0, 0, 1, 0, 0, 35);
                checks += 3;
            }
        test_attention_x(4, 30, 4, 2, 24, 0, 0, 0, 0, 1, 35);   /* head_dim 24: the portable per-token form */
        checks += 16;
        rt_threads_shutdown();
    }
    printf("%d passed, %d failed\n", checks * 1 - failures, failures);
    return failures ? 1 : 0;
}
