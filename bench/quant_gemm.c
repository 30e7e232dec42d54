/*
 * bench/quant_gemm.c — the int8 / int4 / MXFP4 linear kernels of
 * runtime/archc_quant.h in isolation: a correctness check against a
 * double-precision reference on shapes the model tests do not reach (T = 1
 * with K up to 3072, partial blocks; T ≥ the GEMM threshold with ragged
 * token and row tiles), then timings on the qwen3-0.6b shapes:
 *   prefill  T = 128: gate/up GLU 3072×1024, down 1024×3072, qkv 4096×1024,
 *            o 1024×2048 (GMAC/s);
 *   decode   T = 1 over 24 such layers' matrices (out of cache, GB/s of weights
 *            and scales read), int8 / int4 with f16 block scales as archc
 *            quantize writes them (QG_SCALE=f32 in the environment: f32).
 *
 *   clang -O3 -march=native -Iruntime bench/quant_gemm.c build/libarchc_rt.a -lm -lpthread -o quant_gemm
 * (clang, as archc compiles the models in-process with clang: gcc schedules
 *  some kernels differently, e.g. the int4 decode GEMV ~1.4x slower from L2)
 *   ./quant_gemm [threads] [reps] [p|d|-] [decode layers]
 * Build it twice against two copies of runtime/ to compare kernels in one run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "archc_rt.h"
#include "archc_kernels.h"
#include "safetensors.h"

static unsigned long long rng = 88172645463325252ULL;
static float frand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }
static int cpu_clock;   /* one thread: time on the CPU (the machine is shared) */
static double now(void) { struct timespec ts; clock_gettime(cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
static const float e2m1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

/* quantise W [N][K]; scales in sc (int8/int4) or e8 (MXFP4); decoded weights in deq (may be NULL) */
static void quantise(int fmt, int N, int K, const float *W, uint8_t *w, float *sc, uint8_t *e8, float *deq) {
    int nb = (K + 31) / 32;
    for (int n = 0; n < N; n++)
        for (int b = 0; b < nb; b++) {
            float x[32] = {0}, amax = 0, m = 0;
            for (int i = 0; i < 32 && b * 32 + i < K; i++) x[i] = W[(size_t)n * K + b * 32 + i];
            for (int i = 0; i < 32; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); m = x[i]; }
            int e = 0;
            if (fmt == 4) { e = amax > 0 ? (int)floorf(log2f(amax)) - 2 : -127; if (e < -127) e = -127; e8[(size_t)n * nb + b] = (uint8_t)(e + 127); }
            for (int i = 0; i < 32; i++) {
                int k = b * 32 + i;
                float v;
                if (fmt == RT_I8) {
                    float d = amax / 127;
                    int q = d > 0 ? (int)roundf(x[i] / d) : 0;
                    if (k < K) w[(size_t)n * K + k] = (uint8_t)(int8_t)q;
                    sc[(size_t)n * nb + b] = d;
                    v = q * d;
                } else {
                    int code;
                    if (fmt == RT_I4) {
                        float d = m / -8;
                        int q = d != 0 ? (int)roundf(x[i] / d) : 0;
                        q = q < -8 ? -8 : q > 7 ? 7 : q;
                        code = q + 8;
                        sc[(size_t)n * nb + b] = d;
                        v = q * d;
                    } else {
                        float s = ldexpf(1, e), a = fabsf(x[i]) / s;
                        int c = 0;
                        for (int j = 1; j < 8; j++) if (fabsf(e2m1[j] - a) < fabsf(e2m1[c] - a)) c = j;
                        code = c | (x[i] < 0 && c ? 8 : 0);
                        v = (code & 8 ? -1 : 1) * e2m1[c] * s;
                    }
                    uint8_t *byte = w + (size_t)n * nb * 16 + b * 16 + i / 2;
                    if (i & 1) *byte = (uint8_t)((*byte & 0x0F) | code << 4);
                    else *byte = (uint8_t)((*byte & 0xF0) | code);
                }
                if (deq && k < K) deq[(size_t)n * K + k] = v;
            }
        }
}

static void qact(const float *x, int K, float *xq) {
    for (int b = 0; b * 32 < K; b++) {
        float amax = 0;
        for (int i = b * 32; i < K && i < b * 32 + 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127, id = d > 0 ? 1 / d : 0;
        for (int i = b * 32; i < K && i < b * 32 + 32; i++) xq[i] = (float)lrintf(x[i] * id) * d;
    }
}

typedef struct { int fmt, N, K; uint8_t *w, *e; float *s; } QM;
static QM qm_make(int fmt, int N, int K, float *deq) {
    int nb = (K + 31) / 32;
    QM m = {fmt, N, K, calloc((size_t)N * nb * 32, 1), calloc((size_t)N * nb, 1), calloc((size_t)N * nb, 4)};
    float *W = malloc(sizeof(float) * (size_t)N * K);
    for (size_t i = 0; i < (size_t)N * K; i++) W[i] = frand() * 0.1f;
    quantise(fmt, N, K, W, m.w, m.s, m.e, deq);
    free(W);
    return m;
}
static const float *qm_scale(const QM *m) { return m->fmt == 4 ? (const float *)(const void *)m->e : m->s; }
static size_t qm_bytes(const QM *m) { int nb = (m->K + 31) / 32; return (size_t)m->N * (m->fmt == RT_I8 ? (size_t)m->K : (size_t)nb * 16) + (size_t)m->N * nb * (m->fmt == 4 ? 1 : 4); }

static int check(int fmt, int T, int K, int N, int glu) {
    float *dw = malloc(sizeof(float) * (size_t)N * K), *du = malloc(sizeof(float) * (size_t)N * K);
    QM g = qm_make(fmt, N, K, dw), u = qm_make(fmt, N, K, du);
    float *x = malloc(sizeof(float) * (size_t)T * K), *xq = malloc(sizeof(float) * (size_t)T * K), *y = malloc(sizeof(float) * (size_t)T * N),
          *res = malloc(sizeof(float) * (size_t)T * N), *bias = malloc(sizeof(float) * N);
    for (size_t i = 0; i < (size_t)T * K; i++) x[i] = frand() * 3 + (i % 7 == 0 ? 2.0f : 0.0f);
    for (size_t i = 0; i < (size_t)T * N; i++) res[i] = frand();
    for (int i = 0; i < N; i++) bias[i] = frand();
    for (int t = 0; t < T; t++) qact(x + (size_t)t * K, K, xq + (size_t)t * K);
    RtLinear L = {.x = x, .w = g.w, .y = y, .T = T, .K = K, .N = N, .fmt = fmt, .scale = qm_scale(&g), .bn = 1, .bk = 32, .b = bias};
    if (glu) { L.w_up = u.w; L.scale_up = qm_scale(&u); L.act = RT_ACT_SILU; }
    else L.res = res;
    rt_linear(&L);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double a = 0, c = 0, mag = 1e-6;
            for (int k = 0; k < K; k++) {
                a += (double)dw[(size_t)n * K + k] * xq[(size_t)t * K + k];
                c += (double)du[(size_t)n * K + k] * xq[(size_t)t * K + k];
                mag += fabs((double)dw[(size_t)n * K + k] * xq[(size_t)t * K + k]);
            }
            a += bias[n];
            double want = glu ? a / (1 + exp(-a)) * c : res[(size_t)t * N + n] + a;
            double err = fabs(want - y[(size_t)t * N + n]) / (mag + fabs(want));
            if (err > worst) worst = err;
        }
    int ok = worst < 2e-5;
    if (!ok) printf("FAIL: fmt %d T=%d K=%d N=%d%s: rel err %.3g\n", fmt, T, K, N, glu ? " glu" : "", worst);
    free(dw); free(du); free(x); free(xq); free(y); free(res); free(bias);
    free(g.w); free(g.e); free(g.s); free(u.w); free(u.e); free(u.s);
    return !ok;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 5;
    rt_threads_init(threads);
    cpu_clock = threads == 1;
    static const int shapes[][3] = {{1, 1024, 64}, {1, 3072, 40}, {1, 2880, 24}, {1, 1000, 17}, {1, 200, 9}, {4, 1024, 40}, {128, 1024, 48},
                                    {33, 2880, 35}, {8, 100, 17}, {13, 64, 16}, {2, 640, 20}, {3, 1024, 19}};
    int fails = 0;
    const char *only = argc > 3 ? argv[3] : "";   /* "p": prefill timings only, "d": decode only (no check) */
    for (int fmt = 4; !*only && fmt <= 6; fmt++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int glu = 0; glu < 2; glu++) fails += check(fmt, shapes[i][0], shapes[i][1], shapes[i][2], glu);
    if (!*only) printf("check: %s\n", fails ? "FAILED" : "ok");
    /* timings */
    static const int mats[][3] = {{3072, 1024, 1}, {1024, 3072, 0}, {4096, 1024, 0}, {1024, 2048, 0}};   /* N, K, glu */
    const char *names[] = {"", "", "", "", "mxfp4", "int8", "int4"};
    if (*only == 's') {   /* small T (MoE experts, short prompts): one 3072×1024 GLU */
        for (int fmt = 5; fmt <= 6; fmt++) {
            QM g = qm_make(fmt, 3072, 1024, NULL), u = qm_make(fmt, 3072, 1024, NULL);
            float *x = malloc(sizeof(float) * 64 * 1024), *y = malloc(sizeof(float) * 64 * 3072);
            for (int i = 0; i < 64 * 1024; i++) x[i] = frand();
            for (int T = 1; T <= 16; T *= 2) {
                double best = 1e30;
                for (int r = 0; r < reps * 4; r++) {
                    RtLinear L = {.x = x, .w = g.w, .w_up = u.w, .y = y, .T = T, .K = 1024, .N = 3072, .fmt = fmt, .scale = g.s, .scale_up = u.s, .act = RT_ACT_SILU};
                    double t0 = now();
                    rt_linear(&L);
                    double dt = now() - t0;
                    if (dt < best) best = dt;
                }
                printf("small %s T=%d: %.3f ms (%.1f GMAC/s)\n", names[fmt], T, best * 1e3, 2.0 * T * 3072 * 1024 / best * 1e-9);
            }
        }
        return 0;
    }
    for (int fmt = 5; fmt <= 6; fmt++) {
        int T = 128;
        float *x = malloc(sizeof(float) * (size_t)T * 4096), *y = malloc(sizeof(float) * (size_t)T * 4096);
        for (int i = 0; i < T * 4096; i++) x[i] = frand();
        if (*only == 'd') goto decode;
        double best = 1e30, macs = 0;
        QM m[4][2];
        for (int j = 0; j < 4; j++) {
            m[j][0] = qm_make(fmt, mats[j][0], mats[j][1], NULL);
            if (mats[j][2]) m[j][1] = qm_make(fmt, mats[j][0], mats[j][1], NULL);
            macs += (double)T * mats[j][0] * mats[j][1] * (mats[j][2] ? 2 : 1);
        }
        for (int r = 0; r < (*only == 'p' ? reps * 4 : reps); r++) {
            double t0 = now();
            for (int j = 0; j < 4; j++) {
                RtLinear L = {.x = x, .w = m[j][0].w, .y = y, .T = T, .K = mats[j][1], .N = mats[j][0], .fmt = fmt, .scale = qm_scale(&m[j][0]), .bn = 1, .bk = 32};
                if (mats[j][2]) { L.w_up = m[j][1].w; L.scale_up = qm_scale(&m[j][1]); L.act = RT_ACT_SILU; }
                rt_linear(&L);
            }
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("prefill %s T=%d threads=%d: %.1f GMAC/s (%.2f ms per layer)\n", names[fmt], T, threads, macs / best * 1e-9, best * 1e3);
        for (int j = 0; j < 4; j++) { free(m[j][0].w); free(m[j][0].e); free(m[j][0].s); if (mats[j][2]) { free(m[j][1].w); free(m[j][1].e); free(m[j][1].s); } }
        if (*only == 'p') { free(x); free(y); continue; }
    decode:;
        /* decode: 24 layers of the four matrices, out of cache (or [layers]: 1 stays in a 32 MB L3) */
        const int NL = argc > 4 ? atoi(argv[4]) : 24;
        QM *d = malloc(sizeof(QM) * NL * 5);
        size_t bytes = 0;
        const char *qs = getenv("QG_SCALE");
        int f16 = (fmt == RT_I8 || fmt == RT_I4) && !(qs && !strcmp(qs, "f32"));
        for (int l = 0; l < NL; l++) {
            d[l * 5 + 0] = qm_make(fmt, 3072, 1024, NULL);
            d[l * 5 + 1] = qm_make(fmt, 3072, 1024, NULL);
            d[l * 5 + 2] = qm_make(fmt, 1024, 3072, NULL);
            d[l * 5 + 3] = qm_make(fmt, 4096, 1024, NULL);
            d[l * 5 + 4] = qm_make(fmt, 1024, 2048, NULL);
            for (int j = 0; j < 5; j++) {
                QM *q = &d[l * 5 + j];
                size_t ns = (size_t)q->N * ((q->K + 31) / 32);
                bytes += qm_bytes(q);
                if (f16) {   /* the scales as f16 bits, in place (the first half of the buffer) */
                    uint16_t *h = (uint16_t *)(void *)q->s;
                    for (size_t i = 0; i < ns; i++) h[i] = st_f32_to_f16(q->s[i]);
                    bytes -= ns * 2;
                }
            }
        }
        best = 1e30;
        for (int r = 0; r < reps * 2; r++) {
            double t0 = now();
            for (int l = 0; l < NL; l++) {
                RtLinear G = {.x = x, .w = d[l * 5].w, .w_up = d[l * 5 + 1].w, .y = y, .T = 1, .K = 1024, .N = 3072, .fmt = fmt, .scale = d[l * 5].s, .scale_up = d[l * 5 + 1].s, .act = RT_ACT_SILU,
                              .scale_f16 = f16};
                rt_linear(&G);
                for (int j = 2; j < 5; j++) {
                    RtLinear L = {.x = x, .w = d[l * 5 + j].w, .y = y, .T = 1, .K = d[l * 5 + j].K, .N = d[l * 5 + j].N, .fmt = fmt, .scale = d[l * 5 + j].s,
                                  .scale_f16 = f16};
                    rt_linear(&L);
                }
            }
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("decode  %s threads=%d: %.1f GB/s (%.2f ms per token of %d layers, %.0f MB%s)\n", names[fmt], threads, bytes / best * 1e-9, best * 1e3, NL,
               bytes / 1e6, f16 ? ", f16 scales" : fmt == RT_I8 || fmt == RT_I4 ? ", f32 scales" : "");
        for (int l = 0; l < NL * 5; l++) { free(d[l].w); free(d[l].e); free(d[l].s); }
        free(d); free(x); free(y);
    }
    return fails != 0;
}
