/*
 * tests/quant/test_quant_kernels.c — rt_linear on int8 / int4 / MXFP4 weights
 * (runtime/archc_quant.h) against a double-precision reference over the same
 * decoded weights and the same per-block int8 activations.  Shapes cover a
 * partial last block (K % 32 != 0), N not a multiple of the row tile, T = 1
 * (decode) and T not a multiple of the token tile, GLU, bias and residual.
 * Built natively and for AArch64 (NEON, with and without dot product) under qemu.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archc_rt.h"
#include "archc_kernels.h"

static unsigned long long rng = 88172645463325252ULL;
static float frand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }

static const float e2m1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

/* v rounded to f16 (nearest; |v| < 65504), its bits in *h: written here, not
 * taken from the runtime */
static float to_f16(float v, uint16_t *h) {
    if (fabsf(v) < ldexpf(1, -14)) {   /* zero and subnormals: multiples of 2^-24, the bits are the multiple */
        int m = (int)lrintf(ldexpf(fabsf(v), 24));
        *h = (uint16_t)((v < 0 ? 0x8000 : 0) | m);
        return copysignf(ldexpf((float)m, -24), v);
    }
    int ex;
    float fr = frexpf(fabsf(v), &ex);              /* |v| = fr · 2^ex, fr in [0.5, 1) */
    int m = (int)lrintf(ldexpf(fr, 11));           /* 11 significant bits: 1024 … 2048 */
    if (m == 2048) { m = 1024; ex++; }
    *h = (uint16_t)((v < 0 ? 0x8000 : 0) | (ex - 1 + 15) << 10 | (m - 1024));
    return copysignf(ldexpf((float)m, ex - 11), v);
}

/* quantise W [N][K] into w/scale in fmt (int8 / int4 scales f16 into sh when
 * sh is given, else f32 into sc); also return the decoded weights in deq */
static void quantise(int fmt, int N, int K, const float *W, uint8_t *w, float *sc, uint16_t *sh, uint8_t *e8, float *deq) {
    int nb = (K + 31) / 32;
    for (int n = 0; n < N; n++)
        for (int b = 0; b < nb; b++) {
            float x[32] = {0}, amax = 0, m = 0;
            for (int i = 0; i < 32 && b * 32 + i < K; i++) x[i] = W[(size_t)n * K + b * 32 + i];
            for (int i = 0; i < 32; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); m = x[i]; }
            for (int i = 0; i < 32; i++) {
                int k = b * 32 + i;
                float v;
                if (fmt == RT_I8) {
                    float d = amax / 127;
                    if (sh) d = to_f16(d, &sh[n * nb + b]);
                    int q = d > 0 ? (int)roundf(x[i] / d) : 0;
                    q = q < -127 ? -127 : q > 127 ? 127 : q;
                    if (k < K) w[(size_t)n * K + k] = (uint8_t)(int8_t)q;
                    sc[n * nb + b] = d;
                    v = q * d;
                } else if (fmt == RT_I4) {
                    float d = m / -8;
                    if (sh) d = to_f16(d, &sh[n * nb + b]);
                    int q = d != 0 ? (int)roundf(x[i] / d) : 0;
                    q = q < -8 ? -8 : q > 7 ? 7 : q;
                    uint8_t *p = &w[((size_t)n * nb + b) * 16 + i / 2];
                    *p = (uint8_t)(i & 1 ? (*p & 15) | ((q + 8) << 4) : (*p & 0xF0) | (q + 8));
                    sc[n * nb + b] = d;
                    v = q * d;
                } else {
                    int ex = 0;
                    frexpf(amax, &ex);
                    int e = amax > 0 ? ex - 3 : -127;
                    float s = ldexpf(1, e), a = fabsf(x[i]) / s;
                    int c = 0;
                    for (int j = 1; j < 8; j++) if (fabsf(e2m1[j] - a) < fabsf(e2m1[c] - a)) c = j;
                    if (x[i] < 0) c |= 8;
                    uint8_t *p = &w[((size_t)n * nb + b) * 16 + i / 2];
                    *p = (uint8_t)(i & 1 ? (*p & 15) | (c << 4) : (*p & 0xF0) | c);
                    e8[n * nb + b] = (uint8_t)(e + 127);
                    v = (c & 8 ? -1 : 1) * e2m1[c & 7] * s;
                }
                if (k < K) deq[(size_t)n * K + k] = v;
            }
        }
}

