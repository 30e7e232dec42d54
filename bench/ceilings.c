/*
 * bench/ceilings.c — the machine's ceilings, measured in the same run as the
 * model so that a noisy shared machine is compared against itself.
 *
 *   read bandwidth   GB/s streaming a 1 GiB f32 buffer (SIMD loads, summed),
 *                    with 1 and with N threads of the archc thread pool
 *   FMA peak         f32 GFLOP/s of independent FMA chains held in registers
 *                    (the arithmetic roof: no memory traffic at all)
 *   sgemm            f32 GFLOP/s of OpenBLAS cblas_sgemm on 1024×1024×1024 if
 *                    libopenblas can be dlopen'ed (the practical matmul ceiling)
 *
 * Output: one "ceiling NAME=VALUE threads=N" line per measurement.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archc_kernels.h"

typedef struct { const float *buf; size_t n; double sums[64]; } BwCtx;

static void bw_range(void *ctx, int b, int e) {
    BwCtx *c = ctx;
    size_t chunk = c->n / 64;
    for (int i = b; i < e; i++) {
        const float *p = c->buf + (size_t)i * chunk;
        float s = 0;
#if RT_VL
        rt_vec a0 = rt_vzero(), a1 = rt_vzero(), a2 = rt_vzero(), a3 = rt_vzero();
        for (size_t k = 0; k + 4 * RT_VL <= chunk; k += 4 * RT_VL) {
            a0 = rt_vfma(rt_vload_f32(p + k), rt_vload_f32(p + k), a0);
            a1 = rt_vfma(rt_vload_f32(p + k + RT_VL), rt_vload_f32(p + k + RT_VL), a1);
            a2 = rt_vfma(rt_vload_f32(p + k + 2 * RT_VL), rt_vload_f32(p + k + 2 * RT_VL), a2);
            a3 = rt_vfma(rt_vload_f32(p + k + 3 * RT_VL), rt_vload_f32(p + k + 3 * RT_VL), a3);
        }
        s = rt_vsum(a0) + rt_vsum(a1) + rt_vsum(a2) + rt_vsum(a3);
#else
        for (size_t k = 0; k < chunk; k++) s += p[k] * p[k];
#endif
        c->sums[i] = s;
    }
}

typedef struct { int iters; double flops[64]; } FmaCtx;

static void fma_range(void *ctx, int b, int e) {
    FmaCtx *c = ctx;
    for (int i = b; i < e; i++) {
#if RT_VL
        rt_vec a[12];
        rt_vec x = rt_vzero(), y = rt_vzero();
        for (int k = 0; k < 12; k++) a[k] = rt_vzero();
        for (int it = 0; it < c->iters; it++)
            for (int k = 0; k < 12; k++) a[k] = rt_vfma(x, y, a[k]);
        float s = 0;
        for (int k = 0; k < 12; k++) s += rt_vsum(a[k]);
        c->flops[i] = 2.0 * RT_VL * 12 * c->iters + s;
#else
        c->flops[i] = 0;
#endif
    }
}

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

int main(int argc, char **argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t n = (size_t)1 << 28; /* 1 GiB of f32 */
    float *buf = rt_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023) * 1e-3f;
    for (int th = 1; th <= max_threads; th++) {
        rt_threads_init(th);
        BwCtx c = {.buf = buf, .n = n};
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = rt_now();
            rt_parallel_for(64, bw_range, &c);
            double dt = rt_now() - t0;
            double gbs = (double)n * 4 / dt / 1e9;
            if (gbs > best) best = gbs;
        }
        printf("ceiling read_bandwidth_gb_s=%.2f threads=%d\n", best, th);
        FmaCtx f = {.iters = 20000000 / 12};
        double t0 = rt_now();
        rt_parallel_for(th, fma_range, &f);
        double dt = rt_now() - t0;
        double flops = 0;
        for (int i = 0; i < th; i++) flops += f.flops[i];
        printf("ceiling fma_peak_gflops=%.1f threads=%d\n", flops / dt / 1e9, th);
        rt_threads_shutdown();
    }
    rt_free(buf);

    const char *libs[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    void *h = NULL;
    for (unsigned i = 0; i < 3 && !h; i++) h = dlopen(libs[i], RTLD_NOW);
    sgemm_fn sgemm = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    void (*set_threads)(int) = h ? (void (*)(int))dlsym(h, "openblas_set_num_threads") : NULL;
    if (!sgemm) {
        printf("ceiling sgemm_gflops=unavailable (no libopenblas: apt-get install libopenblas0)\n");
        return 0;
    }
    int m = 1024;
    float *A = rt_alloc(sizeof(float) * m * m), *B = rt_alloc(sizeof(float) * m * m), *C = rt_alloc(sizeof(float) * m * m);
    for (int i = 0; i < m * m; i++) { A[i] = (float)(i % 7) * 0.1f; B[i] = (float)(i % 5) * 0.1f; }
    for (int th = 1; th <= max_threads; th++) {
        if (set_threads) set_threads(th);
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = rt_now();
            sgemm(101, 111, 112, m, m, m, 1.0f, A, m, B, m, 0.0f, C, m); /* row-major, A·Bᵀ like a linear layer */
            double dt = rt_now() - t0;
            double g = 2.0 * m * m * m / dt / 1e9;
            if (g > best) best = g;
        }
        printf("ceiling sgemm_gflops=%.1f threads=%d\n", best, th);
    }
    return 0;
}
