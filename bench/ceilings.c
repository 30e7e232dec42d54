/*
 * bench/ceilings.c — the machine's ceilings, measured in the same run as the
 * model so that a noisy shared machine is compared against itself.
 *
 *   read bandwidth   GB/s streaming a 1 GiB f32 buffer (SIMD loads, summed)
 *                    with 1..N threads: the best of several read loops and
 *                    page sizes (see read_bandwidth below)
 *   FMA peak         f32 GFLOP/s of independent FMA chains held in registers
 *                    (the arithmetic roof: no memory traffic at all)
 *   sgemm            f32 GFLOP/s of OpenBLAS cblas_sgemm on 1024×1024×1024 if
 *                    libopenblas can be dlopen'ed (the practical matmul ceiling)
 *
 * Output: one "ceiling NAME=VALUE threads=N" line per measurement.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archc_kernels.h"

/* ── read bandwidth ───────────────────────────────────────────────────────────
 * Several read loops, each timed best of 5 over the whole buffer; the reported
 * read_bandwidth_gb_s is the best of them, so that it is at least what the
 * best code on this machine streams (a model's decode can't beat it).  Each
 * loop's own figure is printed on a "# read" comment line.
 *   fma4       four FMA accumulators over one stream, the buffer cut into 64
 *              chunks handed out by the archc thread pool (the original loop)
 *   add8       eight add accumulators, 8 cache lines per iteration
 *   streams4   each thread's part read as 4 interleaved streams
 *   pf-t0/nta  add8 with software prefetch 1 KiB / 4 KiB ahead (t0 / nta hint)
 *   rows4      the decode GEMV's pattern on AVX2 (rt_gemv_streams4_*): the
 *              part cut into 12 MiB "matrices" of 4 KiB rows, each matrix
 *              into 4 quarters, row i of every quarter read one after another
 *              (on one Zen 3 core 18–24 GB/s where streams4, whose streams
 *              are 64 MiB apart, read 11–13)
 * The add8/streams4/pf loops split 256 MiB of the buffer statically, one
 * contiguous part per thread (pthreads), best of 12 passes.  Each is run on a 4 KiB-page buffer and, where the
 * kernel grants transparent huge pages on madvise, on a 2 MiB-page one ("+thp").
 */
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

#if RT_VL
#define ADD_LINE(acc, q) acc = rt_vadd(acc, rt_vload_f32(q))
static inline rt_vec rt_vadd(rt_vec a, rt_vec b) { return a + b; }
#endif

enum { RD_ADD8, RD_STREAMS4, RD_PF_T0, RD_PF_NTA, RD_ROWS4, RD_N };
static const char *rd_name[RD_N] = {"add8", "streams4", "pf-t0", "pf-nta", "rows4"};

static float rd_add8(const float *p, size_t n, int pf) {
    float s = 0;
#if RT_VL
    /* 128 floats (8 cache lines) per iteration into 8 accumulators; pf 1:
     * prefetch 1 KiB ahead into all levels, pf 2: 4 KiB ahead, non-temporal */
    rt_vec a[8];
    for (int j = 0; j < 8; j++) a[j] = rt_vzero();
    for (size_t k = 0; k < n; k += 128) {
        if (pf == 1)
            for (int l = 0; l < 128; l += 16) __builtin_prefetch(p + k + 256 + l, 0, 3);
        if (pf == 2)
            for (int l = 0; l < 128; l += 16) __builtin_prefetch(p + k + 1024 + l, 0, 0);
        for (int j = 0; j < 128 / RT_VL; j++) ADD_LINE(a[j & 7], p + k + j * RT_VL);
    }
    for (int j = 0; j < 8; j++) s += rt_vsum(a[j]);
#else
    (void)pf;
    for (size_t k = 0; k < n; k++) s += p[k];
#endif
    return s;
}