/* the activations as the kernel quantises them */
static void qact(const float *x, int K, float *xq) {
    for (int b = 0; b * 32 < K; b++) {
        float amax = 0;
        for (int i = b * 32; i < K && i < b * 32 + 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127, id = d > 0 ? 1 / d : 0;
        for (int i = b * 32; i < K && i < b * 32 + 32; i++) xq[i] = (float)lrintf(x[i] * id) * d;
    }
}

int main(void) {
    /* decode (T = 1): whole groups of 16 blocks, a partial group and tail blocks, a partial last block */
    static const int shapes[][3] = {{1, 64, 8},   {1, 96, 13},  {1, 48, 9},   {1, 1024, 20}, {1, 736, 9},
                                    {1, 1000, 5}, {5, 64, 16},  {7, 80, 11},  {3, 1024, 40}, {9, 33, 3},
                                    {5, 80, 96},  {10, 80, 96}, {12, 80, 33}, {3, 112, 40}};
    int fails = 0;
    rt_threads_init(2);
    /* int8, int4, MXFP4, then int8 and int4 with f16 block scales (RtLinear.scale_f16) */
    for (int fi = 0; fi < 5; fi++) {
        int fmt = fi == 0 || fi == 3 ? RT_I8 : fi == 1 || fi == 4 ? RT_I4 : 4 /* RT_MXFP4 */, f16 = fi >= 3;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int glu = 0; glu < 2; glu++) {
                int T = shapes[si][0], K = shapes[si][1], N = shapes[si][2], nb = (K + 31) / 32;
                if (fmt != RT_I8 && K % 2) continue;
                float *W = malloc(sizeof(float) * N * K), *U = malloc(sizeof(float) * N * K), *dw = malloc(sizeof(float) * N * K),
                      *du = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * T * K), *xq = malloc(sizeof(float) * T * K),
                      *y = malloc(sizeof(float) * T * N), *res = malloc(sizeof(float) * T * N), *bias = malloc(sizeof(float) * N),
                      *sw = calloc((size_t)N * nb, 4), *su = calloc((size_t)N * nb, 4);
                uint16_t *hw = calloc((size_t)N * nb, 2), *hu = calloc((size_t)N * nb, 2);
                uint8_t *qw = calloc((size_t)N * nb * 32, 1), *qu = calloc((size_t)N * nb * 32, 1), *ew = calloc((size_t)N * nb, 1),
                        *eu = calloc((size_t)N * nb, 1);
                for (int i = 0; i < N * K; i++) { W[i] = frand() * 0.1f; U[i] = frand() * 0.1f; }
                for (int i = 0; i < K && N > 2 && !f16; i++) W[K + i] *= 1e-36f;   /* row 1: MXFP4 exponents near e8m0's bottom (2^-127) */
                for (int i = 0; i < T * K; i++) x[i] = frand() * 3;
                for (int i = 0; i < T * N; i++) res[i] = frand();
                for (int i = 0; i < N; i++) bias[i] = frand();
                quantise(fmt, N, K, W, qw, sw, f16 ? hw : NULL, ew, dw);
                quantise(fmt, N, K, U, qu, su, f16 ? hu : NULL, eu, du);
                for (int t = 0; t < T; t++) qact(x + (size_t)t * K, K, xq + (size_t)t * K);
                const float *s1 = fmt == 4 ? (const float *)(const void *)ew : f16 ? (const float *)(const void *)hw : sw,
                            *s2 = fmt == 4 ? (const float *)(const void *)eu : f16 ? (const float *)(const void *)hu : su;
                RtLinear L = {.x = x, .w = qw, .y = y, .T = T, .K = K, .N = N, .fmt = fmt, .scale = s1, .bn = 1, .bk = 32, .b = bias,
                              .scale_f16 = f16};
                if (glu) { L.w_up = qu; L.scale_up = s2; L.act = RT_ACT_SILU; }
                else L.res = res;
                rt_linear(&L);
                double worst = 0;
                for (int t = 0; t < T; t++)
                    for (int n = 0; n < N; n++) {
                        double g = 0, u = 0, mag = 1e-6;
                        for (int k = 0; k < K; k++) {
                            g += (double)dw[(size_t)n * K + k] * xq[(size_t)t * K + k];
                            u += (double)du[(size_t)n * K + k] * xq[(size_t)t * K + k];
                            mag += fabs((double)dw[(size_t)n * K + k] * xq[(size_t)t * K + k]);
                        }
                        g += bias[n];
                        double want = glu ? g / (1 + exp(-g)) * u : res[(size_t)t * N + n] + g;
                        double err = fabs(want - y[(size_t)t * N + n]) / (mag + fabs(want));
                        if (err > worst) worst = err;
                    }
                int ok = worst < 2e-5;
                fails += !ok;
                printf("%s fmt %d%s T=%d K=%d N=%d%s: rel err %.3g\n", ok ? "ok:  " : "FAIL:", fmt, f16 ? " (f16 scales)" : "", T, K, N,
                       glu ? " glu" : " bias+res", worst);
                if (!glu) {   /* one row back to f32 (embedding lookups, MLA's kv_b rows): the reference's decoded weights */
                    float *row = malloc(sizeof(float) * K);
                    int bad = -1;
                    for (int n = 0; n < N && bad < 0; n++) {
                        rt_q_row_to_f32(qw, s1, fmt, f16, K, n, row);
                        for (int k = 0; k < K; k++)
                            if (fabsf(row[k] - dw[(size_t)n * K + k]) > 1e-6f * fabsf(dw[(size_t)n * K + k])) { bad = n * K + k; break; }
                    }
                    fails += bad >= 0;
                    printf("%s fmt %d K=%d N=%d: rows to f32%s\n", bad < 0 ? "ok:  " : "FAIL:", fmt, K, N, bad < 0 ? "" : " differ");
                    free(row);
                }
                free(W); free(U); free(dw); free(du); free(x); free(xq); free(y); free(res); free(bias); free(sw); free(su);
                free(qw); free(qu); free(ew); free(eu); free(hw); free(hu);
            }
    }
    printf("%s\n", fails ? "FAILED" : "all quantised linear cases agree");
    return fails != 0;
}
