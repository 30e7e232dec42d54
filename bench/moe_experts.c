/*
 * bench/moe_experts.c — one routed MoE layer (runtime/archc_kernels.h's
 * rt_moe: routing, the experts' SwiGLU, the weighted sum) in isolation, on the
 * qwen3-30b-a3b shape by default (H = 2048, I = 768, 128 experts, top 8), the
 * experts out of cache (one layer's experts are 2.4 GB in f32, 1.2 GB in
 * bf16), for a chunk of T tokens.  Prints ms per layer, the experts' GFLOP/s
 * (2·3·H·I per token and expert) and GB/s (bytes of the experts that got a
 * token), for f32, bf16 and bf16 with --precision=bf16's vdpbf16ps path.
 *
 * Routing: random router rows; "skew" mixes a shared direction into every
 * token (x_t = skew·c + (1 − skew)·noise_t), which makes tokens pick the same
 * experts, as real prompts (and the bench model's random-weight prompts) do:
 * skew 0 gives about T·k/E tokens per expert, skew 0.5 a few experts with
 * 40–80 tokens and many with none or one.  The histogram of tokens per expert
 * is printed.
 *
 *   clang -O3 -march=native -Iruntime bench/moe_experts.c build/libarchc_rt.a -lm -lpthread -o moe_experts
 * (clang, as archc compiles the models in-process with clang: gcc schedules
 *  some kernels differently, e.g. the int4 decode GEMV ~1.4x slower from L2)
 *   ./moe_experts [threads] [T] [skew] [reps] [formats: any of f32,bf16,bf16p]
 * Build it twice against two copies of runtime/ to compare kernels in one run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "archc_rt.h"
#include "archc_kernels.h"

static unsigned long long rng = 88172645463325252ULL;
static float frand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

/* is name one of the comma-separated items of list? */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void *weights(int fmt, size_t n, float scale) {
    if (fmt == RT_F32) {
        float *w = (float *)rt_alloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) w[i] = frand() * scale;
        return w;
    }
    uint16_t *w = (uint16_t *)rt_alloc(sizeof(uint16_t) * n);
    for (size_t i = 0; i < n; i++) w[i] = st_f32_to_bf16(frand() * scale);
    return w;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, T = argc > 2 ? atoi(argv[2]) : 128, reps = argc > 4 ? atoi(argv[4]) : 5;
    float skew = argc > 3 ? (float)atof(argv[3]) : 0.5f;
    const char *fmts = argc > 5 ? argv[5] : "f32,bf16,bf16p";
    int H = 2048, I = 768, E = 128, K = 8;
    if (T < 1 || reps < 1) { fprintf(stderr, "usage: moe_experts [threads] [T] [skew] [reps] [f32,bf16,bf16p]\n"); return 2; }
    rt_threads_init(threads);
    float *x = (float *)rt_alloc(sizeof(float) * (size_t)T * H), *c = (float *)malloc(sizeof(float) * H);
    for (int h = 0; h < H; h++) c[h] = frand();
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) x[(size_t)t * H + h] = skew * c[h] + (1 - skew) * frand();
    float *router = (float *)weights(RT_F32, (size_t)E * H, 0.05f), *y = (float *)rt_alloc(sizeof(float) * (size_t)T * H);
    printf("moe layer: T=%d H=%d I=%d E=%d top-%d skew=%.2f threads=%d, best of %d\n", T, H, I, E, K, skew, threads, reps);
    for (int f = 0; f < 3; f++) {
        static const char *name[3] = {"f32", "bf16", "bf16p"};
        if (!listed(fmts, name[f])) continue;
        int fmt = f == 0 ? RT_F32 : RT_BF16;
        rt_precision = f == 2 ? RT_PRECISION_BF16 : RT_PRECISION_F32;
        const void **g = (const void **)malloc(sizeof(void *) * 3 * E), **u = g + E, **d = g + 2 * E;
        for (int e = 0; e < E; e++) {
            g[e] = weights(fmt, (size_t)I * H, 0.03f);
            u[e] = weights(fmt, (size_t)I * H, 0.03f);
            d[e] = weights(fmt, (size_t)H * I, 0.03f);
        }
        RtMoe M = {.x = x, .y = y, .router = router, .gate = g, .up = u, .down = d, .T = T, .H = H, .I = I, .E = E, .K = K,
                   .fmt = fmt, .normalize = 1, .grouped = 1, .router_fmt = RT_F32};
        /* tokens per expert, from the same routing rt_moe computes */
        float *l = (float *)malloc(sizeof(float) * E), wt[64];
        int sel[64], *cnt = (int *)calloc(E, sizeof(int)), hist[6] = {0}, active = 0;
        for (int t = 0; t < T; t++) {
            for (int e = 0; e < E; e++) {
                float s = 0;
                for (int h = 0; h < H; h++) s += x[(size_t)t * H + h] * router[(size_t)e * H + h];
                l[e] = s;
            }
            rt_moe_route(&M, l, sel, wt);
            for (int k = 0; k < K; k++) cnt[sel[k]]++;
        }
        for (int e = 0; e < E; e++) {
            int n = cnt[e];
            active += n > 0;
            hist[n == 0 ? 0 : n < 4 ? 1 : n < 12 ? 2 : n < 24 ? 3 : n < 48 ? 4 : 5]++;
        }
        double best = 1e9;
        for (int r = 0; r < reps + 1; r++) {   /* the first run warms up */
            double t0 = now();
            rt_moe(&M);
            double dt = now() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        double flop = 2.0 * 3 * H * I * (double)T * K, bytes = (double)active * 3 * H * I * (fmt == RT_F32 ? 4 : 2);
        printf("%-6s %8.2f ms  %7.1f GFLOP/s  %6.1f GB/s   experts by tokens: 0:%d 1-3:%d 4-11:%d 12-23:%d 24-47:%d 48+:%d\n", name[f],
               best * 1e3, flop / best * 1e-9, bytes / best * 1e-9, hist[0], hist[1], hist[2], hist[3], hist[4], hist[5]);
        for (int e = 0; e < E; e++) {
            rt_free((void *)g[e]);
            rt_free((void *)u[e]);
            rt_free((void *)d[e]);
        }
        free(g);
        free(l);
        free(cnt);
    }
    return 0;
}