static float rd_streams4(const float *p, size_t n) {
    float s = 0;
    size_t q = n / 4 / 64 * 64;
    const float *p0 = p, *p1 = p + q, *p2 = p + 2 * q, *p3 = p + 3 * q;
#if RT_VL
    rt_vec a[8];
    for (int j = 0; j < 8; j++) a[j] = rt_vzero();
    for (size_t k = 0; k < q; k += 32) { /* two cache lines from each stream */
        for (int j = 0; j < 32 / RT_VL; j++) {
            ADD_LINE(a[0 + (j & 1)], p0 + k + j * RT_VL);
            ADD_LINE(a[2 + (j & 1)], p1 + k + j * RT_VL);
            ADD_LINE(a[4 + (j & 1)], p2 + k + j * RT_VL);
            ADD_LINE(a[6 + (j & 1)], p3 + k + j * RT_VL);
        }
    }
    for (int j = 0; j < 8; j++) s += rt_vsum(a[j]);
#else
    for (size_t k = 0; k < q; k++) s += p0[k] + p1[k] + p2[k] + p3[k];
#endif
    for (size_t k = 4 * q; k < n; k++) s += p[k];
    return s;
}

static float rd_rows4(const float *p, size_t n) {
    float s = 0;
    const size_t row = 1024, rows = 3072, mat = row * rows, part = rows / 4;   /* 4 KiB rows, 12 MiB matrices */
    size_t m0 = 0;
#if RT_VL
    rt_vec a[8];
    for (int j = 0; j < 8; j++) a[j] = rt_vzero();
    for (; m0 + mat <= n; m0 += mat)
        for (size_t i = 0; i < part; i++) {
            const float *r0 = p + m0 + i * row, *r1 = r0 + part * row, *r2 = r1 + part * row, *r3 = r2 + part * row;
            for (size_t k = 0; k < row; k += 2 * RT_VL) {
                ADD_LINE(a[0], r0 + k); ADD_LINE(a[1], r0 + k + RT_VL);
                ADD_LINE(a[2], r1 + k); ADD_LINE(a[3], r1 + k + RT_VL);
                ADD_LINE(a[4], r2 + k); ADD_LINE(a[5], r2 + k + RT_VL);
                ADD_LINE(a[6], r3 + k); ADD_LINE(a[7], r3 + k + RT_VL);
            }
        }
    for (int j = 0; j < 8; j++) s += rt_vsum(a[j]);
#endif
    return s + rd_add8(p + m0, n - m0, 0);   /* the last part of a matrix (n − m0: a multiple of 128) */
}

typedef struct { const float *p; size_t n; int method; pthread_barrier_t *bar; double t0, t1; float sum; } RdArg;

static void *rd_thread(void *v) {
    RdArg *a = v;
    pthread_barrier_wait(a->bar);
    a->t0 = rt_now();
    switch (a->method) {
    case RD_ADD8: a->sum = rd_add8(a->p, a->n, 0); break;
    case RD_STREAMS4: a->sum = rd_streams4(a->p, a->n); break;
    case RD_ROWS4: a->sum = rd_rows4(a->p, a->n); break;
    case RD_PF_T0: a->sum = rd_add8(a->p, a->n, 1); break;
    default: a->sum = rd_add8(a->p, a->n, 2); break;
    }
    a->t1 = rt_now();
    return NULL;
}

/* GB/s of one pass of METHOD over buf[0..n) with TH threads, static split */
static double rd_pass(const float *buf, size_t n, int th, int method) {
    pthread_t tid[64];
    RdArg arg[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)th);
    size_t part = n / (size_t)th / 128 * 128;
    for (int t = 0; t < th; t++) {
        arg[t] = (RdArg){.p = buf + (size_t)t * part, .n = part, .method = method, .bar = &bar};
        if (t) pthread_create(&tid[t], NULL, rd_thread, &arg[t]);
    }
    rd_thread(&arg[0]);
    double t0 = arg[0].t0, t1 = arg[0].t1;
    for (int t = 1; t < th; t++) {
        pthread_join(tid[t], NULL);
        if (arg[t].t0 < t0) t0 = arg[t].t0;
        if (arg[t].t1 > t1) t1 = arg[t].t1;
    }
    pthread_barrier_destroy(&bar);
    volatile float sink = 0;
    for (int t = 0; t < th; t++) sink += arg[t].sum;
    (void)sink;
    return (double)part * th * 4 / (t1 - t0) / 1e9;
}

