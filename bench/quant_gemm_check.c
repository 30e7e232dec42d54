/*
 * bench/quant_gemm_check.c — the correctness check of bench/quant_gemm.c
 * alone (no timings), for ctest (tests/quant_gemm.cmake): the int8 / int4 /
 * MXFP4 kernels of runtime/archc_quant.h against a double-precision reference,
 * with and without GLU, on quant_gemm.c's shapes (T = 1 with K up to 3072 and
 * partial blocks; T at and above the GEMM threshold with ragged token and row
 * tiles), at 1 and 2 threads.  Compiled -march=native (AVX-512 VNNI kernels
 * where the CPU has them, else AVX2) and -march=haswell (the AVX2 kernels);
 * exits 77 (skipped) when built without AVX2 or run on a CPU without it
 * (the other paths are tests/quant's test_quant_kernels).
 *
 *   quant_gemm_check        prints "check: ok" and exits 0, or FAIL lines and 1
 */
#define main quant_gemm_bench_main
#include "quant_gemm.c"
#undef main

int main(void) {
#if !defined(__AVX2__)
    printf("skipped: built without AVX2\n");
    return 77;
#else
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("skipped: this CPU has no AVX2/FMA\n");
        return 77;
    }
    /* the shapes of quant_gemm.c's main (keep the two lists alike) */
    static const int shapes[][3] = {{1, 1024, 64}, {1, 3072, 40}, {1, 2880, 24}, {1, 1000, 17}, {1, 200, 9}, {4, 1024, 40}, {128, 1024, 48},
                                    {33, 2880, 35}, {8, 100, 17}, {13, 64, 16}, {2, 640, 20}, {3, 1024, 19}};
    int fails = 0;
    for (int threads = 1; threads <= 2; threads++) {
        rt_threads_init(threads);
        for (int fmt = 4; fmt <= 6; fmt++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                for (int glu = 0; glu < 2; glu++) fails += check(fmt, shapes[i][0], shapes[i][1], shapes[i][2], glu);
    }
    printf("check: %s (%d cases)\n", fails ? "FAILED" : "ok", 2 * 3 * (int)(sizeof shapes / sizeof shapes[0]) * 2);
    return fails != 0;
#endif
}
