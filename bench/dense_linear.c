/*
 * bench/dense_linear.c — one dense matrix product of a prefill chunk
 * (runtime/archc_kernels.h's rt_linear: y[T][N] = x[T][K] · W[N][K]ᵀ) in
 * isolation, over M matrices used in turn so the weights come from memory as
 * in a model (default 16 matrices of 1024 × 3072: 96 MB of bf16, past any L3
 * of a 2-core slice).  Prints ms per product, GFLOP/s (2·T·K·N) and the
 * weights' GB/s, for f32, bf16 (exact: bf16 weights, f32 activations) and
 * bf16p (--precision=bf16: the activations rounded to bf16; on AVX512_BF16
 * the dot-product kernel, on AMX the tile kernel — ARCHC_AMX=0 switches the
 * tiles off, so one binary compares the two).
 *
 *   clang -O3 -march=native -Iruntime bench/dense_linear.c build/libarchc_rt.a -lm -lpthread -o dense_linear
 * (clang, as archc compiles the models in-process with clang: gcc schedules
 *  some kernels differently, e.g. the int4 decode GEMV ~1.4x slower from L2)
 *   ./dense_linear [threads] [T] [K] [N] [M] [reps] [formats: any of f32,bf16,bf16p]
 * The weights are on transparent huge pages, as in a model; DENSE_LINEAR_4K=1
 * in the environment leaves them on 4 KiB pages.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, T = argc > 2 ? atoi(argv[2]) : 128, K = argc > 3 ? atoi(argv[3]) : 1024;
    int N = argc > 4 ? atoi(argv[4]) : 3072, M = argc > 5 ? atoi(argv[5]) : 16, reps = argc > 6 ? atoi(argv[6]) : 3;
    const char *fmts = argc > 7 ? argv[7] : "f32,bf16,bf16p";
    if (threads < 1 || T < 1 || K < 1 || N < 1 || M < 1 || reps < 1) { fprintf(stderr, "usage: %s [threads] [T] [K] [N] [M] [reps] [formats]\n", argv[0]); return 2; }
    rt_threads_init(threads);
    float *x = (float *)rt_alloc(sizeof(float) * (size_t)T * K), *y = (float *)rt_alloc(sizeof(float) * (size_t)T * N);
    for (size_t i = 0; i < (size_t)T * K; i++) x[i] = frand();
    printf("T=%d K=%d N=%d, %d matrices, %d thread(s), AMX %s\n", T, K, N, M, threads, rt_amx_ready() ? "on" : "off");
    static const char *names[3] = {"f32", "bf16", "bf16p"};
    for (int f = 0; f < 3; f++) {
        if (!listed(fmts, names[f])) continue;
        int fmt = f == 0 ? RT_F32 : RT_BF16;
        size_t es = f == 0 ? 4 : 2, n = (size_t)N * K;
        void **w = (void **)malloc(sizeof(void *) * M);
        /* all M matrices in one mapping, on 2 MiB pages where the kernel grants
         * them, as a model's weights are (runtime/safetensors.c madvises its
         * buffer).  Even so, a decode product here (T = 1) does not predict the
         * model: on one Zen 4 core ARCHC_GEMV_STREAMS=2 read f32 rows at 27–30
         * GB/s against 22–24 row after row, while qwen3-0.6b's f32 decode with
         * it measured 7.9–10.4 tok/s against 9.2–10.6 (5 interleaved runs) */
        size_t stride = (es * n + 63) & ~(size_t)63, span = stride * (size_t)M + ((size_t)2 << 20);
        char *map = (char *)mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) { fprintf(stderr, "out of memory (%zu bytes of weights)\n", span); return 1; }
        char *base = (char *)(((uintptr_t)map + ((size_t)2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
        if (!getenv("DENSE_LINEAR_4K")) (void)madvise(base, stride * (size_t)M, MADV_HUGEPAGE);
        for (int m = 0; m < M; m++) {
            w[m] = base + stride * (size_t)m;
            for (size_t i = 0; i < n; i++) {
                float v = frand() * 0.05f;
                if (f == 0) ((float *)w[m])[i] = v;
                else ((uint16_t *)w[m])[i] = st_f32_to_bf16(v);
            }
        }
        rt_precision = f == 2 ? RT_PRECISION_BF16 : RT_PRECISION_F32;
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (int m = 0; m < M; m++) {
                RtLinear L = {.x = x, .w = w[m], .y = y, .T = T, .K = K, .N = N, .fmt = fmt};
                rt_linear(&L);
            }
            double dt = (now() - t0) / M;
            if (dt < best) best = dt;
        }
        printf("%-6s %8.3f ms  %7.1f GFLOP/s  %6.1f GB/s of weights\n", names[f], best * 1e3, 2.0 * T * K * N / best * 1e-9,
               (double)es * n / best * 1e-9);
        munmap(map, span);
        free(w);
    }
    rt_precision = RT_PRECISION_F32;
    return 0;
}