/* best read bandwidth over every loop and both page sizes, with TH threads */
static double read_bandwidth(float *buf, float *thp, size_t n, int th) {
    double best = 0;
    rt_threads_init(th);
    BwCtx c = {.buf = buf, .n = n};
    double b0 = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = rt_now();
        rt_parallel_for(64, bw_range, &c);
        double gbs = (double)n * 4 / (rt_now() - t0) / 1e9;
        if (gbs > b0) b0 = gbs;
    }
    rt_threads_shutdown();
    printf("# read fma4 threads=%d gb_s=%.2f\n", th, b0);
    best = b0;
    for (int pg = 0; pg < 2; pg++) {
        const float *b = pg ? thp : buf;
        if (!b) continue;
        for (int m = 0; m < RD_N; m++) {
            double bm = 0;
            /* 12 passes over a quarter of the buffer each (256 MiB, 8x the
             * largest L3 here), moving through it: more tries at an
             * undisturbed moment on a shared machine */
            for (int rep = 0; rep < 12; rep++) {
                double g = rd_pass(b + (size_t)(rep % 4) * (n / 4), n / 4, th, m);
                if (g > bm) bm = g;
            }
            printf("# read %s%s threads=%d gb_s=%.2f\n", rd_name[m], pg ? "+thp" : "", th, bm);
            if (bm > best) best = bm;
        }
    }
    return best;
}

typedef struct { int iters; double flops[64]; } FmaCtx;

static void fma_range(void *ctx, int b, int e) {
    FmaCtx *c = ctx;
    for (int i = b; i < e; i++) {
#if RT_VL
        /* Operands the compiler cannot see (volatile): with constant zeros it
         * may fold FMAs away, and the count then exceeds the machine (this
         * loop once reported 350 GFLOP/s per Zen 4 core, about 3× its peak). */
        volatile float seed_x = 0.999999f, seed_y = 1e-6f, seed_a = 1.0f;
        rt_vec a[12];
        rt_vec x = rt_vset1(seed_x), y = rt_vset1(seed_y);
        for (int k = 0; k < 12; k++) a[k] = rt_vset1(seed_a + (float)k);
        for (int it = 0; it < c->iters; it++) {
            for (int k = 0; k < 12; k++) a[k] = rt_vfma(x, a[k], y);   /* a = x·a + y: a chain per register */
            __asm__ __volatile__("" ::: "memory");
        }
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
    /* the same buffer again on transparent huge pages, where madvise gets them */
    float *thp = NULL;
    void *thp_map = mmap(NULL, n * sizeof(float) + ((size_t)2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (thp_map != MAP_FAILED) {
        thp = (float *)(((uintptr_t)thp_map + ((size_t)2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
        if (madvise(thp, n * sizeof(float), MADV_HUGEPAGE) != 0) { munmap(thp_map, n * sizeof(float) + ((size_t)2 << 20)); thp = NULL; thp_map = MAP_FAILED; }
        else memcpy(thp, buf, n * sizeof(float));
    }
    for (int th = 1; th <= max_threads; th++) {
        printf("ceiling read_bandwidth_gb_s=%.2f threads=%d\n", read_bandwidth(buf, thp, n, th), th);
        fflush(stdout);
        rt_threads_init(th);
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
    if (thp_map != MAP_FAILED) munmap(thp_map, n * sizeof(float) + ((size_t)2 << 20));

    const char *libs[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    void *h = NULL;
    for (unsigned i = 0; i < 3 && !h; i++) h = dlopen(libs[i], RTLD_NOW);
    sgemm_fn sgemm = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    void (*set_threads)(int) = h ? (void (*)(int))dlsym(h, "openblas_set_num_threads") : NULL;
    if (!sgemm) {
        printf("ceiling sgemm_gflops=unavailable (no libopenblas: apt-get install libopenblas0)\n");
        return 0;
    }
    /* libblas.so.3 may be the netlib reference BLAS (a few GFLOP/s): that is
     * no ceiling; only an optimised BLAS (OpenBLAS, BLIS) counts */
    if (!set_threads && !dlsym(h, "bli_thread_set_num_threads")) {
        printf("ceiling sgemm_gflops=unavailable (libblas.so.3 is not OpenBLAS or BLIS: apt-get install libopenblas0)\n");
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
