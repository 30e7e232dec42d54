/*
 * runtime/archc_kernels.h — the SIMD building blocks the generated code calls.
 *
 * Generated model files emit the simple kernels (norms, RoPE, GLU, adds, cache
 * writes) as plain loops with every dimension a literal.  The two kernels whose
 * speed decides the whole model live here, as static inline functions, so that
 * each specialised wrapper in the generated file (e.g. linear_bf16_3072x1024)
 * inlines them with its literal dimensions:
 *
 *   rt_linear     y[T][N] = act?( x[T][K] · W[N][K]ᵀ + b ) (+ residual), or the
 *                 GLU form act(x·Wgᵀ + bg) ⊙ (x·Wuᵀ + bu).  W is f32, bf16 or f16
 *                 (row-major [out, in], exactly as in the checkpoint), x and y f32.
 *                 Work is split over output rows across the thread pool; each
 *                 thread computes register tiles of TT tokens × TN rows, so a row
 *                 of W is read once per TT tokens (prefill: matrix-matrix) and
 *                 exactly once per token in decode (T = 1: a GEMV streaming W).
 *   rt_attention  causal / sliding-window / chunked softmax attention over the
 *                 KV cache for T query tokens, GQA heads grouped contiguously.
 *
 * ISA: AVX-512F (16-wide), AVX2+FMA (8-wide), NEON on AArch64 (4-wide), or
 * portable scalar C, chosen by the compiler flags of the generated file
 * (-march=native by default).
 */
#ifndef ARCHC_KERNELS_H
#define ARCHC_KERNELS_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "archc_rt.h"
#include "safetensors.h"   /* st_f32_to_bf16 (--precision bf16) */

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

enum { RT_F32 = 0, RT_BF16 = 1, RT_F16 = 2, RT_FP8 = 3 }; /* weight formats     */
enum { RT_ACT_NONE = 0, RT_ACT_SILU = 1, RT_ACT_GELU_TANH = 2 };

static inline float rt_bf16(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

static inline float rt_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 1024));
            u = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 1023) << 13;
        }
    } else if (exp == 31) u = sign | 0x7f800000u | man << 13;
    else u = sign | (exp + 127 - 15) << 23 | man << 13;
    union { uint32_t u; float f; } v = {u};
    return v.f;
}

/* float8 e4m3 (s eeee mmm, bias 7; DeepSeek FP8 checkpoints) read as the f16
 * with the same sign, exponent and mantissa bits shifted into place: that f16 is
 * exactly the e4m3 value / 256 (normal and subnormal alike; the f16 exponent bias
 * is 15, not 7), so the kernels widen fp8 like f16 and fold the 256 into the
 * block scale.  0x7F/0xFF (NaN in e4m3) never occur in weights. */
static inline uint16_t rt_fp8_f16bits(uint8_t b) { return (uint16_t)(((b & 0x80u) << 8) | ((b & 0x7Fu) << 7)); }
static inline float rt_fp8_raw(uint8_t b) { return rt_f16(rt_fp8_f16bits(b)); }   /* value / 256 */
#define RT_FP8_RAW_SCALE 256.0f

/* Scalar weight element k of a row in format fmt (fp8: before its block scale). */
static inline float rt_wget(const void *row, int fmt, int k) {
    if (fmt == RT_F32) return ((const float *)row)[k];
    if (fmt == RT_BF16) return rt_bf16(((const uint16_t *)row)[k]);
    if (fmt == RT_FP8) return rt_fp8_raw(((const uint8_t *)row)[k]) * RT_FP8_RAW_SCALE;
    return rt_f16(((const uint16_t *)row)[k]);
}

static inline size_t rt_wsize(int fmt) { return fmt == RT_F32 ? 4 : fmt == RT_FP8 ? 1 : 2; }

/* *slot (−1 until set) computed by f once: the kernels' start-up knobs (an
 * environment variable, the CPU vendor).  Threads may race to it; they all
 * compute the same value, so the race is harmless. */
static inline int rt_once(int *slot, int (*f)(void)) {
    int v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (v < 0) {
        v = f();
        __atomic_store_n(slot, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* Widen one row of n weights to f32 (embedding lookups, MLA's kv_b rows). */
static inline void rt_row_to_f32(const void *row, int fmt, int n, float *out) {
    if (fmt == RT_F32) { memcpy(out, row, (size_t)n * 4); return; }
    if (fmt == RT_BF16) {  /* a shift per element: the compiler vectorises it */
        const uint16_t *h = (const uint16_t *)row;
        for (int i = 0; i < n; i++) {
            uint32_t u = (uint32_t)h[i] << 16;
            memcpy(out + i, &u, 4);
        }
        return;
    }
    int i = 0;
#if defined(__AVX512F__)
    if (fmt == RT_F16)   /* 16 at a time, vcvtph2ps (exact, as rt_f16) */
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i))));
#endif
    for (; i < n; i++) out[i] = rt_wget(row, fmt, i);
}

static inline float rt_silu(float x) { return x / (1.0f + expf(-x)); }
static inline float rt_gelu_tanh(float x) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

#if defined(__AVX512F__)
/* e^x for 16 floats: x = k·ln2 + r (ln2 in two parts), e^r by its Taylor
 * polynomial of degree 7 on |r| ≤ ln2/2 (truncation below 1e-8 relative), 2^k
 * by vscalefps.  Within about 1 ulp of expf; overflow to inf, underflow to 0 and
 * NaN as expf. */
static inline __m512 rt_exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));   /* NaN stays NaN */
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}
#endif

/* Softmax numerators p[j] = e^(p[j] − m) for j in [lo, hi], and their sum
 * (AVX-512: 16 at a time with rt_exp16, summed in lanes; elsewhere expf in order). */
static inline float rt_softmax_exp(float *p, int lo, int hi, float m) {
    float sum = 0.0f;
    int j = lo;
#if defined(__AVX512F__)
    __m512 vs = _mm512_setzero_ps(), vm = _mm512_set1_ps(m);
    for (; j + 16 <= hi + 1; j += 16) {
        __m512 e = rt_exp16(_mm512_sub_ps(_mm512_loadu_ps(p + j), vm));
        _mm512_storeu_ps(p + j, e);
        vs = _mm512_add_ps(vs, e);
    }
    if (j <= hi) {
        __mmask16 k = (__mmask16)((1u << (hi + 1 - j)) - 1);
        __m512 e = rt_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + j), vm));
        _mm512_mask_storeu_ps(p + j, k, e);
        vs = _mm512_mask_add_ps(vs, k, vs, e);
    }
    sum = _mm512_reduce_add_ps(vs);
#else
    for (; j <= hi; j++) { p[j] = expf(p[j] - m); sum += p[j]; }
#endif
    return sum;
}

/* ── vector primitives ─────────────────────────────────────────────────────── */
/* Full unrolling of the register tiles' small constant loops (tokens × rows),
 * so their accumulator arrays live in registers.  gcc -O3 unrolls them by
 * itself; clang 14 (archc's in-process compiler) did not for the tiles of 24
 * accumulators and kept them on the stack: the MoE few-token kernels ran at
 * half speed (one Zen 4 core, 8 tokens, in cache: 85 vs 176 GFLOP/s). */
#if defined(__clang__)
#define RT_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define RT_UNROLL _Pragma("GCC unroll 32")
#else
#define RT_UNROLL
#endif
#if defined(__AVX512F__)
#define RT_VL 16
typedef __m512 rt_vec;
#define rt_vzero() _mm512_setzero_ps()
#define rt_vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define rt_vsum(a) _mm512_reduce_add_ps(a)
#define rt_vload_f32(p) _mm512_loadu_ps(p)
#define rt_vstore_f32(p, v) _mm512_storeu_ps(p, v)
#define rt_vset1(x) _mm512_set1_ps(x)
#define rt_vload_bf16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define rt_vload_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
static inline __m512 rt_vload_fp8(const uint8_t *p) {   /* 16 e4m3 → f32 (value / 256) */
    __m256i h = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
    __m256i f = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x80)), 8),
                                _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x7F)), 7));
    return _mm512_cvtph_ps(f);
}
#define RT_TT 4 /* tokens per register tile */
#define RT_TN 4 /* weight rows per register tile */
#elif defined(__AVX2__) && defined(__FMA__)
#define RT_VL 8
typedef __m256 rt_vec;
#define rt_vzero() _mm256_setzero_ps()
#define rt_vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
static inline float rt_vsum(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define rt_vload_f32(p) _mm256_loadu_ps(p)
#define rt_vstore_f32(p, v) _mm256_storeu_ps(p, v)
#define rt_vset1(x) _mm256_set1_ps(x)
#define rt_vload_bf16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define rt_vload_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
static inline __m256 rt_vload_fp8(const uint8_t *p) {   /* 8 e4m3 → f32 (value / 256) */
    __m128i h = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p));
    __m128i f = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x80)), 8),
                             _mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7F)), 7));
    return _mm256_cvtph_ps(f);
}
#define RT_TT 2
#define RT_TN 4
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define RT_VL 4
typedef float32x4_t rt_vec;
#define rt_vzero() vdupq_n_f32(0.0f)
#define rt_vfma(a, b, c) vfmaq_f32(c, a, b)
#define rt_vsum(a) vaddvq_f32(a)
#define rt_vload_f32(p) vld1q_f32(p)
#define rt_vstore_f32(p, v) vst1q_f32(p, v)
#define rt_vset1(x) vdupq_n_f32(x)
#define rt_vload_bf16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(p)), 16))
#define rt_vload_f16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(p))))
static inline float32x4_t rt_vload_fp8(const uint8_t *p) {   /* 4 e4m3 → f32 (value / 256) */
    uint16_t h[4];
    for (int i = 0; i < 4; i++) h[i] = rt_fp8_f16bits(p[i]);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}
#define RT_TT 4
#define RT_TN 4
#else
#define RT_VL 0 /* scalar build */
#define RT_TT 2
#define RT_TN 4
#endif

/* Weight rows are streamed as TN interleaved streams; the hardware prefetcher
 * ramps up slowly on short rows (a 1024-wide bf16 row is 2 KB), so each load
 * also prefetches the same row 512 bytes ahead (prefill tiles).
 *
 * Decode (the 1×8 GEMV tiles) instead prefetches the NEXT tile into L2, front
 * to back, while it computes this one: the 8 rows of a tile are one contiguous
 * block of the [N][K] matrix, so the tile after it starts where this one ends,
 * and each step of the k loop requests as many of its cache lines as the step
 * consumes of this tile.  The memory system then sees one sequential stream
 * a whole tile ahead instead of 8 short ones.  Measured on 2 cores of an AMD
 * EPYC (Zen 4), one thread, 48 bf16 matrices of 3072×1024 (300 MB): 12 →
 * 20 GB/s.  Past the last row the prefetches name memory after the matrix,
 * which prefetch instructions may do (they never fault). */
#define RT_PREFETCH_BYTES 512
#if RT_VL && defined(__GNUC__)
#define RT_PREFETCH(p) __builtin_prefetch((const void *)(p))
#define RT_PREFETCH_L2(p) __builtin_prefetch((const void *)(p), 0, 2)
#else
#define RT_PREFETCH(p) ((void)0)
#define RT_PREFETCH_L2(p) ((void)0)
#endif
/* Prefetch the part of the next tile (rows wr[TN-1]+1 …) that matches elements
 * [k, k + STEP) of this one: TN·STEP·sizeof(WT) bytes, one request per line. */
#define RT_PREFETCH_NEXT_TILE(WT, wr, TN_, K, k, STEP)                                  \
    do {                                                                                 \
        const char *nt_ = (const char *)((wr)[(TN_)-1] + (K)) + (size_t)(k) * (TN_) * sizeof(WT); \
        for (size_t o_ = 0; o_ < (size_t)(TN_) * (STEP) * sizeof(WT); o_ += 64) RT_PREFETCH_L2(nt_ + o_); \
    } while (0)

/* Dot product of two f32 vectors (attention scores). */
static inline float rt_dot_f32(const float *a, const float *b, int n) {
    int i = 0;
    float s = 0.0f;
#if RT_VL
    rt_vec acc0 = rt_vzero(), acc1 = rt_vzero();
    for (; i + 2 * RT_VL <= n; i += 2 * RT_VL) {
        acc0 = rt_vfma(rt_vload_f32(a + i), rt_vload_f32(b + i), acc0);
        acc1 = rt_vfma(rt_vload_f32(a + i + RT_VL), rt_vload_f32(b + i + RT_VL), acc1);
    }
    for (; i + RT_VL <= n; i += RT_VL) acc0 = rt_vfma(rt_vload_f32(a + i), rt_vload_f32(b + i), acc0);
    s = rt_vsum(acc0) + rt_vsum(acc1);
#endif
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/*
 * Register tile: out[t][r] = Σ_k x[t][k] · w[r][k] for TT token rows and TN weight
 * rows.  One definition per (weight format, tile shape); rows past the edge of the
 * matrix are handled by the caller pointing them at a valid row and discarding.
 */
#if RT_VL
#define RT_DEFINE_TILE(NAME, WT, LOADW, TT_, TN_)                                        \
    static inline void NAME(const float *const *xr, const WT *const *wr, int K,         \
                            float out[TT_][TN_]) {                                        \
        rt_vec acc[TT_][TN_];                                                             \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                     \
            RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = rt_vzero();                         \
        int k = 0;                                                                        \
        for (; k + RT_VL <= K; k += RT_VL) {                                              \
            rt_vec w[TN_];                                                                \
            if (TT_ == 1) RT_PREFETCH_NEXT_TILE(WT, wr, TN_, K, k, RT_VL);                \
            RT_UNROLL for (int r = 0; r < TN_; r++) {                                               \
                if (TT_ > 1) RT_PREFETCH((const char *)(wr[r] + k) + RT_PREFETCH_BYTES);  \
                w[r] = LOADW(wr[r] + k);                                                  \
            }                                                                             \
            RT_UNROLL for (int t = 0; t < TT_; t++) {                                               \
                rt_vec xv = rt_vload_f32(xr[t] + k);                                      \
                RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = rt_vfma(xv, w[r], acc[t][r]);   \
            }                                                                             \
        }                                                                                 \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                     \
            RT_UNROLL for (int r = 0; r < TN_; r++) out[t][r] = rt_vsum(acc[t][r]);                 \
        for (; k < K; k++)                                                                \
            RT_UNROLL for (int t = 0; t < TT_; t++)                                                 \
                RT_UNROLL for (int r = 0; r < TN_; r++)                                             \
                    out[t][r] += xr[t][k] * RT_WRAW_##WT(wr[r][k]);                       \
    }
#else
#define RT_DEFINE_TILE(NAME, WT, LOADW, TT_, TN_)                                        \
    static inline void NAME(const float *const *xr, const WT *const *wr, int K,         \
                            float out[TT_][TN_]) {                                        \
        for (int t = 0; t < TT_; t++)                                                     \
            for (int r = 0; r < TN_; r++) {                                               \
                float s = 0.0f;                                                           \
                for (int k = 0; k < K; k++) s += xr[t][k] * RT_WRAW_##WT(wr[r][k]);     \
                out[t][r] = s;                                                            \
            }                                                                             \
    }
#endif
typedef float rt_w_f32;
typedef uint16_t rt_w_bf16;
typedef uint16_t rt_w_f16;
typedef uint8_t rt_w_fp8;
/* one stored element as f32 (fp8: value / 256, as the vector load gives it) */
#define RT_WRAW_rt_w_f32(v) (v)
#define RT_WRAW_rt_w_bf16(v) rt_bf16(v)
#define RT_WRAW_rt_w_f16(v) rt_f16(v)
#define RT_WRAW_rt_w_fp8(v) rt_fp8_raw(v)
RT_DEFINE_TILE(rt_tile_f32, rt_w_f32, rt_vload_f32, RT_TT, RT_TN)
RT_DEFINE_TILE(rt_tile_bf16, rt_w_bf16, rt_vload_bf16, RT_TT, RT_TN)
RT_DEFINE_TILE(rt_tile_f16, rt_w_f16, rt_vload_f16, RT_TT, RT_TN)
RT_DEFINE_TILE(rt_tile_fp8, rt_w_fp8, rt_vload_fp8, RT_TT, RT_TN)
/* decode (T = 1): one token against 8 rows keeps 8 independent FMA chains busy */
RT_DEFINE_TILE(rt_gemv_tile_f32, rt_w_f32, rt_vload_f32, 1, 8)
RT_DEFINE_TILE(rt_gemv_tile_bf16, rt_w_bf16, rt_vload_bf16, 1, 8)
RT_DEFINE_TILE(rt_gemv_tile_f16, rt_w_f16, rt_vload_f16, 1, 8)
RT_DEFINE_TILE(rt_gemv_tile_fp8, rt_w_fp8, rt_vload_fp8, 1, 8)

#if defined(__AVX512F__)
/*
 * bf16 without widening loads: 32 bf16 weights are loaded as one 512-bit vector;
 * shifting each 32-bit lane left by 16 gives the even-indexed weights as f32,
 * masking off the low half gives the odd-indexed ones.  The activations are
 * de-interleaved to match once per call (rt_bf16_permute_x), so each 64 bytes of
 * weights cost one load, two ALU ops and two FMAs.
 */
#define RT_BF16_EO 1
static inline void rt_bf16_permute_x(const float *x, float *xp, int K) {
    int k = 0;
    for (; k + 32 <= K; k += 32)
        for (int i = 0; i < 16; i++) { xp[k + i] = x[k + 2 * i]; xp[k + 16 + i] = x[k + 2 * i + 1]; }
    for (; k < K; k++) xp[k] = x[k];
}

#define RT_DEFINE_TILE_BF16_EO(NAME, TT_, TN_)                                                    \
    static inline void NAME(const float *const *xr, const float *const *xpr, const uint16_t *const *wr, \
                            int K, float out[TT_][TN_]) {                                           \
        const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);                               \
        __m512 acc[TT_][TN_];                                                                       \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                               \
            RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = _mm512_setzero_ps();                          \
        int k = 0;                                                                                  \
        for (; k + 32 <= K; k += 32) {                                                              \
            __m512 we[TN_], wo[TN_];                                                                \
            if (TT_ == 1) RT_PREFETCH_NEXT_TILE(uint16_t, wr, TN_, K, k, 32);                       \
            RT_UNROLL for (int r = 0; r < TN_; r++) {                                                         \
                if (TT_ > 1) _mm_prefetch((const char *)(wr[r] + k) + RT_PREFETCH_BYTES, _MM_HINT_T0); \
                __m512i v = _mm512_loadu_si512((const void *)(wr[r] + k));                          \
                we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));                              \
                wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));                          \
            }                                                                                       \
            RT_UNROLL for (int t = 0; t < TT_; t++) {                                                         \
                __m512 xe = _mm512_loadu_ps(xpr[t] + k), xo = _mm512_loadu_ps(xpr[t] + k + 16);    \
                RT_UNROLL for (int r = 0; r < TN_; r++)                                                       \
                    acc[t][r] = _mm512_fmadd_ps(xo, wo[r], _mm512_fmadd_ps(xe, we[r], acc[t][r]));  \
            }                                                                                       \
        }                                                                                           \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                               \
            RT_UNROLL for (int r = 0; r < TN_; r++) out[t][r] = _mm512_reduce_add_ps(acc[t][r]);              \
        for (; k < K; k++)                                                                          \
            RT_UNROLL for (int t = 0; t < TT_; t++)                                                           \
                RT_UNROLL for (int r = 0; r < TN_; r++) out[t][r] += xr[t][k] * rt_bf16(wr[r][k]);            \
    }
RT_DEFINE_TILE_BF16_EO(rt_tile_bf16_eo, RT_TT, RT_TN)   /* decode: rt_gemv_rows_bf16 (below) */
#endif

#if defined(__AVX512F__)
/*
 * Decode GEMV, S rows side by side.  With S = 1 (rt_gemv_rows_bf16,
 * rt_gemv_tile_dp below) a tile's 8 rows are read one after another: one
 * sequential stream per thread, which the prefetchers follow
 * but which leaves memory-level parallelism unused — one Zen 4 core reached
 * 21–26 GB/s of a 31–35 GB/s read ceiling with it, two cores 31–35 of 54–66.
 * Here a thread's rows are cut into S equal parts and row i of every part is
 * read at the same time, so memory sees S long sequential streams (a part's
 * rows are contiguous).  Each row keeps exactly the arithmetic of the one-row
 * kernel (the same four accumulators, steps, tail and sum order), so the
 * results are bit-identical to it; only the order of memory reads changes.
 * RT_GEMV_STREAMS picks S (2 or 4; 1 keeps the tiles).
 */
#ifndef RT_GEMV_STREAMS
#define RT_GEMV_STREAMS 2
#endif
#define RT_DEFINE_GEMV_STREAMS(S)                                                                         \
    static inline void rt_gemv_streams##S##_bf16(const float *x, const float *xp, const uint16_t *const *wr, int K, float *out, int pf) { \
        const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);                                      \
        __m512 a[S][4];                                                                                   \
        RT_UNROLL for (int s = 0; s < S; s++) a[s][0] = a[s][1] = a[s][2] = a[s][3] = _mm512_setzero_ps(); \
        int k = 0;                                                                                        \
        for (; k + 64 <= K; k += 64) {                                                                    \
            RT_UNROLL for (int s = 0; s < S; s++) {                                                       \
                const uint16_t *w = wr[s];                                                                \
                if (pf) _mm_prefetch((const char *)(w + k) + pf, _MM_HINT_T0);                            \
                __m512i v0 = _mm512_loadu_si512((const void *)(w + k)), v1 = _mm512_loadu_si512((const void *)(w + k + 32)); \
                a[s][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + k), _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), a[s][0]); \
                a[s][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + k + 16), _mm512_castsi512_ps(_mm512_and_si512(v0, hi_mask)), a[s][1]); \
                a[s][2] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + k + 32), _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), a[s][2]); \
                a[s][3] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + k + 48), _mm512_castsi512_ps(_mm512_and_si512(v1, hi_mask)), a[s][3]); \
            }                                                                                             \
        }                                                                                                 \
        RT_UNROLL for (int s = 0; s < S; s++) {                                                           \
            const uint16_t *w = wr[s];                                                                    \
            int j = k;                                                                                    \
            for (; j + 32 <= K; j += 32) {                                                                \
                __m512i v0 = _mm512_loadu_si512((const void *)(w + j));                                   \
                a[s][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + j), _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), a[s][0]); \
                a[s][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + j + 16), _mm512_castsi512_ps(_mm512_and_si512(v0, hi_mask)), a[s][1]); \
            }                                                                                             \
            float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[s][0], a[s][1]), _mm512_add_ps(a[s][2], a[s][3]))); \
            for (; j < K; j++) sum += x[j] * rt_bf16(w[j]);                                               \
            out[s] = sum;                                                                                 \
        }                                                                                                 \
    }
RT_DEFINE_GEMV_STREAMS(1)
RT_DEFINE_GEMV_STREAMS(2)
RT_DEFINE_GEMV_STREAMS(4)
#if defined(__AVX512BF16__)
/* --precision=bf16: as rt_gemv_tile_dp, S rows side by side */
#define RT_DEFINE_GEMV_STREAMS_DP(S)                                                                      \
    static inline void rt_gemv_streams##S##_dp(const uint32_t *xb, const uint16_t *const *wr, int K, float *out) { \
        __m512 a[S][4];                                                                                   \
        RT_UNROLL for (int s = 0; s < S; s++) a[s][0] = a[s][1] = a[s][2] = a[s][3] = _mm512_setzero_ps(); \
        int k = 0;                                                                                        \
        for (; k + 128 <= K; k += 128) {                                                                  \
            __m512bh x0 = (__m512bh)_mm512_loadu_si512((const void *)(xb + k / 2)),                       \
                     x1 = (__m512bh)_mm512_loadu_si512((const void *)(xb + k / 2 + 16)),                  \
                     x2 = (__m512bh)_mm512_loadu_si512((const void *)(xb + k / 2 + 32)),                  \
                     x3 = (__m512bh)_mm512_loadu_si512((const void *)(xb + k / 2 + 48));                  \
            RT_UNROLL for (int s = 0; s < S; s++) {                                                       \
                const uint16_t *w = wr[s];                                                                \
                a[s][0] = _mm512_dpbf16_ps(a[s][0], x0, (__m512bh)_mm512_loadu_si512((const void *)(w + k))); \
                a[s][1] = _mm512_dpbf16_ps(a[s][1], x1, (__m512bh)_mm512_loadu_si512((const void *)(w + k + 32))); \
                a[s][2] = _mm512_dpbf16_ps(a[s][2], x2, (__m512bh)_mm512_loadu_si512((const void *)(w + k + 64))); \
                a[s][3] = _mm512_dpbf16_ps(a[s][3], x3, (__m512bh)_mm512_loadu_si512((const void *)(w + k + 96))); \
            }                                                                                             \
        }                                                                                                 \
        RT_UNROLL for (int s = 0; s < S; s++) {                                                           \
            const uint16_t *w = wr[s];                                                                    \
            int j = k;                                                                                    \
            for (; j + 32 <= K; j += 32)                                                                  \
                a[s][0] = _mm512_dpbf16_ps(a[s][0], (__m512bh)_mm512_loadu_si512((const void *)(xb + j / 2)), \
                                           (__m512bh)_mm512_loadu_si512((const void *)(w + j)));          \
            float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[s][0], a[s][1]), _mm512_add_ps(a[s][2], a[s][3]))); \
            for (; j < K; j++) sum += rt_bf16(((const uint16_t *)xb)[j]) * rt_bf16(w[j]);                 \
            out[s] = sum;                                                                                 \
        }                                                                                                 \
    }
RT_DEFINE_GEMV_STREAMS_DP(1)
RT_DEFINE_GEMV_STREAMS_DP(2)
RT_DEFINE_GEMV_STREAMS_DP(4)
#endif
/* f32 rows, S side by side, each with rt_gemv_rows_f32's arithmetic (four
 * accumulators over 64, then 16, then single elements): bit-identical to it. */
#define RT_DEFINE_GEMV_STREAMS_F32(S)                                                                     \
    static inline void rt_gemv_streams##S##_f32z(const float *x, const float *const *wr, int K, float *out) { \
        __m512 a[S][4];                                                                                   \
        RT_UNROLL for (int s = 0; s < S; s++) a[s][0] = a[s][1] = a[s][2] = a[s][3] = _mm512_setzero_ps(); \
        int k = 0;                                                                                        \
        for (; k + 64 <= K; k += 64) {                                                                    \
            __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16), x2 = _mm512_loadu_ps(x + k + 32), \
                   x3 = _mm512_loadu_ps(x + k + 48);                                                      \
            RT_UNROLL for (int s = 0; s < S; s++) {                                                       \
                const float *w = wr[s];                                                                   \
                a[s][0] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w + k), a[s][0]);                           \
                a[s][1] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w + k + 16), a[s][1]);                      \
                a[s][2] = _mm512_fmadd_ps(x2, _mm512_loadu_ps(w + k + 32), a[s][2]);                      \
                a[s][3] = _mm512_fmadd_ps(x3, _mm512_loadu_ps(w + k + 48), a[s][3]);                      \
            }                                                                                             \
        }                                                                                                 \
        RT_UNROLL for (int s = 0; s < S; s++) {                                                           \
            const float *w = wr[s];                                                                       \
            int j = k;                                                                                    \
            for (; j + 16 <= K; j += 16) a[s][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(w + j), a[s][0]); \
            float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[s][0], a[s][1]), _mm512_add_ps(a[s][2], a[s][3]))); \
            for (; j < K; j++) sum += x[j] * w[j];                                                        \
            out[s] = sum;                                                                                 \
        }                                                                                                 \
    }
RT_DEFINE_GEMV_STREAMS_F32(2)
RT_DEFINE_GEMV_STREAMS_F32(4)
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
/*
 * Decode GEMV on AVX2, S rows side by side as on AVX-512 (above): a thread's
 * rows are cut into S parts and row i of every part is read at the same time,
 * S sequential streams.  The 1 × 8 tiles this replaces (8 interleaved rows,
 * the next tile prefetched by hand) and one row after another both left one
 * Zen 3 core at 14–19 GB/s on 24 f32 matrices 3072 × 1024 out of cache; two
 * streams 16.5–22.5, four 18.0–24.2 (interleaved runs).  Each row: two
 * accumulators over 16 inputs a step, f32 or bf16 widened with a zero-extend
 * and a shift (rt_vload_bf16), then one sum of lanes and the scalar tail.
 */
#define RT_GEMV_Y 1
#ifndef RT_GEMV_STREAMS
#define RT_GEMV_STREAMS 4
#endif
#define RT_DEFINE_GEMV_STREAMS_Y(S, SUF, WT, LOADW, WRAW)                                                 \
    static inline void rt_gemv_streams##S##_##SUF(const float *x, const WT *const *wr, int K, float *out) { \
        __m256 a[S][2];                                                                                   \
        RT_UNROLL for (int s = 0; s < S; s++) a[s][0] = a[s][1] = _mm256_setzero_ps();                    \
        int k = 0;                                                                                        \
        for (; k + 16 <= K; k += 16) {                                                                    \
            __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);                          \
            RT_UNROLL for (int s = 0; s < S; s++) {                                                       \
                a[s][0] = _mm256_fmadd_ps(x0, LOADW(wr[s] + k), a[s][0]);                                 \
                a[s][1] = _mm256_fmadd_ps(x1, LOADW(wr[s] + k + 8), a[s][1]);                             \
            }                                                                                             \
        }                                                                                                 \
        RT_UNROLL for (int s = 0; s < S; s++) {                                                           \
            int j = k;                                                                                    \
            if (j + 8 <= K) { a[s][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), LOADW(wr[s] + j), a[s][0]); j += 8; } \
            float sum = rt_vsum(_mm256_add_ps(a[s][0], a[s][1]));                                         \
            for (; j < K; j++) sum += x[j] * WRAW(wr[s][j]);                                             \
            out[s] = sum;                                                                                 \
        }                                                                                                 \
    }
RT_DEFINE_GEMV_STREAMS_Y(2, f32, float, rt_vload_f32, RT_WRAW_rt_w_f32)
RT_DEFINE_GEMV_STREAMS_Y(4, f32, float, rt_vload_f32, RT_WRAW_rt_w_f32)
RT_DEFINE_GEMV_STREAMS_Y(2, bf16w, uint16_t, rt_vload_bf16, RT_WRAW_rt_w_bf16)
RT_DEFINE_GEMV_STREAMS_Y(4, bf16w, uint16_t, rt_vload_bf16, RT_WRAW_rt_w_bf16)
#undef RT_DEFINE_GEMV_STREAMS_Y
#endif

#if defined(__AVX512F__)
/*
 * Decode GEMV on AVX-512, row after row: the 8 rows of a decode tile are read
 * one at a time, each from start to end with four accumulators, so memory sees
 * one sequential stream (the hardware prefetcher's best case) where the 1 × 8
 * tiles above interleave 8 rows and prefetch the next tile by hand.  x stays in
 * L1.  One Zen 4 core, 48 bf16 matrices 3072 × 1024 out of cache, GB/s of
 * weights, tiles vs rows: exact bf16 18.5–20.8 vs 23.6–24.9, bf16 pairs
 * (--precision=bf16) 19.7–20.6 vs 22.0–24.5.
 */
#define RT_GEMV_ROWS 1
static inline void rt_gemv_rows_f32(const float *x, const float *const *wr, int K, float out[8]) {
    for (int r = 0; r < 8; r++) {
        const float *w = wr[r];
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= K; k += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(w + k + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), _mm512_loadu_ps(w + k + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), _mm512_loadu_ps(w + k + 48), a3);
        }
        for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), a0);
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        for (; k < K; k++) sum += x[k] * w[k];
        out[r] = sum;
    }
}
/* bf16 rows: x de-interleaved per 32 as for the tiles (xp), the weights
 * widened with a shift (even elements) and a mask (odd ones). */
static inline void rt_gemv_rows_bf16(const float *x, const float *xp, const uint16_t *const *wr, int K, float out[8]) {
    for (int r = 0; r < 8; r++) rt_gemv_streams1_bf16(x, xp, wr + r, K, out + r, 0);
}
#endif

#if defined(__AVX512F__) && defined(__AVX512BF16__)
/* --precision=bf16 decode: x rounded to bf16 once per call (pairs, as the
 * prefill GEMM takes them) and vdpbf16ps straight on 32 stored weights per
 * load — one load and one instruction per 64 bytes of a row, where the exact
 * kernel needs a shift, a mask and two FMAs. */
static inline void rt_gemv_tile_dp(const uint32_t *xb, const uint16_t *const *wr, int K, float out[8]) {
    for (int r = 0; r < 8; r++) rt_gemv_streams1_dp(xb, wr + r, K, out + r);   /* row after row, as rt_gemv_rows_f32 */
}
#endif

/* ── linear layers ─────────────────────────────────────────────────────────── */

typedef struct RtLinear {
    const float *x;        /* [T][K]                                           */
    const void *w;         /* [N][K] in fmt                                    */
    const float *b;        /* [N] or NULL                                      */
    const float *res;      /* [T][N] residual to add, or NULL (may equal y)    */
    float *y;              /* [T][N]                                           */
    const void *w_up;      /* GLU: up weights [N][K] (w is then the gate)      */
    const float *b_up;
    int T, K, N, fmt, act;
    /* fp8: one f32 multiplier per [bn × bk] block of W (weight_scale_inv),
     * [ceil(N/bn)][ceil(K/bk)]; scale_up likewise for w_up */
    const float *scale, *scale_up;
    int bn, bk;
    /* int8 / int4 (archc quantize): a scale per 32 weights, [N][⌈K/32⌉], behind
     * the same pointers: f16 (archc quantize's default) when scale_f16, else f32 */
    int scale_f16;
    const float *xp;       /* internal: x de-interleaved for the bf16 kernel    */
    const uint32_t *xb;    /* internal: x as bf16 pairs (--precision=bf16)      */
    const float *xg;       /* internal: x packed for the f32 GEMM (rt_pack_x)     */
    const float *xw;       /* internal: x packed for the in-place GEMM of f32 / bf16 / f16 weights (rt_pack_xw) */
} RtLinear;

#if defined(__AVX512F__)
/*
 * fp8 tiles on AVX-512 (decode: 1 token × 8 rows; prefill: 4 × 4), with no
 * shuffle and no f16 convert.  64 weights are one vector load, four bytes per
 * 32-bit lane; byte j of each lane is moved to the top (shift left 8·(3−j)),
 * arithmetic-shifted right by 4 and masked with 0x87F00000: sign at bit 31,
 * the 4 exponent bits at 26..23, the 3 mantissa bits at 22..20.  That f32 is
 * the e4m3 value · 2^-120 exactly, subnormals included (exponent field 0 is an
 * f32 subnormal of the same mantissa).  The four vectors hold weights 4i + j,
 * so the activations are permuted to match once per call (rt_fp8_permute_x).
 * The rows of a tile lie in one bn-block of rows (bn a multiple of the tile's
 * rows), so in each bk-block of K they share one multiplier: it is folded into
 * the activations with half of the 2^120 (x · s · 2^60, one multiply per 16
 * inputs, shared by the rows), the other half multiplies the finished sum —
 * powers of two, so no rounding is added and the products stay far from the
 * f32 range limits.  Sums stay in vector lanes across the whole row: one
 * horizontal sum per row and token, not one per block.  Needs K and bk
 * multiples of 64; else the f16-widening tiles below.
 */
#define RT_FP8_FAST 1
#define RT_FP8_MAX_KB 512 /* K up to 512 blocks (64k inputs at bk = 128) */
static inline void rt_fp8_permute_x(const float *x, float *xp, int K) {
    for (int k = 0; k + 64 <= K; k += 64)
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 16; i++) xp[k + 16 * j + i] = x[k + 4 * i + j];
}
#define RT_FP8_LANE(v, j) \
    _mm512_castsi512_ps(_mm512_and_si512(_mm512_srai_epi32(_mm512_slli_epi32(v, 8 * (3 - (j))), 4), _mm512_set1_epi32((int)0x87F00000u)))
#define RT_DEFINE_FP8_TILE(NAME, TT_, TN_)                                                          \
    static void NAME(const float *const *xpr, const uint8_t *const *wr, const float *s, int K, int bk, \
                     float out[TT_][TN_]) {                                                          \
        __m512 acc[TT_][TN_];                                                                       \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                               \
            RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = _mm512_setzero_ps();                          \
        for (int k0 = 0, kb = 0; k0 < K; k0 += bk, kb++) {                                          \
            __m512 sv = _mm512_set1_ps(s[kb] * 0x1p60f);                                            \
            int ke = K - k0 < bk ? K : k0 + bk;                                                     \
            for (int k = k0; k < ke; k += 64) {                                                     \
                __m512i v[TN_];                                                                     \
                if (TT_ == 1) RT_PREFETCH_NEXT_TILE(uint8_t, wr, TN_, K, k, 64);                    \
                RT_UNROLL for (int r = 0; r < TN_; r++) v[r] = _mm512_loadu_si512((const void *)(wr[r] + k)); \
                RT_UNROLL for (int j = 0; j < 4; j++) {                                                       \
                    __m512 w[TN_];                                                                  \
                    RT_UNROLL for (int r = 0; r < TN_; r++) w[r] = RT_FP8_LANE(v[r], j);                      \
                    RT_UNROLL for (int t = 0; t < TT_; t++) {                                                 \
                        __m512 xv = _mm512_mul_ps(_mm512_loadu_ps(xpr[t] + k + 16 * j), sv);        \
                        RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = _mm512_fmadd_ps(xv, w[r], acc[t][r]); \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                               \
            RT_UNROLL for (int r = 0; r < TN_; r++) out[t][r] = _mm512_reduce_add_ps(acc[t][r]) * 0x1p60f;    \
    }
RT_DEFINE_FP8_TILE(rt_fp8_tile_prefill, RT_TT, RT_TN)
RT_DEFINE_FP8_TILE(rt_fp8_tile_gemv, 1, 8)
/* the fast tiles apply to this linear layer (see above) */
static inline int rt_fp8_fast(const RtLinear *L, int TN) {
    return L->fmt == RT_FP8 && L->K % 64 == 0 && L->bk % 64 == 0 && L->bn % TN == 0 &&
           (L->K + L->bk - 1) / L->bk <= RT_FP8_MAX_KB;
}
#endif

/* Compute out[t][r] for a TT×TN (prefill) or 1×8 (decode) tile of one weight matrix. */
/* fp8 weights: the tile over each bk-wide block of K, scaled by its block's
 * multiplier (× 256, see rt_fp8_raw) and accumulated: dequantisation is fused,
 * the weights stay 1 byte each in memory. */
static inline void rt_linear_tile_fp8(const RtLinear *L, const void *w, const float *scale, int gemv, int n0,
                                      const float *const *xr, float *out) {
    int TT = gemv ? 1 : RT_TT, TN = gemv ? 8 : RT_TN, nkb = (L->K + L->bk - 1) / L->bk;
#ifdef RT_FP8_FAST
    if (L->xp) {   /* rt_linear permuted x for the fast tiles (rt_fp8_fast) */
        const uint8_t *wr[8];
        const float *xpr[RT_TT];
        for (int t = 0; t < TT; t++) xpr[t] = L->xp + (xr[t] - L->x);
        for (int r = 0; r < TN; r++) wr[r] = (const uint8_t *)w + (size_t)(n0 + r < L->N ? n0 + r : L->N - 1) * L->K;
        const float *s = scale + (size_t)(n0 / L->bn) * nkb;
        if (gemv) rt_fp8_tile_gemv(xpr, wr, s, L->K, L->bk, (float (*)[8])out);
        else rt_fp8_tile_prefill(xpr, wr, s, L->K, L->bk, (float (*)[RT_TN])out);
        return;
    }
#endif
    const float *xk[RT_TT] = {0};   /* TT of them used; all set for the compiler's sake */
    const uint8_t *wk[8];
    float s[8];
    for (int i = 0; i < TT * TN; i++) out[i] = 0.0f;
    for (int k0 = 0, kb = 0; k0 < L->K; k0 += L->bk, kb++) {
        int len = L->K - k0 < L->bk ? L->K - k0 : L->bk;
        for (int t = 0; t < TT; t++) xk[t] = xr[t] + k0;
        for (int r = 0; r < TN; r++) {
            int n = n0 + r < L->N ? n0 + r : L->N - 1;
            wk[r] = (const uint8_t *)w + (size_t)n * L->K + k0;
            s[r] = scale[(size_t)(n / L->bn) * nkb + kb] * RT_FP8_RAW_SCALE;
        }
        if (gemv) {
            float o[1][8];
            rt_gemv_tile_fp8(xk, wk, len, o);
            for (int r = 0; r < 8; r++) out[r] += o[0][r] * s[r];
        } else {
            float o[RT_TT][RT_TN];
            rt_tile_fp8(xk, wk, len, o);
            for (int t = 0; t < RT_TT; t++)
                for (int r = 0; r < RT_TN; r++) out[t * RT_TN + r] += o[t][r] * s[r];
        }
    }
}

static inline void rt_linear_tile(const RtLinear *L, const void *w, const float *scale, int gemv, int t0, int n0,
                                  float *out /* [tt][tn] */, int *tt, int *tn) {
    const float *xr[RT_TT], *xpr[RT_TT];
    const void *wr[8];
    int TT = gemv ? 1 : RT_TT, TN = gemv ? 8 : RT_TN;
    size_t ws = rt_wsize(L->fmt);
    for (int t = 0; t < TT; t++) {
        size_t row = (size_t)(t0 + t < L->T ? t0 + t : L->T - 1) * L->K;
        xr[t] = L->x + row;
        xpr[t] = L->xp ? L->xp + row : xr[t];
    }
    (void)xpr;
    for (int r = 0; r < TN; r++)
        wr[r] = (const char *)w + (size_t)(n0 + r < L->N ? n0 + r : L->N - 1) * L->K * ws;
    *tt = TT;
    *tn = TN;
    if (L->fmt == RT_FP8) {
        rt_linear_tile_fp8(L, w, scale, gemv, n0, xr, out);
        return;
    }
    if (gemv) {
        float o[1][8];
#if defined(__AVX512F__) && defined(__AVX512BF16__)
        if (L->xb && L->fmt == RT_BF16) {   /* --precision=bf16: rt_linear set xb */
            rt_gemv_tile_dp(L->xb, (const uint16_t *const *)wr, L->K, o[0]);
            memcpy(out, o, sizeof o);
            return;
        }
#endif
#ifdef RT_GEMV_ROWS
        if (L->fmt == RT_F32 || L->fmt == RT_BF16) {
            if (L->fmt == RT_F32) rt_gemv_rows_f32(xr[0], (const float *const *)wr, L->K, o[0]);
            else rt_gemv_rows_bf16(xr[0], xpr[0], (const uint16_t *const *)wr, L->K, o[0]);
            memcpy(out, o, sizeof o);
            return;
        }
#endif
        if (L->fmt == RT_F32) rt_gemv_tile_f32(xr, (const rt_w_f32 *const *)wr, L->K, o);
        else if (L->fmt == RT_BF16) rt_gemv_tile_bf16(xr, (const rt_w_bf16 *const *)wr, L->K, o);
        else rt_gemv_tile_f16(xr, (const rt_w_f16 *const *)wr, L->K, o);
        memcpy(out, o, sizeof o);
    } else {
        float o[RT_TT][RT_TN];
        if (L->fmt == RT_F32) rt_tile_f32(xr, (const rt_w_f32 *const *)wr, L->K, o);
#ifdef RT_BF16_EO
        else if (L->fmt == RT_BF16) rt_tile_bf16_eo(xr, xpr, (const uint16_t *const *)wr, L->K, o);
#endif
        else if (L->fmt == RT_BF16) rt_tile_bf16(xr, (const rt_w_bf16 *const *)wr, L->K, o);
        else rt_tile_f16(xr, (const rt_w_f16 *const *)wr, L->K, o);
        memcpy(out, o, sizeof o);
    }
}

/* Output n of token t from its sum g (and the GLU's up sum u): bias,
 * activation × up, residual, stored in y. */
static inline void rt_linear_out(const RtLinear *L, int t, int n, float g, float u) {
    size_t at = (size_t)t * L->N + n;
    float v = g;
    if (L->b) v = v + L->b[n];
    if (L->w_up) {
        float up = u;
        if (L->b_up) up = up + L->b_up[n];
        v = (L->act == RT_ACT_GELU_TANH ? rt_gelu_tanh(v) : rt_silu(v)) * up;
    }
    if (L->res) v = L->res[at] + v;
    L->y[at] = v;
}

#if (defined(__AVX512F__) || defined(RT_GEMV_Y)) && RT_GEMV_STREAMS > 1
#define RT_GEMV_SIDE 1
/* How many rows a decode thread reads side by side (1 = the row-after-row
 * kernels: rt_gemv_rows_f32 …).  AVX2: RT_GEMV_STREAMS for f32 and bf16.
 * AVX-512, chosen at start-up: on AMD (Zen 4) RT_GEMV_STREAMS for bf16 and 1
 * for f32 (side by side measured 2–3% slower there); on Intel 4 for both,
 * whose cores reach the read ceiling only with several streams each
 * (docs/kernels.md: qwen3-0.6b f32 decode on one Xeon core 5.6 → 6.9 tok/s).
 * ARCHC_GEMV_STREAMS=1, 2 or 4 in the environment overrides. */
static int rt_gemv_cfg_read(void) {
    const char *e = getenv("ARCHC_GEMV_STREAMS");
    int v = e && *e ? atoi(e) : 0;
    return (v == 1 || v == 2 || v == 4 ? v : 0) | rt_cpu_vendor_intel() << 3;
}
/* the ARCHC_GEMV_STREAMS override (0: none) | Intel << 3 */
static inline int rt_gemv_cfg(void) {
    static int cfg = -1;
    return rt_once(&cfg, rt_gemv_cfg_read);
}
/* Bytes ahead that the AVX-512 side-by-side exact bf16 rows prefetch into L1
 * (0: none): 512 on Intel, where it adds 9–10% to qwen3-0.6b's bf16 decode (1
 * Xeon core, 3 interleaved runs: 11.5–11.6 → 12.5–12.9 tok/s; 256 and 1024
 * bytes measured slower; the same for f32 rows and bf16 pairs changed
 * nothing); not measured on AMD, so off there. */
static inline int rt_gemv_pf(void) { return rt_gemv_cfg() >> 3 ? 512 : 0; }
static inline int rt_gemv_nstreams(int fmt) {
    int c = rt_gemv_cfg(), env = c & 7, intel = c >> 3;
    if (env) return env;
#if defined(RT_GEMV_Y)
    (void)fmt;
    (void)intel;
    return RT_GEMV_STREAMS;
#else
    if (intel) return 4;
    return fmt == RT_F32 ? 1 : RT_GEMV_STREAMS;
#endif
}
/* Can rt_gemv_streams_range run this decode linear?  AVX-512: f32, exact bf16
 * with x de-interleaved, bf16 pairs; AVX2: f32 and bf16. */
static inline int rt_gemv_streams_ok(const RtLinear *L) {
    if (L->T != 1 || rt_gemv_nstreams(L->fmt) < 2) return 0;
#if defined(RT_GEMV_Y)
    return L->fmt == RT_F32 || L->fmt == RT_BF16;
#else
#if defined(__AVX512BF16__)
    if (L->fmt == RT_BF16 && L->xb) return 1;
#endif
    return L->fmt == RT_F32 || (L->fmt == RT_BF16 && L->xp != NULL);
#endif
}
/* The S row sums of w at rows n[0 … S−1] (rt_gemv_streams*). */
static inline void rt_gemv_streams_rows(const RtLinear *L, int S, const void *w, const int *n, float *out) {
    const void *wr[4];
#if !defined(RT_GEMV_Y)
    int pf = rt_gemv_pf();
#endif
    size_t row = (size_t)L->K * rt_wsize(L->fmt);
    for (int s = 0; s < S; s++) wr[s] = (const char *)w + (size_t)n[s] * row;
#if defined(RT_GEMV_Y)
    if (L->fmt == RT_F32) {
        if (S == 4) rt_gemv_streams4_f32(L->x, (const float *const *)wr, L->K, out);
        else rt_gemv_streams2_f32(L->x, (const float *const *)wr, L->K, out);
    } else {
        if (S == 4) rt_gemv_streams4_bf16w(L->x, (const uint16_t *const *)wr, L->K, out);
        else rt_gemv_streams2_bf16w(L->x, (const uint16_t *const *)wr, L->K, out);
    }
#else
#if defined(__AVX512BF16__)
    if (L->xb) {
        if (S == 4) rt_gemv_streams4_dp(L->xb, (const uint16_t *const *)wr, L->K, out);
        else rt_gemv_streams2_dp(L->xb, (const uint16_t *const *)wr, L->K, out);
        return;
    }
#endif
    if (L->fmt == RT_F32) {
        if (S == 4) rt_gemv_streams4_f32z(L->x, (const float *const *)wr, L->K, out);
        else rt_gemv_streams2_f32z(L->x, (const float *const *)wr, L->K, out);
        return;
    }
    if (S == 4) rt_gemv_streams4_bf16(L->x, L->xp, (const uint16_t *const *)wr, L->K, out, pf);
    else rt_gemv_streams2_bf16(L->x, L->xp, (const uint16_t *const *)wr, L->K, out, pf);
#endif
}
/* Decode rows [nb0, nb1) in S parts read side by side. */
static void rt_gemv_streams_range(const RtLinear *L, int nb0, int nb1) {
    int S = rt_gemv_nstreams(L->fmt), part = (nb1 - nb0 + S - 1) / S;
    for (int i = 0; i < part; i++) {
        int n[4];
        float g[4], u[4] = {0};
        for (int s = 0; s < S; s++) {
            n[s] = nb0 + s * part + i;
            if (n[s] >= nb1) n[s] = nb1 - 1;   /* a short last part: recompute a row, store nothing */
        }
        rt_gemv_streams_rows(L, S, L->w, n, g);
        if (L->w_up) rt_gemv_streams_rows(L, S, L->w_up, n, u);
        for (int s = 0; s < S; s++)
            if (nb0 + s * part + i < nb1) rt_linear_out(L, 0, n[s], g[s], u[s]);
    }
}
#endif

/* Rows [tb·TN, te·TN) of the output, all tokens. */
static void rt_linear_range(void *ctx, int tb, int te) {
    const RtLinear *L = (const RtLinear *)ctx;
    int gemv = L->T == 1;
    int TN = gemv ? 8 : RT_TN;
    float g[64], u[64];
#ifdef RT_GEMV_SIDE
    if (rt_gemv_streams_ok(L)) {
        rt_gemv_streams_range(L, tb * TN, te * TN < L->N ? te * TN : L->N);
        return;
    }
#endif
    for (int tile = tb; tile < te; tile++) {
        int n0 = tile * TN;
        for (int t0 = 0; t0 < L->T; t0 += (gemv ? 1 : RT_TT)) {
            int tt, tn;
            rt_linear_tile(L, L->w, L->scale, gemv, t0, n0, g, &tt, &tn);
            if (L->w_up) rt_linear_tile(L, L->w_up, L->scale_up, gemv, t0, n0, u, &tt, &tn);
            for (int t = 0; t < tt && t0 + t < L->T; t++)
                for (int r = 0; r < tn && n0 + r < L->N; r++)
                    rt_linear_out(L, t0 + t, n0 + r, g[t * tn + r], L->w_up ? u[t * tn + r] : 0.0f);
        }
    }
}

/* Scratch that grows and is kept.  Per thread (rt_thread_scratch): the worker
 * threads' sets are freed when the thread ends, by a pthread key's destructor
 * (a _Thread_local pointer would be lost, and leaked, at a worker's exit). */
typedef struct { void *p; size_t cap; } RtScratch;
static inline void *rt_scratch(RtScratch *s, size_t bytes) {
    if (bytes > s->cap) {
        rt_free(s->p);
        s->cap = bytes + bytes / 4;
        s->p = rt_alloc(s->cap);
    }
    return s->p;
}
enum { RT_TLS_QPACK, RT_TLS_QACT, RT_TLS_QACT16, RT_TLS_MOE0, RT_TLS_MOE1, RT_TLS_MOE2, RT_TLS_MOE3, RT_TLS_N };
typedef struct { RtScratch s[RT_TLS_N]; } RtThreadScratch;
static pthread_key_t rt_tls_key;
static pthread_once_t rt_tls_once = PTHREAD_ONCE_INIT;
static void rt_tls_free(void *p) {
    RtThreadScratch *m = (RtThreadScratch *)p;
    for (int i = 0; i < RT_TLS_N; i++) rt_free(m->s[i].p);
    free(m);
}
static void rt_tls_key_init(void) {
    if (pthread_key_create(&rt_tls_key, rt_tls_free) != 0) rt_die("out of thread-specific keys");
}
/* this thread's scratch `which` (RT_TLS_*) */
static inline RtScratch *rt_thread_scratch(int which) {
    pthread_once(&rt_tls_once, rt_tls_key_init);
    RtThreadScratch *m = (RtThreadScratch *)pthread_getspecific(rt_tls_key);
    if (!m) {
        m = (RtThreadScratch *)calloc(1, sizeof *m);
        if (!m || pthread_setspecific(rt_tls_key, m) != 0) rt_die("out of memory");
    }
    return &m->s[which];
}

#include "archc_quant.h"   /* int8 / int4 / dense MXFP4 (archc quantize): rt_linear_quant */

/* ── prefill GEMM over packed panels ────────────────────────────────────────
 * For T ≥ RT_GEMM_MIN_T tokens the dot-product tiles above leave half the FMA
 * throughput unused (each 4×4 tile reloads its activations and ends in 16
 * horizontal sums).  This path is the classic outer-product form instead:
 * RT_NR = 2 vectors of consecutive output rows of W are copied ("packed") into
 * a buffer P[k][RT_NR], converted to f32 on the way (bf16/f16 weights are
 * widened once per panel, not once per token), and a micro-tile of RT_MR
 * tokens × RT_NR outputs accumulates Σ_k x[t][k]·P[k][:] in 2·RT_MR vector
 * registers, one activation broadcast and two panel loads per k.  K is cut
 * into RT_KC-wide blocks so the packed block stays in L2.  Each output is a
 * plain sequential f32 sum over k (no partial-sum tree), exact to f32 rounding
 * like the other paths.  Measured on one Zen 4 core (f32, T = 48, K = 1024,
 * N = 3072): 47 GFLOP/s with the 4×4 dot tiles, 106 with this micro-tile.
 * Threads split the panels; each thread packs its own. */
#if RT_VL
#define RT_NR (2 * RT_VL)   /* outputs per panel                       */
#define RT_MR 6             /* tokens per micro-tile                   */
#define RT_KC 256           /* k per packed block: 32 KB of f32 at RT_NR = 32 */
#ifndef RT_GEMM_MIN_T
#define RT_GEMM_MIN_T 12  /* fewer tokens: the dot tiles (packing would not pay off) */
#endif


#if defined(__AVX512F__)
/* In-register transpose of 16 rows × 16 columns: r[i] holds row i; afterwards
 * r[c] holds column c.  Three rounds of in-lane shuffles and two of 128-bit
 * lane shuffles, 64 instructions for 256 elements. */
static inline void rt_transpose16(__m512 r[16]) {
    /* each round rewrites r in place, two or four vectors at a time, so no
     * more than 16 + 4 registers are live (separate arrays per round made gcc
     * spill to the stack) */
    for (int i = 0; i < 16; i += 2) {                   /* per lane: r_i[0] r_i+1[0] r_i[1] r_i+1[1] | [2], [3] */
        __m512 lo = _mm512_unpacklo_ps(r[i], r[i + 1]), hi = _mm512_unpackhi_ps(r[i], r[i + 1]);
        r[i] = lo;
        r[i + 1] = hi;
    }
    for (int i = 0; i < 16; i += 4) {                   /* r[i + c]: rows i..i+3 of column 4L + c   */
        __m512 a = _mm512_shuffle_ps(r[i], r[i + 2], 0x44), b = _mm512_shuffle_ps(r[i], r[i + 2], 0xEE);
        __m512 c = _mm512_shuffle_ps(r[i + 1], r[i + 3], 0x44), d = _mm512_shuffle_ps(r[i + 1], r[i + 3], 0xEE);
        r[i] = a;
        r[i + 1] = b;
        r[i + 2] = c;
        r[i + 3] = d;
    }
    for (int h = 0; h < 16; h += 8)                     /* r[h + c]: columns c, c + 8 of rows h..h+7;  */
        for (int c = 0; c < 4; c++) {                   /* r[h + 4 + c]: columns c + 4, c + 12         */
            __m512 a = _mm512_shuffle_f32x4(r[h + c], r[h + 4 + c], 0x88), b = _mm512_shuffle_f32x4(r[h + c], r[h + 4 + c], 0xDD);
            r[h + c] = a;
            r[h + 4 + c] = b;
        }
    /* column c (c < 4) and c + 8 from r[c], r[8 + c]; c + 4 and c + 12 from r[4 + c], r[12 + c] */
    for (int c = 0; c < 8; c++) {
        __m512 a = _mm512_shuffle_f32x4(r[c], r[8 + c], 0x88), b = _mm512_shuffle_f32x4(r[c], r[8 + c], 0xDD);
        r[c] = a;
        r[8 + c] = b;
    }
}
#endif

/* P[k][j] = rows[j][k] as f32 for k < kc: one definition per weight format, so
 * the loads of a 16×16 block unroll into registers (a format test inside the
 * loop made gcc keep the block on the stack). */
#if defined(__AVX512F__)
#define RT_DEFINE_PACK(NAME, WT, LOADW)                                                          \
    static void NAME(const WT *const *rows, int kc, float *P) {                                  \
        int k = 0;                                                                               \
        for (; k + 16 <= kc; k += 16)                                                            \
            for (int j0 = 0; j0 < RT_NR; j0 += 16) {                                             \
                __m512 r[16];                                                                    \
                for (int i = 0; i < 16; i++) r[i] = LOADW(rows[j0 + i] + k);                     \
                rt_transpose16(r);                                                               \
                for (int c = 0; c < 16; c++) _mm512_storeu_ps(P + (size_t)(k + c) * RT_NR + j0, r[c]); \
            }                                                                                    \
        for (; k < kc; k++)                                                                      \
            for (int j = 0; j < RT_NR; j++) P[(size_t)k * RT_NR + j] = RT_WRAW_##WT(rows[j][k]); \
    }
#elif RT_VL == 8
/* AVX2: 8 × 8 blocks transposed in registers (unpack, shuffle, 128-bit lane
 * permute: 24 shuffles for 64 elements).  The element-by-element copy took an
 * eighth of a 128-token f32 prefill on one Zen 3 core; see docs/kernels.md. */
static inline void rt_transpose8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {   /* rows i, i+1: columns 0, 1, 4, 5 and 2, 3, 6, 7 interleaved */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {   /* rows i … i+3 of columns c | c + 4, c = 0 … 3 */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {      /* column c: rows 0–3 from r[c], rows 4–7 from r[4 + c] */
        t[c] = _mm256_permute2f128_ps(r[c], r[4 + c], 0x20);
        t[c + 4] = _mm256_permute2f128_ps(r[c], r[4 + c], 0x31);
    }
    for (int c = 0; c < 8; c++) r[c] = t[c];
}
#define RT_DEFINE_PACK(NAME, WT, LOADW)                                                          \
    static void NAME(const WT *const *rows, int kc, float *P) {                                  \
        int k = 0;                                                                               \
        for (; k + 8 <= kc; k += 8)                                                              \
            for (int j0 = 0; j0 < RT_NR; j0 += 8) {                                              \
                __m256 r[8];                                                                     \
                RT_UNROLL for (int i = 0; i < 8; i++) r[i] = LOADW(rows[j0 + i] + k);            \
                rt_transpose8(r);                                                                \
                RT_UNROLL for (int c = 0; c < 8; c++) _mm256_storeu_ps(P + (size_t)(k + c) * RT_NR + j0, r[c]); \
            }                                                                                    \
        for (; k < kc; k++)                                                                      \
            for (int j = 0; j < RT_NR; j++) P[(size_t)k * RT_NR + j] = RT_WRAW_##WT(rows[j][k]); \
    }
#else
#define RT_DEFINE_PACK(NAME, WT, LOADW)                                                          \
    static void NAME(const WT *const *rows, int kc, float *P) {                                  \
        for (int k = 0; k < kc; k++)                                                             \
            for (int j = 0; j < RT_NR; j++) P[(size_t)k * RT_NR + j] = RT_WRAW_##WT(rows[j][k]); \
    }
#endif
RT_DEFINE_PACK(rt_pack_f32, rt_w_f32, rt_vload_f32)
RT_DEFINE_PACK(rt_pack_bf16, rt_w_bf16, rt_vload_bf16)
RT_DEFINE_PACK(rt_pack_f16, rt_w_f16, rt_vload_f16)

/* fp8 (block-scaled e4m3): P[k][j] = e4m3(W[n][k0 + k]) · s[n / bn][(k0 + k) / bk]
 * for the panel's rows n = rn[j], the weight dequantised in f32 (one rounding, the
 * product with the block multiplier), as transformers dequantises fp8 weights
 * before its matrix product.  The f32 GEMM then runs on the panel unchanged. */
static void rt_pack_fp8(const RtLinear *L, const uint8_t *const *rows, const float *scale, const int *rn, int k0, int kc, float *P) {
    int kb = (L->K + L->bk - 1) / L->bk, k = 0;
#if defined(__AVX512F__)
    if (L->bk % 16 == 0)   /* 16 columns share one block multiplier per row */
        for (; k + 16 <= kc; k += 16)
            for (int j0 = 0; j0 < RT_NR; j0 += 16) {
                __m512 r[16];
                RT_UNROLL for (int i = 0; i < 16; i++)   /* e4m3 → f32 · 2^-120 (RT_FP8_LANE, byte 0 of each lane), then · 2^120: exact */
                    r[i] = _mm512_scalef_ps(RT_FP8_LANE(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(rows[j0 + i] + k))), 0),
                                            _mm512_set1_ps(120.0f));
                rt_transpose16(r);
                float sv[16];
                for (int i = 0; i < 16; i++) sv[i] = scale[(size_t)(rn[j0 + i] / L->bn) * kb + (k0 + k) / L->bk];
                __m512 s = _mm512_loadu_ps(sv);
                RT_UNROLL for (int c = 0; c < 16; c++) _mm512_storeu_ps(P + (size_t)(k + c) * RT_NR + j0, _mm512_mul_ps(r[c], s));
            }
#endif
    for (; k < kc; k++)
        for (int j = 0; j < RT_NR; j++)
            P[(size_t)k * RT_NR + j] = (rt_fp8_raw(rows[j][k]) * RT_FP8_RAW_SCALE) * scale[(size_t)(rn[j] / L->bn) * kb + (k0 + k) / L->bk];
}

/* P[k][j] = W[n0 + j][k0 + k] as f32, rows past N repeated (their outputs are dropped). */
static void rt_pack_panel(const RtLinear *L, const void *w, int n0, int k0, int kc, float *P) {
    const void *rows[RT_NR];
    size_t ws = rt_wsize(L->fmt);
    for (int j = 0; j < RT_NR; j++) rows[j] = (const char *)w + ((size_t)(n0 + j < L->N ? n0 + j : L->N - 1) * L->K + k0) * ws;
    if (L->fmt == RT_FP8) {
        int rn[RT_NR];
        for (int j = 0; j < RT_NR; j++) rn[j] = n0 + j < L->N ? n0 + j : L->N - 1;
        rt_pack_fp8(L, (const uint8_t *const *)rows, w == L->w ? L->scale : L->scale_up, rn, k0, kc, P);
    } else if (L->fmt == RT_F32) rt_pack_f32((const rt_w_f32 *const *)rows, kc, P);
    else if (L->fmt == RT_BF16) rt_pack_bf16((const rt_w_bf16 *const *)rows, kc, P);
    else rt_pack_f16((const rt_w_f16 *const *)rows, kc, P);
}

/* C[t][0:RT_NR] (+)= Σ_k x[k][t] · P[k][:] for MR_ tokens; x: the tile's packed
 * activations (rt_pack_x), RT_MR floats per k. */
#define RT_DEFINE_MICRO(NAME, MR_)                                                                   \
    static inline void NAME(const float *x, const float *P, int kc, float *C, int first) {         \
        rt_vec c0[MR_], c1[MR_];                                                                     \
        RT_UNROLL for (int i = 0; i < MR_; i++) {                                                              \
            c0[i] = first ? rt_vzero() : rt_vload_f32(C + i * RT_NR);                                \
            c1[i] = first ? rt_vzero() : rt_vload_f32(C + i * RT_NR + RT_VL);                        \
        }                                                                                            \
        for (int k = 0; k < kc; k++) {                                                               \
            rt_vec b0 = rt_vload_f32(P + (size_t)k * RT_NR), b1 = rt_vload_f32(P + (size_t)k * RT_NR + RT_VL); \
            RT_UNROLL for (int i = 0; i < MR_; i++) {                                                          \
                rt_vec a = rt_vset1(x[(size_t)k * RT_MR + i]);                                       \
                c0[i] = rt_vfma(a, b0, c0[i]);                                                       \
                c1[i] = rt_vfma(a, b1, c1[i]);                                                       \
            }                                                                                        \
        }                                                                                            \
        RT_UNROLL for (int i = 0; i < MR_; i++) {                                                              \
            rt_vstore_f32(C + i * RT_NR, c0[i]);                                                     \
            rt_vstore_f32(C + i * RT_NR + RT_VL, c1[i]);                                             \
        }                                                                                            \
    }
RT_DEFINE_MICRO(rt_micro_6, 6)
RT_DEFINE_MICRO(rt_micro_5, 5)
RT_DEFINE_MICRO(rt_micro_4, 4)
RT_DEFINE_MICRO(rt_micro_3, 3)
RT_DEFINE_MICRO(rt_micro_2, 2)
RT_DEFINE_MICRO(rt_micro_1, 1)

/* While the micro-tiles run on one packed block, the weights of the block
 * packed next (the next RT_KC columns of this panel, else the first of the
 * next panel) are prefetched into L2, a share before each micro-tile, so the
 * pack reads them from cache rather than waiting on memory (measured: the
 * pack was a quarter of a 64-token prefill without this).  kw: elements of K
 * per block (RT_KC, or RT_KC pairs = 2·RT_KC elements for the bf16 path). */
static inline void rt_prefetch_next_block(const RtLinear *L, const void *w, int n0, int k0, int kw, int part, int parts) {
    int nn = n0, nk = k0 + kw;
    if (nk >= L->K) { nn = n0 + RT_NR; nk = 0; }
    if (nn >= L->N) return;
    size_t ws = rt_wsize(L->fmt), row_bytes = (size_t)(L->K - nk < kw ? L->K - nk : kw) * ws;
    size_t lines = (row_bytes + 63) / 64, total = lines * RT_NR;
    size_t b = total * part / parts, e = total * (part + 1) / parts;
    size_t j = b / lines, l = b % lines;   /* row and line of line b; one division per call, not per line */
    for (size_t i = b; i < e; i++) {
        size_t n = nn + j < (size_t)L->N ? nn + j : (size_t)L->N - 1;
        RT_PREFETCH_L2((const char *)w + ((size_t)n * L->K + nk) * ws + l * 64);
        if (++l == lines) { l = 0; j++; }
    }
}


#if defined(__AVX512BF16__)
/* --precision=bf16 (bf16 weights only): the activations are rounded to bf16
 * and vdpbf16ps multiplies pairs of bf16 with f32 accumulation, as a bf16
 * model does in transformers, at twice the multiply-adds per instruction.
 * The panel then holds pairs: P[kp][j] = W[n0 + j][2kp .. 2kp + 1] (one u32),
 * the activations xb[t][kp] the same pairs of x. */
#define RT_HAVE_BF16_DOT 1
static void rt_pack_panel_pairs(const RtLinear *L, const void *w, int n0, int kp0, int kpc, uint32_t *P) {
    if (L->K % 2 == 0) {   /* a row is K/2 aligned pairs: the f32 transpose moves them as 32-bit lanes */
        const uint32_t *rows[RT_NR];
        for (int j = 0; j < RT_NR; j++)
            rows[j] = (const uint32_t *)((const uint16_t *)w + (size_t)(n0 + j < L->N ? n0 + j : L->N - 1) * L->K) + kp0;
        int kp = 0;
        for (; kp + 16 <= kpc; kp += 16)
            for (int j0 = 0; j0 < RT_NR; j0 += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_castsi512_ps(_mm512_loadu_si512(rows[j0 + i] + kp));
                rt_transpose16(r);
                for (int c = 0; c < 16; c++) _mm512_storeu_si512(P + (size_t)(kp + c) * RT_NR + j0, _mm512_castps_si512(r[c]));
            }
        for (; kp < kpc; kp++)
            for (int j = 0; j < RT_NR; j++) P[(size_t)kp * RT_NR + j] = rows[j][kp];
        return;
    }
    for (int j = 0; j < RT_NR; j++) {
        int n = n0 + j < L->N ? n0 + j : L->N - 1;
        const uint16_t *row = (const uint16_t *)w + (size_t)n * L->K;
        for (int kp = 0; kp < kpc; kp++) {
            int k = 2 * (kp0 + kp);
            uint32_t lo = row[k], hi = k + 1 < L->K ? row[k + 1] : 0;
            P[(size_t)kp * RT_NR + j] = lo | hi << 16;
        }
    }
}
#define RT_DEFINE_MICRO_BF16(NAME, MR_)                                                                     \
    static inline void NAME(const uint32_t *xb, int ldx, const uint32_t *P, int kpc, float *C, int first) { \
        __m512 c0[MR_], c1[MR_];                                                                            \
        RT_UNROLL for (int i = 0; i < MR_; i++) {                                                                     \
            c0[i] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(C + i * RT_NR);                           \
            c1[i] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(C + i * RT_NR + 16);                      \
        }                                                                                                   \
        for (int kp = 0; kp < kpc; kp++) {                                                                  \
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(P + (size_t)kp * RT_NR);                             \
            __m512bh b1 = (__m512bh)_mm512_loadu_si512(P + (size_t)kp * RT_NR + 16);                        \
            RT_UNROLL for (int i = 0; i < MR_; i++) {                                                                 \
                __m512bh a = (__m512bh)_mm512_set1_epi32((int)xb[(size_t)i * ldx + kp]);                    \
                c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);                                                     \
                c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);                                                     \
            }                                                                                               \
        }                                                                                                   \
        RT_UNROLL for (int i = 0; i < MR_; i++) {                                                                     \
            _mm512_storeu_ps(C + i * RT_NR, c0[i]);                                                         \
            _mm512_storeu_ps(C + i * RT_NR + 16, c1[i]);                                                    \
        }                                                                                                   \
    }
RT_DEFINE_MICRO_BF16(rt_micro_bf16_6, 6)
RT_DEFINE_MICRO_BF16(rt_micro_bf16_5, 5)
RT_DEFINE_MICRO_BF16(rt_micro_bf16_4, 4)
RT_DEFINE_MICRO_BF16(rt_micro_bf16_3, 3)
RT_DEFINE_MICRO_BF16(rt_micro_bf16_2, 2)
RT_DEFINE_MICRO_BF16(rt_micro_bf16_1, 1)

/* C[T][RT_NR] = bf16(x) · W[n0 : n0 + RT_NR]ᵀ; xb holds L->T rows of ceil(K/2) pairs. */
static void rt_gemm_panel_bf16(const RtLinear *L, const void *w, const uint32_t *xb, int n0, uint32_t *P, float *C) {
    int KP = (L->K + 1) / 2, tiles = (L->T + RT_MR - 1) / RT_MR;
    for (int kp0 = 0; kp0 < KP; kp0 += RT_KC) {
        int kpc = KP - kp0 < RT_KC ? KP - kp0 : RT_KC;
        rt_pack_panel_pairs(L, w, n0, kp0, kpc, P);
        for (int t = 0; t < L->T; t += RT_MR) {
            rt_prefetch_next_block(L, w, n0, 2 * kp0, 2 * RT_KC, t / RT_MR, tiles);
            const uint32_t *x = xb + (size_t)t * KP + kp0;
            float *c = C + (size_t)t * RT_NR;
            switch (L->T - t < RT_MR ? L->T - t : RT_MR) {
            case 6: rt_micro_bf16_6(x, KP, P, kpc, c, kp0 == 0); break;
            case 5: rt_micro_bf16_5(x, KP, P, kpc, c, kp0 == 0); break;
            case 4: rt_micro_bf16_4(x, KP, P, kpc, c, kp0 == 0); break;
            case 3: rt_micro_bf16_3(x, KP, P, kpc, c, kp0 == 0); break;
            case 2: rt_micro_bf16_2(x, KP, P, kpc, c, kp0 == 0); break;
            default: rt_micro_bf16_1(x, KP, P, kpc, c, kp0 == 0); break;
            }
        }
    }
}

/* n floats → n bf16, rounded as st_f32_to_bf16 (nearest even, NaN quieted),
 * 16 at a time: add 0x7FFF plus the kept part's lowest bit, keep the top half. */
static inline void rt_f32_to_bf16_row(const float *x, uint16_t *o, int n) {
    int k = 0;
    const __m512i round = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1), inf = _mm512_set1_epi32(0x7F800000);
    for (; k + 16 <= n; k += 16) {
        __m512i u = _mm512_loadu_si512((const void *)(x + k)), hi = _mm512_srli_epi32(u, 16);
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), inf);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(round, _mm512_and_si512(hi, one))), 16);
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
        _mm256_storeu_si256((__m256i *)(o + k), _mm512_cvtepi32_epi16(r));
    }
    for (; k < n; k++) o[k] = st_f32_to_bf16(x[k]);
}

/* x rounded to bf16 (nearest even, as torch's .to(bfloat16)), as pairs: each
 * row K bf16 in order (a pair's low half is the even element), padded with a
 * zero when K is odd. */
static inline uint32_t *rt_x_to_bf16_pairs(const float *x, int T, int K) {
    int KP = (K + 1) / 2;
    uint32_t *xb = (uint32_t *)rt_alloc(sizeof(uint32_t) * (size_t)T * KP);
    for (int t = 0; t < T; t++) rt_f32_to_bf16_row(x + (size_t)t * K, (uint16_t *)(xb + (size_t)t * KP), K);
    return xb;
}
#endif

/* Outputs n0 … n0+nb−1 of every token from the sums G[t][ld] (and the GLU's
 * up sums U, or NULL): bias, activation × up, residual, stored in y. */
static inline void rt_linear_epilogue(const RtLinear *L, int n0, int nb, const float *G, const float *U, int ld) {
#if defined(__AVX512F__)
    if (U && L->act != RT_ACT_GELU_TANH) {   /* SwiGLU, 16 outputs at a time: silu(g) · up = g / (1 + e^-g) · up */
        for (int t = 0; t < L->T; t++)
            for (int j = 0; j < nb; j += 16) {
                __mmask16 m = nb - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nb - j)) - 1);
                size_t at = (size_t)t * L->N + n0 + j;
                __m512 v = _mm512_maskz_loadu_ps(m, G + (size_t)t * ld + j), up = _mm512_maskz_loadu_ps(m, U + (size_t)t * ld + j);
                if (L->b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, L->b + n0 + j));
                if (L->b_up) up = _mm512_add_ps(up, _mm512_maskz_loadu_ps(m, L->b_up + n0 + j));
                v = _mm512_mul_ps(_mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), rt_exp16(_mm512_sub_ps(_mm512_setzero_ps(), v)))), up);
                if (L->res) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, L->res + at), v);
                _mm512_mask_storeu_ps(L->y + at, m, v);
            }
        return;
    }
    if (!U) {   /* bias and residual, 16 outputs at a time */
        for (int t = 0; t < L->T; t++)
            for (int j = 0; j < nb; j += 16) {
                __mmask16 m = nb - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nb - j)) - 1);
                size_t at = (size_t)t * L->N + n0 + j;
                __m512 v = _mm512_maskz_loadu_ps(m, G + (size_t)t * ld + j);
                if (L->b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, L->b + n0 + j));
                if (L->res) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, L->res + at), v);
                _mm512_mask_storeu_ps(L->y + at, m, v);
            }
        return;
    }
#endif
    for (int t = 0; t < L->T; t++)
        for (int j = 0; j < nb; j++) {
            int n = n0 + j;
            size_t at = (size_t)t * L->N + n;
            float v = G[(size_t)t * ld + j];
            if (L->b) v = v + L->b[n];
            if (U) {
                float up = U[(size_t)t * ld + j];
                if (L->b_up) up = up + L->b_up[n];
                v = (L->act == RT_ACT_GELU_TANH ? rt_gelu_tanh(v) : rt_silu(v)) * up;
            }
            if (L->res) v = L->res[at] + v;
            L->y[at] = v;
        }
}

/* The activations in the order the micro-tiles read them: per RT_KC-wide block
 * of K (k0), per tile of RT_MR tokens, [kc][RT_MR] (tokens past T zero), at
 * k0 · tiles · RT_MR + tile · kc · RT_MR.  Read in place, a tile's RT_MR rows
 * lie K floats apart: at K = 1024 or 3072 (4 KB multiples) they fall in one
 * set of the L1 cache.  Packed once per call, shared by all panels: one Zen 3
 * core, f32, T = 128, the qwen3-0.6b matrices: see docs/kernels.md. */
static float *rt_pack_x(const RtLinear *L) {
    int T = L->T, K = L->K, tiles = (T + RT_MR - 1) / RT_MR;
    float *xg = (float *)rt_alloc(sizeof(float) * (size_t)K * tiles * RT_MR);
    for (int k0 = 0; k0 < K; k0 += RT_KC) {
        int kc = K - k0 < RT_KC ? K - k0 : RT_KC;
        for (int tl = 0; tl < tiles; tl++) {
            float *o = xg + (size_t)k0 * tiles * RT_MR + (size_t)tl * kc * RT_MR;
            for (int i = 0; i < RT_MR; i++) {
                int t = tl * RT_MR + i;
                if (t < T) {
                    const float *xr = L->x + (size_t)t * K + k0;
                    for (int k = 0; k < kc; k++) o[(size_t)k * RT_MR + i] = xr[k];
                } else
                    for (int k = 0; k < kc; k++) o[(size_t)k * RT_MR + i] = 0.0f;
            }
        }
    }
    return xg;
}

/* C[T][RT_NR] = x · W[n0 : n0 + RT_NR]ᵀ, over K in packed blocks. */
static void rt_gemm_panel(const RtLinear *L, const void *w, int n0, float *P, float *C) {
    int tiles = (L->T + RT_MR - 1) / RT_MR;
    for (int k0 = 0; k0 < L->K; k0 += RT_KC) {
        int kc = L->K - k0 < RT_KC ? L->K - k0 : RT_KC;
        rt_pack_panel(L, w, n0, k0, kc, P);
        for (int t = 0; t < L->T; t += RT_MR) {
            rt_prefetch_next_block(L, w, n0, k0, RT_KC, t / RT_MR, tiles);
            const float *x = L->xg + (size_t)k0 * tiles * RT_MR + (size_t)(t / RT_MR) * kc * RT_MR;
            float *c = C + (size_t)t * RT_NR;
            switch (L->T - t < RT_MR ? L->T - t : RT_MR) {
            case 6: rt_micro_6(x, P, kc, c, k0 == 0); break;
            case 5: rt_micro_5(x, P, kc, c, k0 == 0); break;
            case 4: rt_micro_4(x, P, kc, c, k0 == 0); break;
            case 3: rt_micro_3(x, P, kc, c, k0 == 0); break;
            case 2: rt_micro_2(x, P, kc, c, k0 == 0); break;
            default: rt_micro_1(x, P, kc, c, k0 == 0); break;
            }
        }
    }
}

#if defined(__AVX512F__)
/* ── f32 prefill GEMM with the weights read in place (AVX-512) ──────────────
 * rt_gemm_panel transposes every 32 × RT_KC block of W into P before its
 * micro-tiles read it, and on a Zen 4 core that pack (four shuffles per
 * vector) took a fifth of a T = 128 product.  Here the roles are swapped: the
 * activations are packed once per call (rt_pack_xw: per block of RT_WT = 32
 * tokens, [K][32], tokens past T zero) and a micro-tile of RT_WR = 8 weight
 * rows × 32 tokens keeps 16 accumulators, each a vector over 16 tokens of one
 * row; per k: two activation loads, eight weight scalars broadcast straight
 * from the checkpoint's rows, 16 FMAs.  K goes in RT_WKC blocks (the 8 rows'
 * block stays in L1 across the token blocks, the activations' in L2), the
 * panel's next block prefetched into L2 as rt_gemm_panel does; sums collect in
 * CT[row][token] and are transposed into the GEMM's [token][row] scratch for
 * the shared epilogue.  Every output is the same sequential f32 sum over k as
 * in rt_gemm_panel (w·x + c is x·w + c, the k blocks stored and reloaded
 * exactly), so the two paths give the same bits.  Measured on one Zen 4 core
 * (bench/dense_linear.c, T = 128, 32–64 matrices, 2 interleaved rounds),
 * GFLOP/s packed → in place: K × N = 1024 × 3072 88.7–89.0 → 95.1–100.2,
 * 3072 × 1024 80.8–81.7 → 89.9–94.9, 1024 × 2048 85.4–87.6 → 94.0–100.4,
 * 2048 × 1024 77.9–81.8 → 89.7–91.6, 1024 × 1024 85.1–87.2 → 95.2–99.4;
 * on 2 threads +5–10%.  (4 rows × 64 tokens: 78–83; 4 × 32: 72–73; 8 × 32
 * with 512-wide K blocks and per-row prefetch: no gain.)
 * bf16 / f16 weights take the same tiles on a widened copy of each 8-row block
 * (rt_gemm_panel_w).  ARCHC_GEMM_INPLACE=0 in the environment selects the
 * packed panels. */
#define RT_GEMM_INPLACE 1
#define RT_WR 8      /* weight rows per micro-tile (divides RT_NR) */
#define RT_WV 2      /* vectors of 16 tokens per micro-tile        */
#define RT_WT (16 * RT_WV)
#define RT_WKC 256
_Static_assert(RT_NR % RT_WR == 0, "a panel is whole micro-tiles of rows");
/* ARCHC_GEMM_INPLACE unset or not "0", read once */
static int rt_gemm_inplace_read(void) {
    const char *e = getenv("ARCHC_GEMM_INPLACE");
    return !(e && e[0] == '0');
}
static int rt_gemm_inplace_on(void) {
    static int on = -1;
    return rt_once(&on, rt_gemm_inplace_read);
}
/* x as the in-place tiles read it: per block of RT_WT tokens, [K][RT_WT] */
static float *rt_pack_xw(const RtLinear *L) {
    int T = L->T, K = L->K, nb = (T + RT_WT - 1) / RT_WT;
    float *xw = (float *)rt_alloc(sizeof(float) * (size_t)nb * K * RT_WT);
    for (int b = 0; b < nb; b++) {
        float *o = xw + (size_t)b * K * RT_WT;
        for (int i = 0; i < RT_WT; i++) {
            int t = b * RT_WT + i;
            const float *xr = L->x + (size_t)t * K;
            if (t < T)
                for (int k = 0; k < K; k++) o[(size_t)k * RT_WT + i] = xr[k];
            else
                for (int k = 0; k < K; k++) o[(size_t)k * RT_WT + i] = 0.0f;
        }
    }
    return xw;
}
/* CT[r][0:RT_WT] (+)= Σ_{k<kc} w[r][k] · x[k][0:RT_WT] for RT_WR rows (ldc apart) */
static inline void rt_micro_w(const float *x, const float *const *w, int kc, float *CT, int ldc, int first) {
    __m512 c[RT_WR][RT_WV];
    RT_UNROLL for (int r = 0; r < RT_WR; r++)
        RT_UNROLL for (int v = 0; v < RT_WV; v++) c[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(CT + (size_t)r * ldc + 16 * v);
    for (int k = 0; k < kc; k++) {
        __m512 xv[RT_WV];
        RT_UNROLL for (int v = 0; v < RT_WV; v++) xv[v] = _mm512_loadu_ps(x + (size_t)k * RT_WT + 16 * v);
        RT_UNROLL for (int r = 0; r < RT_WR; r++) {
            __m512 a = _mm512_set1_ps(w[r][k]);
            RT_UNROLL for (int v = 0; v < RT_WV; v++) c[r][v] = _mm512_fmadd_ps(a, xv[v], c[r][v]);
        }
    }
    RT_UNROLL for (int r = 0; r < RT_WR; r++)
        RT_UNROLL for (int v = 0; v < RT_WV; v++) _mm512_storeu_ps(CT + (size_t)r * ldc + 16 * v, c[r][v]);
}
/* C[T][RT_NR] = x · W[n0 : n0 + RT_NR]ᵀ, W read in place; CT: [RT_NR][Tp] scratch.
 * bf16 / f16 weights (the exact path: f32 arithmetic on the widened weights):
 * each 8-row × RT_WKC block is widened once into an 8 KiB buffer that stays in
 * L1 while all the token blocks run over it, a few percent of the FMAs at
 * T = 128; the sums are the f32 path's, so the bits are the packed panels'. */
static void rt_gemm_panel_w(const RtLinear *L, const void *w, int n0, float *CT, float *C) {
    int T = L->T, K = L->K, nb = (T + RT_WT - 1) / RT_WT, Tp = nb * RT_WT;
    float wide[RT_WR][RT_WKC] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < K; k0 += RT_WKC) {
        int kc = K - k0 < RT_WKC ? K - k0 : RT_WKC;
        rt_prefetch_next_block(L, w, n0, k0, RT_WKC, 0, 1);
        for (int g = 0; g < RT_NR; g += RT_WR) {
            const float *wr[RT_WR];
            for (int r = 0; r < RT_WR; r++) {
                int n = n0 + g + r < L->N ? n0 + g + r : L->N - 1;
                if (L->fmt == RT_F32)
                    wr[r] = (const float *)w + (size_t)n * K + k0;
                else {
                    rt_row_to_f32((const uint16_t *)w + (size_t)n * K + k0, L->fmt, kc, wide[r]);
                    wr[r] = wide[r];
                }
            }
            for (int b = 0; b < nb; b++)
                rt_micro_w(L->xw + (size_t)b * K * RT_WT + (size_t)k0 * RT_WT, wr, kc, CT + (size_t)g * Tp + b * RT_WT, Tp, k0 == 0);
        }
    }
    for (int t = 0; t < T; t++)
        for (int j = 0; j < RT_NR; j++) C[(size_t)t * RT_NR + j] = CT[(size_t)j * Tp + t];
}
#endif

/* Panels [pb, pe): each computed into scratch, then bias, GLU and residual. */
static void rt_linear_gemm_range(void *ctx, int pb, int pe) {
    const RtLinear *L = (const RtLinear *)ctx;
    int kc = L->K < RT_KC ? L->K : RT_KC;
    float *G = (float *)rt_alloc(sizeof(float) * (size_t)L->T * RT_NR);
    float *U = L->w_up ? (float *)rt_alloc(sizeof(float) * (size_t)L->T * RT_NR) : NULL;
#ifdef RT_GEMM_INPLACE   /* the in-place tiles need no panel, only their [row][token] sums */
    float *CT = L->xw ? (float *)rt_alloc(sizeof(float) * (size_t)RT_NR * ((L->T + RT_WT - 1) / RT_WT * RT_WT)) : NULL;
    float *P = L->xw ? NULL : (float *)rt_alloc(sizeof(float) * (size_t)kc * RT_NR);
#else
    float *P = (float *)rt_alloc(sizeof(float) * (size_t)kc * RT_NR);
#endif
    for (int p = pb; p < pe; p++) {
        int n0 = p * RT_NR;
#ifdef RT_GEMM_INPLACE
        if (L->xw) {
            rt_gemm_panel_w(L, L->w, n0, CT, G);
            if (U) rt_gemm_panel_w(L, L->w_up, n0, CT, U);
        } else
#endif
#ifdef RT_HAVE_BF16_DOT
        if (L->xb) {
            rt_gemm_panel_bf16(L, L->w, L->xb, n0, (uint32_t *)P, G);
            if (U) rt_gemm_panel_bf16(L, L->w_up, L->xb, n0, (uint32_t *)P, U);
        } else
#endif
        {
            rt_gemm_panel(L, L->w, n0, P, G);
            if (U) rt_gemm_panel(L, L->w_up, n0, P, U);
        }
        rt_linear_epilogue(L, n0, L->N - n0 < RT_NR ? L->N - n0 : RT_NR, G, U, RT_NR);
    }
    rt_free(P);
    rt_free(G);
    rt_free(U);
#ifdef RT_GEMM_INPLACE
    rt_free(CT);
#endif
}
#endif

#if defined(RT_HAVE_BF16_DOT) && (defined(__AMX_TILE__) || defined(__AMXTILE__)) && (defined(__AMX_BF16__) || defined(__AMXBF16__))
/* --precision=bf16 prefill on Intel AMX (Sapphire Rapids and later): the same
 * products as vdpbf16ps (bf16 × bf16, f32 sums), on the tile unit, whose
 * TDPBF16PS does a 16×16×32 product per instruction.  Eight tile registers of
 * 16 rows × 64 bytes, one configuration for all:
 *   tiles 4, 5  A: weight rows n0 … n0+15 and n0+16 … n0+31, 32 bf16 of k each,
 *               loaded from the checkpoint's rows as they are (stride K × 2 B):
 *               no weight pack;
 *   tiles 6, 7  B: the activations as bf16 pairs, kp = k/2 down the rows and 16
 *               tokens across (xt below: packed once per call, 32 tokens a block);
 *   tiles 0–3   C[w row][token], f32: (rows 0–15, 16–31) × (tokens 0–15, 16–31).
 * So a task (32 weight rows) runs K/32 steps of 4 loads and 4 TDPBF16PS per 32
 * tokens, then transposes C into the GEMM's [token][row] sums for the shared
 * epilogue.  Weight rows past N (N % 32) are copied into a zero-padded block. */
#define RT_HAVE_AMX 1
#ifndef RT_AMX_MIN_T
#define RT_AMX_MIN_T 16
#endif
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} RtTileConfig;
static inline void rt_amx_configure(void) {
    RtTileConfig c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) { c.colsb[i] = 64; c.rows[i] = 16; }
    _tile_loadconfig(&c);
}
typedef struct {
    const RtLinear *L;
    const uint32_t *xt;   /* [Tp/32][K/2][32] bf16 pairs, tokens ≥ T zero */
    int Tp;               /* T rounded up to 32 */
} RtAmxLinear;

/* xt[b][kp][j] = (x[32b + j][2kp], x[32b + j][2kp + 1]) rounded to bf16; from the
 * row-major pairs of rt_x_to_bf16_pairs by 16 × 16 transposes of 32-bit lanes. */
static uint32_t *rt_amx_pack_x(const float *x, int T, int K, int Tp) {
    int KP = K / 2;
    uint32_t *xb = rt_x_to_bf16_pairs(x, T, K);
    uint32_t *xt = (uint32_t *)rt_alloc(sizeof(uint32_t) * (size_t)Tp * KP);
    for (int t0 = 0; t0 < Tp; t0 += 16)
        for (int kp = 0; kp < KP; kp += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = t0 + i < T ? _mm512_castsi512_ps(_mm512_loadu_si512((const void *)(xb + (size_t)(t0 + i) * KP + kp)))
                                  : _mm512_setzero_ps();
            rt_transpose16(r);
            uint32_t *o = xt + (size_t)(t0 / 32) * KP * 32 + (size_t)kp * 32 + t0 % 32;
            for (int c = 0; c < 16; c++) _mm512_storeu_si512((void *)(o + (size_t)c * 32), _mm512_castps_si512(r[c]));
        }
    rt_free(xb);
    return xt;
}

/* The 32 rows at w (row stride ldw) as A tiles one after the other: for each
 * step of 32 k, rows 0–15 then rows 16–31, 64 bytes each (2 KB a step).  A
 * tile loaded straight from the rows reads 16 lines 2·K bytes apart, and with
 * K a multiple of 1024 the 32 rows fall into two or four sets of the L1
 * (measured on Xeon, K = 1024: 4.0 GB/s of weights unpacked). */
static void rt_amx_pack_w(const uint16_t *w, size_t ldw, int K, uint16_t *Wp) {
    for (int r = 0; r < 32; r++)
        for (int k = 0; k < K; k += 32)
            _mm512_storeu_si512((void *)(Wp + (size_t)k * 32 + (size_t)r * 32), _mm512_loadu_si512((const void *)(w + (size_t)r * ldw + k)));
}

/* G[t][32] (t < Tp) = bf16(x[t]) · W[n0 + j] for the 32 rows at w (row stride ldw). */
/* next: the rows of the following task (or NULL), fetched into L2 during the
 * first 32 tokens, a 64-byte line of each of its 32 rows per step, so the
 * next pack reads them from there rather than waiting on memory. */
static void rt_amx_panel(const uint16_t *w, size_t ldw, const uint32_t *xt, int Tp, int K, float *G, float *S, uint16_t *Wp,
                         const uint16_t *next) {
    int KP = K / 2;
    rt_amx_pack_w(w, ldw, K, Wp);
    for (int b = 0; b < Tp / 32; b++) {
        const uint32_t *xb = xt + (size_t)b * KP * 32;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int kp = 0; kp < KP; kp += 16) {
            if (next && b == 0)
                for (int r = 0; r < 32; r++) _mm_prefetch((const char *)(next + (size_t)r * ldw + 2 * (size_t)kp), _MM_HINT_T1);
            _tile_loadd(4, Wp + (size_t)kp * 64, 64);
            _tile_loadd(5, Wp + (size_t)kp * 64 + 512, 64);
            _tile_loadd(6, xb + (size_t)kp * 32, 128);
            _tile_loadd(7, xb + (size_t)kp * 32 + 16, 128);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        /* S[row][token] → G[token][row] */
        _tile_stored(0, S, 128);
        _tile_stored(1, S + 16, 128);
        _tile_stored(2, S + 16 * 32, 128);
        _tile_stored(3, S + 16 * 32 + 16, 128);
        for (int rb = 0; rb < 2; rb++)
            for (int tb = 0; tb < 2; tb++) {
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(S + (size_t)(rb * 16 + i) * 32 + tb * 16);
                rt_transpose16(r);
                for (int c = 0; c < 16; c++) _mm512_storeu_ps(G + (size_t)(b * 32 + tb * 16 + c) * 32 + rb * 16, r[c]);
            }
    }
}

static void rt_linear_amx_range(void *ctx, int pb, int pe) {
    const RtAmxLinear *A = (const RtAmxLinear *)ctx;
    const RtLinear *L = A->L;
    int K = L->K;
    float *G = (float *)rt_alloc(sizeof(float) * (size_t)A->Tp * 32);
    float *U = L->w_up ? (float *)rt_alloc(sizeof(float) * (size_t)A->Tp * 32) : NULL;
    float *S = (float *)rt_alloc(sizeof(float) * 32 * 32);
    uint16_t *Wp = (uint16_t *)rt_alloc(sizeof(uint16_t) * 32 * (size_t)K);
    uint16_t *pad = NULL;   /* the last task's rows when N % 32 != 0 */
    rt_amx_configure();
    for (int p = pb; p < pe; p++) {
        int n0 = p * 32, nb = L->N - n0 < 32 ? L->N - n0 : 32;
        for (int m = 0; m < (U ? 2 : 1); m++) {
            const uint16_t *w = (const uint16_t *)(m ? L->w_up : L->w) + (size_t)n0 * K;
            if (nb < 32) {
                if (!pad) pad = (uint16_t *)rt_alloc(sizeof(uint16_t) * 32 * (size_t)K);
                memcpy(pad, w, sizeof(uint16_t) * (size_t)nb * K);
                memset(pad + (size_t)nb * K, 0, sizeof(uint16_t) * (size_t)(32 - nb) * K);
                w = pad;
            }
            /* the next rows: this task's up matrix, or the next task's gate */
            const uint16_t *next = m == 0 && U ? (const uint16_t *)L->w_up + (size_t)n0 * K
                                   : p + 1 < pe && (p + 2) * 32 <= L->N ? (const uint16_t *)L->w + (size_t)(n0 + 32) * K : NULL;
            rt_amx_panel(w, (size_t)K, A->xt, A->Tp, K, m ? U : G, S, Wp, next);
        }
        rt_linear_epilogue(L, n0, nb, G, U, 32);
    }
    _tile_release();
    rt_free(Wp);
    rt_free(pad);
    rt_free(S);
    rt_free(G);
    rt_free(U);
}

/* out[t][j] (row stride ldo) = bf16(x[t]) · W[j] for t < T, j < N, on this
 * thread (a MoE expert's matrices): the same panels, without the epilogue. */
static void rt_amx_rows(const float *x, int T, int K, const uint16_t *w, int N, float *out, int ldo) {
    int Tp = (T + 31) / 32 * 32;
    uint32_t *xt = rt_amx_pack_x(x, T, K, Tp);
    float *G = (float *)rt_alloc(sizeof(float) * (size_t)Tp * 32), *S = (float *)rt_alloc(sizeof(float) * 32 * 32);
    uint16_t *Wp = (uint16_t *)rt_alloc(sizeof(uint16_t) * 32 * (size_t)K), *pad = NULL;
    rt_amx_configure();
    for (int n0 = 0; n0 < N; n0 += 32) {
        int nb = N - n0 < 32 ? N - n0 : 32;
        const uint16_t *wp = w + (size_t)n0 * K;
        if (nb < 32) {
            pad = (uint16_t *)rt_alloc(sizeof(uint16_t) * 32 * (size_t)K);
            memcpy(pad, wp, sizeof(uint16_t) * (size_t)nb * K);
            memset(pad + (size_t)nb * K, 0, sizeof(uint16_t) * (size_t)(32 - nb) * K);
            wp = pad;
        }
        rt_amx_panel(wp, (size_t)K, xt, Tp, K, G, S, Wp, n0 + 64 <= N ? w + (size_t)(n0 + 32) * K : NULL);
        for (int t = 0; t < T; t++) memcpy(out + (size_t)t * ldo + n0, G + (size_t)t * 32, sizeof(float) * (size_t)nb);
    }
    _tile_release();
    rt_free(Wp);
    rt_free(pad);
    rt_free(S);
    rt_free(G);
    rt_free(xt);
}

static void rt_linear_amx(const RtLinear *L) {
    RtAmxLinear A = {.L = L, .Tp = (L->T + 31) / 32 * 32};
    uint32_t *xt = rt_amx_pack_x(L->x, L->T, L->K, A.Tp);
    A.xt = xt;
    rt_parallel_for((L->N + 31) / 32, rt_linear_amx_range, &A);
    rt_free(xt);
}
#endif

#ifdef RT_HAVE_BF16_DOT
static void rt_linear_few_bf16(const RtLinear *L);   /* below, with the experts' few-token kernels */
#endif

/* y = x·Wᵀ (+b) (+res), or the GLU form when L->w_up is set. */
static inline void rt_linear(const RtLinear *L) {
    if (rt_fmt_quant(L->fmt)) { rt_linear_quant(L); return; }
#ifdef RT_HAVE_BF16_DOT
    if (L->T >= 2 && L->fmt == RT_BF16 && rt_precision == RT_PRECISION_BF16 && L->K % 32 == 0) {
#ifdef RT_HAVE_AMX
        if (L->T >= RT_AMX_MIN_T && rt_amx_ready()) { rt_linear_amx(L); return; }
#endif
        rt_linear_few_bf16(L);
        return;
    }
#endif
#if RT_VL
    if (L->T >= RT_GEMM_MIN_T && (L->fmt == RT_F32 || L->fmt == RT_BF16 || L->fmt == RT_F16 || (L->fmt == RT_FP8 && L->scale))) {
#ifdef RT_HAVE_BF16_DOT
        if (L->fmt == RT_BF16 && rt_precision == RT_PRECISION_BF16) {
            RtLinear B = *L;
            B.xb = rt_x_to_bf16_pairs(L->x, L->T, L->K);
            rt_parallel_for((L->N + RT_NR - 1) / RT_NR, rt_linear_gemm_range, &B);
            rt_free((void *)B.xb);
            return;
        }
#endif
        RtLinear G = *L;
#ifdef RT_GEMM_INPLACE
        if ((L->fmt == RT_F32 || L->fmt == RT_BF16 || L->fmt == RT_F16) && rt_gemm_inplace_on()) G.xw = rt_pack_xw(L);
        else
#endif
            G.xg = rt_pack_x(L);
        rt_parallel_for((L->N + RT_NR - 1) / RT_NR, rt_linear_gemm_range, &G);
        rt_free((void *)G.xw);
        rt_free((void *)G.xg);
        return;
    }
#endif
    int TN = L->T == 1 ? 8 : RT_TN;
    int tiles = (L->N + TN - 1) / TN;
#ifdef RT_HAVE_BF16_DOT
    if (L->T == 1 && L->fmt == RT_BF16 && rt_precision == RT_PRECISION_BF16) {   /* decode: rt_gemv_tile_dp */
        RtLinear B = *L;
        B.xb = rt_x_to_bf16_pairs(L->x, 1, L->K);
        rt_parallel_for(tiles, rt_linear_range, &B);
        rt_free((void *)B.xb);
        return;
    }
#endif
#ifdef RT_FP8_FAST
    if (rt_fp8_fast(L, TN)) {
        RtLinear P = *L;
        float *xp = (float *)malloc(sizeof(float) * (size_t)L->T * L->K);
        if (!xp) rt_die("out of memory in linear");
        for (int t = 0; t < L->T; t++) rt_fp8_permute_x(L->x + (size_t)t * L->K, xp + (size_t)t * L->K, L->K);
        P.xp = xp;
        rt_parallel_for(tiles, rt_linear_range, &P);
        free(xp);
        return;
    }
#endif
#ifdef RT_BF16_EO
    if (L->fmt == RT_BF16) {
        RtLinear P = *L;
        float *xp = (float *)malloc(sizeof(float) * (size_t)L->T * L->K);
        if (!xp) rt_die("out of memory in linear");
        for (int t = 0; t < L->T; t++) rt_bf16_permute_x(L->x + (size_t)t * L->K, xp + (size_t)t * L->K, L->K);
        P.xp = xp;
        rt_parallel_for(tiles, rt_linear_range, &P);
        free(xp);
        return;
    }
#endif
    rt_parallel_for(tiles, rt_linear_range, (void *)L);
}


/* ── mixture of experts (Qwen3-MoE style) ─────────────────────────────────────
 * Router logits x·Wrᵀ in f32, routed by rt_moe_route, then for each selected expert
 * w · down(silu(gate·x) ⊙ up·x), summed over experts in expert-index order as
 * Hugging Face does (index_add per expert).  `grouped` (the expert-group pass)
 * gathers all tokens routed to an expert and runs its three matrices once over
 * them (matrix-matrix in prefill); otherwise every (token, expert) pair is its
 * own GEMV.  Only selected experts' weights are read either way. */
typedef struct RtMoe {
    const float *x;                 /* [T][H]                                  */
    float *y;                       /* [T][H] output (not accumulated)         */
    const void *router;             /* [E][H]                                  */
    const void *const *gate, *const *up, *const *down; /* [E] → [I][H], [I][H], [H][I] */
    int T, H, I, E, K, fmt;
    int normalize;                  /* renormalise the top-k weights           */
    int grouped;                    /* expert-group pass                       */
    /* DeepSeek-V3 / GLM-4.5 "noaux_tc" routing (score = 1: sigmoid) */
    int score;                      /* 0 softmax, 1 sigmoid                    */
    const float *select_bias;       /* [E] added to the scores for selection only */
    int groups, top_groups;         /* group-limited selection (0/1 = off)     */
    int group_max;                  /* rank groups by their best score (V2), else top-2 sum */
    float scale;                    /* routed_scaling_factor (0 = 1)           */
    /* shared experts (run on every token, added after the routed sum) */
    const void *shared_gate, *shared_up, *shared_down; /* [SI][H], [SI][H], [H][SI] */
    int SI;
    int router_fmt;                 /* the router's format (bf16 in fp8 checkpoints) */
    /* fp8 experts: block multipliers per expert matrix, and of the shared expert */
    const float *const *gate_scale, *const *up_scale, *const *down_scale;
    const float *shared_gate_scale, *shared_up_scale, *shared_down_scale;
    int bn, bk;
    int scale_f16;                  /* int8 / int4 experts: f16 block scales (RtLinear.scale_f16) */
} RtMoe;

/* The k largest of E scores, highest first, lowest index on ties (torch.topk). */
static inline void rt_topk(const float *score, int E, int K, int *sel) {
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int j = 0; j < k; j++) taken |= sel[j] == e;
            if (!taken && (best < 0 || score[e] > score[best])) best = e;
        }
        sel[k] = best;
    }
}

/* Routing of one token, as HF computes it.  Scores: softmax over all experts
 * (Qwen3-MoE, DeepSeek-V2) or sigmoid (DeepSeek-V3, Kimi K2, GLM-4.5).  The
 * selection uses scores + select_bias (the bias never enters the weights);
 * group-limited routing keeps the top_groups groups, ranked by the sum of their
 * two best selection scores (group_max = 0, DeepSeek-V3) or by their best one
 * (group_max = 1, DeepSeek-V2), and fills the other experts with 0.0 (not
 * -inf) as HF does.  Then the top k (lowest index first on ties), optional
 * renormalisation, and the routed scaling factor. */
static inline void rt_moe_route(const RtMoe *M, float *l, int *sel, float *wt) {
    int E = M->E, K = M->K;
    float cbuf[512], *c = E <= 512 ? cbuf : (float *)malloc(sizeof(float) * (size_t)E);
    if (!c) rt_die("out of memory in moe");
    if (M->score == 1) {
        for (int e = 0; e < E; e++) l[e] = 1.0f / (1.0f + expf(-l[e]));
    } else {
        float m = l[0], sum = 0.0f;
        for (int e = 1; e < E; e++) if (l[e] > m) m = l[e];
        for (int e = 0; e < E; e++) { l[e] = expf(l[e] - m); sum += l[e]; }
        for (int e = 0; e < E; e++) l[e] /= sum;
    }
    for (int e = 0; e < E; e++) c[e] = l[e] + (M->select_bias ? M->select_bias[e] : 0.0f);
    if (M->groups > 1) {
        int per = E / M->groups;
        float gs[256];
        int keep[256] = {0};
        for (int g = 0; g < M->groups && g < 256; g++) {
            float b1 = -INFINITY, b2 = -INFINITY;
            for (int e = g * per; e < (g + 1) * per; e++) {
                if (c[e] > b1) { b2 = b1; b1 = c[e]; }
                else if (c[e] > b2) b2 = c[e];
            }
            gs[g] = M->group_max ? b1 : b1 + b2;
        }
        for (int k = 0; k < M->top_groups; k++) {
            int best = -1;
            for (int g = 0; g < M->groups && g < 256; g++)
                if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            keep[best] = 1;
        }
        for (int e = 0; e < E; e++) if (!keep[e / per]) c[e] = 0.0f;
    }
    float sum = 0.0f;
    rt_topk(c, E, K, sel);
    for (int k = 0; k < K; k++) {
        wt[k] = l[sel[k]];
        sum += wt[k];
    }
    for (int k = 0; k < K; k++) {
        if (M->normalize) wt[k] = M->score == 1 ? wt[k] / (sum + 1e-20f) : wt[k] / sum;
        if (M->scale != 0.0f && M->scale != 1.0f) wt[k] = wt[k] * M->scale;
    }
    if (c != cbuf) free(c);
}

/* ── MoE experts on a few tokens ────────────────────────────────────────────
 * In prefill an expert sees about T·k/E tokens (128-token chunk, 128 experts,
 * top 8: 8 tokens), too few for the packed-panel GEMM to repay its pack and
 * too few for the 4×4 dot tiles (whose token tiles leave the last one mostly
 * empty).  rt_rows_few computes out[t][n] = Σ_k x[t][k]·W[n][k] for up to 8
 * tokens at once: a register tile of NT tokens × R rows, the sum over k in
 * vector lanes, every weight row streamed once for all NT tokens (x stays in
 * L1).  R is chosen per NT to fill the 32 registers.  Rows go in blocks of 24
 * (a multiple of every R) so that a block's weights are still in L2 when a
 * second group of 8 tokens passes over it.  bf16 weights: even/odd lanes as in
 * the decode tile (x de-interleaved); --precision=bf16: x as bf16 pairs and
 * vdpbf16ps straight on the stored weights (no widening, no pack).  Sums stay
 * f32, in lanes then a horizontal sum, as the dot tiles do.  AVX-512 and
 * AVX2 (ymm: R chosen to fit 16 registers, bf16 widened by a zero-extend and
 * a shift on natural x); needs K % 32 == 0 (else rt_linear). */
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define RT_FEW 1
#define RT_FEW_BLOCK 24
/* a tile of nt tokens × R rows (below, per ISA) */
typedef void (*RtFewF32)(const float *, int, int, const float *const *, float *, int, int, int);
typedef void (*RtFewBf16)(const float *, int, int, const uint16_t *const *, float *, int, int, int);
#if defined(__AVX512F__)
#define RT_FEW_MAXT 8
#define RT_FEW_BF16_EO 1   /* bf16: x de-interleaved (rt_bf16_permute_x) */
#define RT_DEFINE_FEW_F32(NAME, NT, R)                                                                  \
    static void NAME(const float *x, int ldx, int K, const float *const *wr, float *out, int ldo, int nr, int pf) { \
        __m512 acc[NT][R];                                                                              \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_setzero_ps();                                \
        for (int k = 0; k < K; k += 16) {                                                               \
            __m512 w[R];                                                                                \
            if (pf) RT_PREFETCH_NEXT_TILE(float, wr, R, K, k, 16);                                      \
            RT_UNROLL for (int r = 0; r < R; r++) w[r] = _mm512_loadu_ps(wr[r] + k);                              \
            RT_UNROLL for (int t = 0; t < NT; t++) {                                                              \
                __m512 xv = _mm512_loadu_ps(x + (size_t)t * ldx + k);                                     \
                RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_fmadd_ps(xv, w[r], acc[t][r]);           \
            }                                                                                           \
        }                                                                                               \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) if (r < nr) out[(size_t)t * ldo + r] = _mm512_reduce_add_ps(acc[t][r]);    \
    }
#define RT_DEFINE_FEW_BF16(NAME, NT, R)                                                                 \
    static void NAME(const float *xp, int ldx, int K, const uint16_t *const *wr, float *out, int ldo, int nr, int pf) { \
        const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);                                    \
        __m512 acc[NT][R];                                                                              \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_setzero_ps();                                \
        for (int k = 0; k < K; k += 32) {                                                               \
            __m512 we[R], wo[R];                                                                        \
            if (pf) RT_PREFETCH_NEXT_TILE(uint16_t, wr, R, K, k, 32);                                   \
            RT_UNROLL for (int r = 0; r < R; r++) {                                                               \
                __m512i v = _mm512_loadu_si512((const void *)(wr[r] + k));                              \
                we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));                                  \
                wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));                              \
            }                                                                                           \
            RT_UNROLL for (int t = 0; t < NT; t++) {                                                              \
                __m512 xe = _mm512_loadu_ps(xp + (size_t)t * ldx + k), xo = _mm512_loadu_ps(xp + (size_t)t * ldx + k + 16); \
                RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_fmadd_ps(xo, wo[r], _mm512_fmadd_ps(xe, we[r], acc[t][r])); \
            }                                                                                           \
        }                                                                                               \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) if (r < nr) out[(size_t)t * ldo + r] = _mm512_reduce_add_ps(acc[t][r]);    \
    }
RT_DEFINE_FEW_F32(rt_few_f32_8, 8, 3)
RT_DEFINE_FEW_F32(rt_few_f32_7, 7, 3)
RT_DEFINE_FEW_F32(rt_few_f32_6, 6, 4)
RT_DEFINE_FEW_F32(rt_few_f32_5, 5, 4)
RT_DEFINE_FEW_F32(rt_few_f32_4, 4, 6)
RT_DEFINE_FEW_F32(rt_few_f32_3, 3, 6)
RT_DEFINE_FEW_F32(rt_few_f32_2, 2, 8)
RT_DEFINE_FEW_F32(rt_few_f32_1, 1, 8)
RT_DEFINE_FEW_BF16(rt_few_bf16_8, 8, 2)
RT_DEFINE_FEW_BF16(rt_few_bf16_7, 7, 3)
RT_DEFINE_FEW_BF16(rt_few_bf16_6, 6, 3)
RT_DEFINE_FEW_BF16(rt_few_bf16_5, 5, 4)
RT_DEFINE_FEW_BF16(rt_few_bf16_4, 4, 4)
RT_DEFINE_FEW_BF16(rt_few_bf16_3, 3, 4)
RT_DEFINE_FEW_BF16(rt_few_bf16_2, 2, 6)
RT_DEFINE_FEW_BF16(rt_few_bf16_1, 1, 8)
static const int rt_few_r_f32[9] = {0, 8, 8, 6, 6, 4, 4, 3, 3};
static const int rt_few_r_bf16[9] = {0, 8, 6, 4, 4, 4, 3, 3, 2};
/* the kernel for nt tokens (1 … RT_FEW_MAXT), per mode */
static const RtFewF32 rt_few_f32[9] = {rt_few_f32_1, rt_few_f32_1, rt_few_f32_2, rt_few_f32_3, rt_few_f32_4,
                                       rt_few_f32_5, rt_few_f32_6, rt_few_f32_7, rt_few_f32_8};
static const RtFewBf16 rt_few_bf16[9] = {rt_few_bf16_1, rt_few_bf16_1, rt_few_bf16_2, rt_few_bf16_3, rt_few_bf16_4,
                                         rt_few_bf16_5, rt_few_bf16_6, rt_few_bf16_7, rt_few_bf16_8};
#else
/* AVX2: up to 4 tokens at a time, NT·R accumulators and R widened weight
 * vectors within the 16 ymm registers (x a memory operand).  8 tokens × 1
 * row read 8 rows of x per weight row: for K = 2048 that is 64 KB, past the
 * L1, and measured 10% slower for bf16 (the same for f32). */
#define RT_FEW_MAXT 4
#define RT_DEFINE_FEW_Y(NAME, NT, R, WT, LOADW)                                                         \
    static void NAME(const float *x, int ldx, int K, const WT *const *wr, float *out, int ldo, int nr, int pf) { \
        __m256 acc[NT][R];                                                                              \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                          \
            RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm256_setzero_ps();                      \
        for (int k = 0; k < K; k += 8) {                                                                \
            __m256 w[R];                                                                                \
            if (pf && (k & 15) == 0) RT_PREFETCH_NEXT_TILE(WT, wr, R, K, k, 16);                        \
            RT_UNROLL for (int r = 0; r < R; r++) w[r] = LOADW(wr[r] + k);                              \
            RT_UNROLL for (int t = 0; t < NT; t++) {                                                    \
                __m256 xv = _mm256_loadu_ps(x + (size_t)t * ldx + k);                                   \
                RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm256_fmadd_ps(xv, w[r], acc[t][r]); \
            }                                                                                           \
        }                                                                                               \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                          \
            RT_UNROLL for (int r = 0; r < R; r++) if (r < nr) out[(size_t)t * ldo + r] = rt_vsum(acc[t][r]); \
    }
#define RT_DEFINE_FEW_Y2(NT, R)                                                                         \
    RT_DEFINE_FEW_Y(rt_few_f32_##NT, NT, R, float, rt_vload_f32)                                        \
    RT_DEFINE_FEW_Y(rt_few_bf16_##NT, NT, R, uint16_t, rt_vload_bf16)
RT_DEFINE_FEW_Y2(4, 3)
RT_DEFINE_FEW_Y2(3, 3)
RT_DEFINE_FEW_Y2(2, 4)
RT_DEFINE_FEW_Y2(1, 6)
#undef RT_DEFINE_FEW_Y2
#undef RT_DEFINE_FEW_Y
static const int rt_few_r_f32[5] = {0, 6, 4, 3, 3};
static const int rt_few_r_bf16[5] = {0, 6, 4, 3, 3};
static const RtFewF32 rt_few_f32[5] = {rt_few_f32_1, rt_few_f32_1, rt_few_f32_2, rt_few_f32_3, rt_few_f32_4};
static const RtFewBf16 rt_few_bf16[5] = {rt_few_bf16_1, rt_few_bf16_1, rt_few_bf16_2, rt_few_bf16_3, rt_few_bf16_4};
#endif
#ifdef RT_HAVE_BF16_DOT
#define RT_DEFINE_FEW_DP(NAME, NT, R)                                                                   \
    static void NAME(const uint32_t *xb, int ldx, int K, const uint16_t *const *wr, float *out, int ldo, int nr, int pf) { \
        __m512 acc[NT][R];                                                                              \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_setzero_ps();                                \
        for (int k = 0; k < K; k += 32) {                                                               \
            __m512bh w[R];                                                                              \
            if (pf) RT_PREFETCH_NEXT_TILE(uint16_t, wr, R, K, k, 32);                                   \
            RT_UNROLL for (int r = 0; r < R; r++) w[r] = (__m512bh)_mm512_loadu_si512((const void *)(wr[r] + k)); \
            RT_UNROLL for (int t = 0; t < NT; t++) {                                                              \
                __m512bh xv = (__m512bh)_mm512_loadu_si512((const void *)(xb + (size_t)t * ldx + k / 2)); \
                RT_UNROLL for (int r = 0; r < R; r++) acc[t][r] = _mm512_dpbf16_ps(acc[t][r], xv, w[r]);          \
            }                                                                                           \
        }                                                                                               \
        RT_UNROLL for (int t = 0; t < NT; t++)                                                                    \
            RT_UNROLL for (int r = 0; r < R; r++) if (r < nr) out[(size_t)t * ldo + r] = _mm512_reduce_add_ps(acc[t][r]);    \
    }
RT_DEFINE_FEW_DP(rt_few_dp_8, 8, 3)
RT_DEFINE_FEW_DP(rt_few_dp_7, 7, 3)
RT_DEFINE_FEW_DP(rt_few_dp_6, 6, 4)
RT_DEFINE_FEW_DP(rt_few_dp_5, 5, 4)
RT_DEFINE_FEW_DP(rt_few_dp_4, 4, 6)
RT_DEFINE_FEW_DP(rt_few_dp_3, 3, 6)
RT_DEFINE_FEW_DP(rt_few_dp_2, 2, 8)
RT_DEFINE_FEW_DP(rt_few_dp_1, 1, 8)
typedef void (*RtFewDp)(const uint32_t *, int, int, const uint16_t *const *, float *, int, int, int);
static const RtFewDp rt_few_dp[9] = {rt_few_dp_1, rt_few_dp_1, rt_few_dp_2, rt_few_dp_3, rt_few_dp_4,
                                     rt_few_dp_5, rt_few_dp_6, rt_few_dp_7, rt_few_dp_8};
#endif

/* out[t][n] (row stride ldo) = x[t] · W[n] for t < T, n < N, on one thread.
 * mode 0: f32 weights, xin = x [T][ldx floats]; 1: bf16, xin = x
 * de-interleaved (rt_bf16_permute_x), [T][ldx floats]; 2: bf16 with vdpbf16ps,
 * xin = bf16 pairs [T][ldx pairs].  ldx should not be a multiple of 1 KB: the
 * 8 rows of x read at each step would then share one L1 set (see
 * rt_few_stride). */
static void rt_rows_few(const void *xin, int ldx, int T, const void *w, int mode, int K, int N, float *out, int ldo) {
    const int *rt = mode == 0 || mode == 2 ? rt_few_r_f32 : rt_few_r_bf16;
    size_t ws = mode == 0 ? 4 : 2, xs = (size_t)ldx * 4;
    for (int b0 = 0; b0 < N; b0 += RT_FEW_BLOCK) {
        for (int t0 = 0; t0 < T; t0 += RT_FEW_MAXT) {
            int nt = T - t0 < RT_FEW_MAXT ? T - t0 : RT_FEW_MAXT, R = rt[nt];
            const char *xt = (const char *)xin + (size_t)t0 * xs;
            for (int n0 = b0; n0 < b0 + RT_FEW_BLOCK && n0 < N; n0 += R) {
                const void *wr[8];
                for (int r = 0; r < R; r++) wr[r] = (const char *)w + (size_t)(n0 + r < N ? n0 + r : N - 1) * K * ws;
                int nr = N - n0 < R ? N - n0 : R, pf = t0 == 0;
                float *o = out + (size_t)t0 * ldo + n0;
                if (mode == 0) rt_few_f32[nt]((const float *)xt, ldx, K, (const float *const *)wr, o, ldo, nr, pf);
                else if (mode == 1) rt_few_bf16[nt]((const float *)xt, ldx, K, (const uint16_t *const *)wr, o, ldo, nr, pf);
#ifdef RT_HAVE_BF16_DOT
                else rt_few_dp[nt]((const uint32_t *)xt, ldx, K, (const uint16_t *const *)wr, o, ldo, nr, pf);
#endif
            }
        }
    }
}

/* The row stride (in 4-byte elements) for n elements of x in rt_rows_few: n
 * rounded up to 16, plus 16 when that is a multiple of 256 (1 KB).  A row of
 * K = 2048 floats is 8 KB, and eight such rows read at the same k all fall in
 * one set of the 8-way L1 (32 KB, 64 sets), together with the weight rows.
 * Measured on one Zen 4 core, K = 2048, N = 768, 32 matrices out of cache,
 * GFLOP/s unpadded → padded: f32 n=24 66 → 76, n=48 70 → 80; bf16 pairs
 * n=24 108–137 → 133–161 (n = 8 the same within noise). */
static inline int rt_few_stride(int n) {
    int s = (n + 15) / 16 * 16;
    return s % 256 == 0 ? s + 16 : s;
}
#endif

#ifdef RT_HAVE_BF16_DOT
/* --precision=bf16 with T ≥ 2 tokens (K % 32 == 0): the experts' dot-form
 * kernel for dense layers too.  Each task takes 48 rows (fewer when N is small): for 24
 * rows at a time, every group of 8 tokens streams them (x as bf16 pairs,
 * rt_few_stride apart; vdpbf16ps on the stored weights, no pack), then the
 * epilogue (bias, GLU, residual) as the GEMM's.  Measured on one Zen 4 core,
 * T = 128, weights out of cache: K = 1024, N = 3072: 200 GFLOP/s vs 163 for
 * the packed GEMM over bf16 pairs; K = 3072, N = 1024: 204 vs 180. */
typedef struct {
    const RtLinear *L;
    const uint32_t *xb;   /* [T][ldx] bf16 pairs */
    int ldx;
    int panel;            /* rows per task */
} RtFewLinear;

static void rt_linear_few_range(void *ctx, int pb, int pe) {
    const RtFewLinear *F = (const RtFewLinear *)ctx;
    const RtLinear *L = F->L;
    int P = F->panel;
    float *G = (float *)rt_alloc(sizeof(float) * (size_t)L->T * P);
    float *U = L->w_up ? (float *)rt_alloc(sizeof(float) * (size_t)L->T * P) : NULL;
    for (int p = pb; p < pe; p++) {
        int n0 = p * P, nb = L->N - n0 < P ? L->N - n0 : P;
        rt_rows_few(F->xb, F->ldx, L->T, (const uint16_t *)L->w + (size_t)n0 * L->K, 2, L->K, nb, G, P);
        if (U) rt_rows_few(F->xb, F->ldx, L->T, (const uint16_t *)L->w_up + (size_t)n0 * L->K, 2, L->K, nb, U, P);
        rt_linear_epilogue(L, n0, nb, G, U, P);
    }
    rt_free(G);
    rt_free(U);
}

static void rt_linear_few_bf16(const RtLinear *L) {
    /* tasks of 48 rows (two RT_FEW_BLOCKs), 24 or 12 when that leaves fewer
     * than 4 per thread (a 128-row router on 2 threads: 3 tasks of 48 left
     * one thread idle a third of the time, 216 vs 263 GFLOP/s) */
    RtFewLinear F = {.L = L, .ldx = rt_few_stride(L->K / 2), .panel = 48};
    while (F.panel > 12 && (L->N + F.panel - 1) / F.panel < 4 * rt_threads()) F.panel /= 2;
    uint32_t *xb = (uint32_t *)rt_alloc(sizeof(uint32_t) * (size_t)L->T * F.ldx);
    for (int t = 0; t < L->T; t++) rt_f32_to_bf16_row(L->x + (size_t)t * L->K, (uint16_t *)(xb + (size_t)t * F.ldx), L->K);
    F.xb = xb;
    rt_parallel_for((L->N + F.panel - 1) / F.panel, rt_linear_few_range, &F);
    rt_free(xb);
}
#endif

/* Experts with more tokens than this take rt_linear (the packed GEMM), per
 * mode (f32, bf16, bf16 pairs).  Measured on one Zen 4 core, K = 2048,
 * N = 768, 32 experts out of cache, x rows rt_few_stride apart, GFLOP/s
 * few-token kernel vs rt_linear: f32 n=8 78 vs 39, n=16 85 vs 44, n=32 76
 * vs 60, n=64 79 vs 77, n=96 79 vs 82; bf16 pairs n=32 166 vs 120, n=64 189
 * vs 150, n=128 (K = 1024, N = 3072) 200 vs 163: the dot form never loses
 * there (rt_linear takes it for dense layers too, rt_linear_few_range);
 * bf16 (widened) n=8 51 vs 33, n=128 58 vs 46 (widening once per 8 tokens
 * beats the pack). */
#ifndef RT_MOE_FEW_MAX_F32
#define RT_MOE_FEW_MAX_F32 64
#endif
#ifndef RT_MOE_FEW_MAX_BF16
#define RT_MOE_FEW_MAX_BF16 1024
#endif
#ifndef RT_MOE_FEW_MAX_DP
#define RT_MOE_FEW_MAX_DP 1024
#endif

/* rt_moe's own arrays (it runs on the calling thread only) are kept in a
 * static RtScratch set; the expert tasks use their thread's (rt_thread_scratch). */

/* One expert's SwiGLU on n gathered tokens x[n][H] → y[n][H], on this thread. */
static void rt_moe_expert(const RtMoe *M, int e, const float *x, int n, float *y) {
    int H = M->H, I = M->I;
    float *a = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE1), sizeof(float) * (size_t)n * I);
#ifdef RT_FEW
    int mode = M->fmt == RT_F32 ? 0 : M->fmt == RT_BF16 ? 1 : -1;
#ifdef RT_HAVE_BF16_DOT
    if (mode == 1 && rt_precision == RT_PRECISION_BF16) mode = 2;
#endif
    int few_max = mode == 0 ? RT_MOE_FEW_MAX_F32 : mode == 1 ? RT_MOE_FEW_MAX_BF16 : RT_MOE_FEW_MAX_DP;
#ifdef RT_HAVE_AMX
    if (mode == 2 && n >= RT_AMX_MIN_T && H % 32 == 0 && I % 32 == 0 && rt_amx_ready()) {   /* bf16 pairs on the tile unit */
        float *u = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE2), sizeof(float) * (size_t)n * I);
        rt_amx_rows(x, n, H, (const uint16_t *)M->gate[e], I, a, I);
        rt_amx_rows(x, n, H, (const uint16_t *)M->up[e], I, u, I);
        for (size_t i = 0; i < (size_t)n * I; i++) a[i] = rt_silu(a[i]) * u[i];
        rt_amx_rows(a, n, I, (const uint16_t *)M->down[e], H, y, H);
        return;
    }
#endif
    if (mode >= 0 && n >= 2 && n <= few_max && H % 32 == 0 && I % 32 == 0) {
        int KM = H > I ? H : I;
        float *u = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE2), sizeof(float) * (size_t)n * I);
        void *xin = rt_scratch(rt_thread_scratch(RT_TLS_MOE3), sizeof(float) * (size_t)n * rt_few_stride(KM));
        /* gate and up over x, then silu(g)·u, then down over a; the kernels
         * read x from xin, rows rt_few_stride apart */
        for (int pass = 0; pass < 2; pass++) {
            const float *src = pass == 0 ? x : a;
            int K = pass == 0 ? H : I, ldx = rt_few_stride(mode == 2 ? K / 2 : K);
            for (int t = 0; t < n; t++) {
                float *xr = (float *)xin + (size_t)t * ldx;
                if (mode == 0) memcpy(xr, src + (size_t)t * K, sizeof(float) * K);
#ifdef RT_FEW_BF16_EO
                else if (mode == 1) rt_bf16_permute_x(src + (size_t)t * K, xr, K);
#else
                else if (mode == 1) memcpy(xr, src + (size_t)t * K, sizeof(float) * K);   /* widened weights: x as it is */
#endif
#ifdef RT_HAVE_BF16_DOT   /* mode 2 exists only there (rt_f32_to_bf16_row too) */
                else rt_f32_to_bf16_row(src + (size_t)t * K, (uint16_t *)xr, K);
#endif
            }
            if (pass == 0) {
                rt_rows_few(xin, ldx, n, M->gate[e], mode, H, I, a, I);
                rt_rows_few(xin, ldx, n, M->up[e], mode, H, I, u, I);
                for (size_t i = 0; i < (size_t)n * I; i++) a[i] = rt_silu(a[i]) * u[i];
            } else {
                rt_rows_few(xin, ldx, n, M->down[e], mode, I, H, y, H);
            }
        }
        return;
    }
#endif
    RtLinear G = {.x = x, .w = M->gate[e], .w_up = M->up[e], .y = a, .T = n, .K = H, .N = I, .fmt = M->fmt, .act = RT_ACT_SILU,
                  .scale = M->gate_scale ? M->gate_scale[e] : NULL, .scale_up = M->up_scale ? M->up_scale[e] : NULL,
                  .bn = M->bn, .bk = M->bk, .scale_f16 = M->scale_f16};
    rt_linear(&G);   /* inside a pool task: runs on this thread */
    RtLinear D = {.x = a, .w = M->down[e], .y = y, .T = n, .K = I, .N = H, .fmt = M->fmt,
                  .scale = M->down_scale ? M->down_scale[e] : NULL, .bn = M->bn, .bk = M->bk, .scale_f16 = M->scale_f16};
    rt_linear(&D);
}

/* The experts of a chunk handed to the pool tasks (rt_moe_claim). */
typedef struct {
    const int *off;      /* [E + 1]: pairs of expert e are off[e] .. off[e+1]-1    */
    const int *order;    /* the experts with tokens, most tokens first             */
    int nact;            /* how many have tokens                                   */
    _Atomic int taken, front, back;   /* experts claimed; from the front of order; from its back */
} RtMoeClaim;

static inline void rt_moe_claim_init(RtMoeClaim *C, const int *off, const int *order, int nact) {
    C->off = off;
    C->order = order;
    C->nact = nact;
    atomic_init(&C->taken, 0);
    atomic_init(&C->front, 0);
    atomic_init(&C->back, 0);
}

typedef struct {
    const RtMoe *M;
    const int *ptok;     /* [T·K]: the token of each pair, grouped by expert       */
    float *yp;           /* [T·K][H]: each pair's expert output, unweighted        */
    RtMoeClaim C;        /* which expert each pool task runs next                 */
} RtMoeRun;

/* Pool task b: claim experts one at a time until none are left — even tasks
 * from the front of the order (most tokens first), odd ones from its back
 * (fewest first) while the expert there has at most RT_MOE_BACK_MAX tokens,
 * else from the front too.  So with two threads one runs the many-token
 * experts, which are compute-bound, while the other streams the few-token
 * ones, which are bound by memory, and both resources work at once; taking
 * all from the front ran the compute-bound experts on both threads, then the
 * memory-bound ones on both, where the second thread adds little bandwidth.
 * (When every expert has many tokens it is the longest-first order as
 * before, which ends the threads closest together.)  Every expert writes its
 * own rows of yp, so the order changes no result. */
#define RT_MOE_BACK_MAX 8
/* One expert for pool task b (the expert itself), or −1 when none is left. */
static inline int rt_moe_claim(RtMoeClaim *C, int b) {
    const int nact = C->nact, *order = C->order, *off = C->off;
    if (atomic_fetch_add_explicit(&C->taken, 1, memory_order_relaxed) >= nact) return -1;
    /* one expert is ours to claim; front + back ≤ taken ≤ nact, so the two
     * ends never claim the same one */
    if (b & 1) {
        int k = atomic_load_explicit(&C->back, memory_order_relaxed);
        for (;;) {
            int j = nact - 1 - k, ej = order[j];
            if (off[ej + 1] - off[ej] > RT_MOE_BACK_MAX) break;
            if (atomic_compare_exchange_weak_explicit(&C->back, &k, k + 1, memory_order_relaxed, memory_order_relaxed)) return ej;
        }
    }
    return order[atomic_fetch_add_explicit(&C->front, 1, memory_order_relaxed)];
}

static void rt_moe_experts_range(void *ctx, int b, int e_) {
    RtMoeRun *R = (RtMoeRun *)ctx;
    const RtMoe *M = R->M;
    (void)e_;
    for (;;) {
        int e = rt_moe_claim(&R->C, b);
        if (e < 0) return;
        int p0 = R->C.off[e], n = R->C.off[e + 1] - p0, H = M->H;
        int step = M->grouped ? n : 1;
        float *xe = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE0), sizeof(float) * (size_t)step * H);
        for (int j0 = 0; j0 < n; j0 += step) {
            for (int j = 0; j < step; j++)
                memcpy(xe + (size_t)j * H, M->x + (size_t)R->ptok[p0 + j0 + j] * H, sizeof(float) * H);
            rt_moe_expert(M, e, xe, step, R->yp + (size_t)(p0 + j0) * H);
        }
    }
}

typedef struct {
    int K, H;
    float *y;
    const int *sel, *pos;
    const float *wt, *yp;   /* wt NULL: each pair's weight is 1 (applied to the expert's input) */
} RtMoeSum;

/* y[t] = Σ over t's experts in expert-index order (as HF's index_add) of w·y_e. */
static void rt_moe_sum_range(void *ctx, int tb, int te) {
    const RtMoeSum *S = (const RtMoeSum *)ctx;
    int K = S->K, H = S->H;
    for (int t = tb; t < te; t++) {
        int idx[64];
        for (int k = 0; k < K; k++) {   /* the k selections by expert index */
            int j = k;
            while (j > 0 && S->sel[t * K + idx[j - 1]] > S->sel[t * K + k]) { idx[j] = idx[j - 1]; j--; }
            idx[j] = k;
        }
        float *yr = S->y + (size_t)t * H;
        memset(yr, 0, sizeof(float) * H);
        for (int k = 0; k < K; k++) {
            const float *er = S->yp + (size_t)S->pos[t * K + idx[k]] * H;
            float w = S->wt ? S->wt[t * K + idx[k]] : 1.0f;   /* er · 1 is er, exactly */
            for (int h = 0; h < H; h++) yr[h] += er[h] * w;
        }
    }
}

/* The (token, expert) pairs of a chunk sorted by expert, token order inside
 * each: pairs of expert e are off[e] … off[e+1]−1, ptok[p] the token of pair
 * p, pos[t·K + k] the pair of token t's k-th selection; order[0 … nact−1]
 * the experts with tokens, most first (ties by index).  fill: E ints of
 * scratch.  Returns nact. */
static inline int rt_moe_pairs(const int *sel, int T, int K, int E, int *off, int *order, int *ptok, int *pos, int *fill) {
    memset(off, 0, sizeof(int) * (size_t)(E + 1));
    for (int i = 0; i < T * K; i++) off[sel[i] + 1]++;
    int nact = 0;
    for (int e = 0; e < E; e++) {
        if (off[e + 1]) {   /* insertion by count, descending; ties by index */
            int j = nact++;
            while (j > 0 && off[order[j - 1] + 1] < off[e + 1]) { order[j] = order[j - 1]; j--; }
            order[j] = e;
        }
    }
    for (int e = 0; e < E; e++) off[e + 1] += off[e];
    memcpy(fill, off, sizeof(int) * (size_t)E);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            int e = sel[t * K + k], p = fill[e]++;
            ptok[p] = t;
            pos[t * K + k] = p;
        }
    return nact;
}

/* Routing once for the chunk; the (token, expert) pairs sorted by expert in
 * token order; experts spread over the threads (each runs on one thread:
 * its gate/up/down on all its tokens), each pair's output kept apart; then
 * every token's weighted sum in expert order, as before. */
static inline void rt_moe(const RtMoe *M) {
    static RtScratch buf[8];
    int T = M->T, H = M->H, E = M->E, K = M->K;
    if (K > 64) rt_die("moe: top-k above 64");
    float *logits = (float *)rt_scratch(&buf[0], sizeof(float) * (size_t)T * E);
    int *sel = (int *)rt_scratch(&buf[1], sizeof(int) * (size_t)T * K);
    float *wt = (float *)rt_scratch(&buf[2], sizeof(float) * (size_t)T * K);
    int *off = (int *)rt_scratch(&buf[3], sizeof(int) * (size_t)(2 * E + 2));
    int *order = off + E + 1;
    int *ptok = (int *)rt_scratch(&buf[4], sizeof(int) * (size_t)T * K);
    int *pos = (int *)rt_scratch(&buf[5], sizeof(int) * (size_t)T * K);
    float *yp = (float *)rt_scratch(&buf[6], sizeof(float) * (size_t)T * K * H);
    RtLinear Rl = {.x = M->x, .w = M->router, .y = logits, .T = T, .K = H, .N = E, .fmt = M->router_fmt};
    rt_linear(&Rl);
    for (int t = 0; t < T; t++) rt_moe_route(M, logits + (size_t)t * E, sel + (size_t)t * K, wt + (size_t)t * K);
    int nact = rt_moe_pairs(sel, T, K, E, off, order, ptok, pos, (int *)rt_scratch(&buf[7], sizeof(int) * (size_t)E));
    RtMoeRun R = {.M = M, .ptok = ptok, .yp = yp};
    rt_moe_claim_init(&R.C, off, order, nact);
    int nth = rt_threads();
    rt_parallel_for(nth < nact ? nth : nact, rt_moe_experts_range, &R);
    RtMoeSum S = {.K = K, .H = H, .y = M->y, .sel = sel, .pos = pos, .wt = wt, .yp = yp};
    rt_parallel_for(T, rt_moe_sum_range, &S);
    if (M->shared_gate) {  /* y += shared(x), after the routed sum as HF adds it */
        float *as = (float *)malloc(sizeof(float) * (size_t)T * M->SI);
        if (!as) rt_die("out of memory in moe");
        RtLinear G = {.x = M->x, .w = M->shared_gate, .w_up = M->shared_up, .y = as, .T = T, .K = H, .N = M->SI, .fmt = M->fmt,
                      .act = RT_ACT_SILU, .scale = M->shared_gate_scale, .scale_up = M->shared_up_scale, .bn = M->bn, .bk = M->bk,
                      .scale_f16 = M->scale_f16};
        rt_linear(&G);
        RtLinear D = {.x = as, .w = M->shared_down, .y = M->y, .res = M->y, .T = T, .K = M->SI, .N = H, .fmt = M->fmt,
                      .scale = M->shared_down_scale, .bn = M->bn, .bk = M->bk, .scale_f16 = M->scale_f16};
        rt_linear(&D);
        free(as);
    }
}

/* ── attention ─────────────────────────────────────────────────────────────── */

typedef struct RtAttention {
    const float *q;        /* [T][heads·head_dim]                               */
    const float *k, *v;    /* caches [max_context][kv_heads·head_dim]            */
    float *out;            /* [T][heads·head_dim]                               */
    const float *sinks;    /* [heads] or NULL (gpt-oss)                          */
    int T, pos, heads, kv_heads, head_dim;
    float scale;
    int window, chunk;     /* 0 = none                                           */
    int ring;              /* cache rows when the cache is a ring (swa-tile), else 0 */
    float temp_floor, temp_scale; /* Llama 4 NoPE layers: q ×= 1 + temp_scale·log1p(⌊(p+1)/temp_floor⌋); 0 = off */
    int logn_seq;          /* Qwen-1 LogN: q ×= ln(p+1)/ln(logn_seq) when p+1 > logn_seq; 0 = off */
} RtAttention;

/* The first key query position pos sees (sliding window, chunked attention). */
static inline int rt_att_first_key(const RtAttention *A, int pos) {
    int lo = 0;
    if (A->window > 0 && pos - A->window + 1 > lo) lo = pos - A->window + 1;
    if (A->chunk > 0 && (pos / A->chunk) * A->chunk > lo) lo = (pos / A->chunk) * A->chunk;
    return lo;
}

/* Query row q of position pos as every kernel scores it: Llama 4's
 * temperature, then Qwen-1's LogN, each one f32 multiplication (the LogN
 * factor computed in double, stored as f32, as HF does); into qs, or q itself
 * when neither applies. */
static inline const float *rt_att_query(const RtAttention *A, int pos, const float *q, float *qs) {
    int d = A->head_dim;
    if (A->temp_floor > 0) {
        float f = log1pf(floorf(((float)pos + 1.0f) / A->temp_floor)) * A->temp_scale + 1.0f;
        for (int i = 0; i < d; i++) qs[i] = q[i] * f;
        q = qs;
    }
    if (A->logn_seq > 0 && pos + 1 > A->logn_seq) {
        float f = (float)(log((double)(pos + 1)) / log((double)A->logn_seq));
        for (int i = 0; i < d; i++) qs[i] = q[i] * f;
        q = qs;
    }
    return q;
}

static void rt_attention_range(void *ctx, int b, int e) {
    const RtAttention *A = (const RtAttention *)ctx;
    int d = A->head_dim, kvw = A->kv_heads * d, group = A->heads / A->kv_heads;
    int maxlen = A->pos + A->T;
    float *p = (float *)malloc((size_t)maxlen * sizeof(float)), *qs = (float *)malloc((size_t)d * sizeof(float));
    if (!p || !qs) rt_die("out of memory in attention");
    for (int task = b; task < e; task++) {
        int t = task / A->heads, h = task % A->heads, g = h / group;
        int pos = A->pos + t, lo = rt_att_first_key(A, pos);
        const float *q = rt_att_query(A, pos, A->q + (size_t)t * A->heads * d + (size_t)h * d, qs);
        float m = -INFINITY;
        for (int j = lo; j <= pos; j++) {
            size_t row = (size_t)(A->ring ? j % A->ring : j);
            float s = rt_dot_f32(q, A->k + row * kvw + (size_t)g * d, d) * A->scale;
            p[j] = s;
            if (s > m) m = s;
        }
        if (A->sinks && A->sinks[h] > m) m = A->sinks[h];
        float sum = rt_softmax_exp(p, lo, pos, m);
        if (A->sinks) sum += expf(A->sinks[h] - m);
        float inv = 1.0f / sum;
        float *o = A->out + (size_t)t * A->heads * d + (size_t)h * d;
        for (int i = 0; i < d; i++) o[i] = 0.0f;
        for (int j = lo; j <= pos; j++) {
            float w = p[j] * inv;
            const float *vr = A->v + (size_t)(A->ring ? j % A->ring : j) * kvw + (size_t)g * d;
            for (int i = 0; i < d; i++) o[i] += w * vr[i];
        }
    }
    free(p);
    free(qs);
}

/* The kernels that take the query heads sharing a kv head together (AVX-512,
 * AVX2): a task is one token, one kv head, the split-th part of its group. */
typedef struct {
    const RtAttention *A;
    int split;   /* parts of a group, one task each */
} RtAttGroup;
#define RT_ATT_KB 32   /* values per block of the weighted sum */

#if defined(__AVX512F__)
/* The same attention, AVX-512, head_dim a multiple of 16 up to 256, with the
 * query heads that share a kv head taken together (a task: one token, one kv
 * head, `split`-th part of its group): each block of 16 cached keys is read
 * from memory once for all of them (then from L1), so decode at long context
 * reads the KV cache once per kv head, not once per query head.  Scores: 16
 * keys at a time, one vector accumulator per key, the 16 sums by a transpose
 * tree into one vector; the weighted sum of values keeps the output row in
 * registers over blocks of 32 values.  Sums in f32 in another order than
 * rt_attention_range (lanes, then the tree). */
static inline __m512 rt_hsum16(__m512 a[16]) {
    /* lane i of the result: the sum of a[i]'s 16 lanes */
    __m512 b[8], c[4], d[2];
    for (int i = 0; i < 8; i++) {   /* b[i]: pairs of a[2i], a[2i+1] summed per 64-bit half-lane */
        __m512 lo = _mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), hi = _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]);
        b[i] = _mm512_add_ps(lo, hi);   /* per 128-bit lane: [a0+a2', a1+a3' ...] interleaved */
    }
    for (int i = 0; i < 4; i++) {
        __m512 lo = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1])));
        __m512 hi = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1])));
        c[i] = _mm512_add_ps(lo, hi);   /* per 128-bit lane: the lane's sum for a[4i .. 4i+3] */
    }
    for (int i = 0; i < 2; i++) {   /* fold 128-bit lanes: (0,2) + (1,3) */
        __m512 x = _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0x88), y = _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0xDD);
        d[i] = _mm512_add_ps(x, y);
    }
    __m512 x = _mm512_shuffle_f32x4(d[0], d[1], 0x88), y = _mm512_shuffle_f32x4(d[0], d[1], 0xDD);
    return _mm512_add_ps(x, y);
}

static void rt_attention_group_range(void *ctx, int b, int e) {
    const RtAttGroup *G = (const RtAttGroup *)ctx;
    const RtAttention *A = G->A;
    int d = A->head_dim, nv = d / 16, kvw = A->kv_heads * d, group = A->heads / A->kv_heads;
    int gh = group / G->split;   /* heads per task */
    int maxlen = A->pos + A->T;
    float *p = (float *)malloc((size_t)gh * (maxlen + 16) * sizeof(float));
    if (!p) rt_die("out of memory in attention");
    for (int task = b; task < e; task++) {
        int t = task / (A->kv_heads * G->split), rem = task % (A->kv_heads * G->split), g = rem / G->split;
        int h0 = g * group + (rem % G->split) * gh;
        int pos = A->pos + t, lo = rt_att_first_key(A, pos);
        /* Llama 4's temperature, then Qwen-1's LogN, on q: each one f32
         * multiplication as in rt_attention_range */
        int use_t = A->temp_floor > 0, use_l = A->logn_seq > 0 && pos + 1 > A->logn_seq;
        __m512 tf = _mm512_set1_ps(use_t ? log1pf(floorf(((float)pos + 1.0f) / A->temp_floor)) * A->temp_scale + 1.0f : 1.0f);
        __m512 lf = _mm512_set1_ps(use_l ? (float)(log((double)(pos + 1)) / log((double)A->logn_seq)) : 1.0f);
        __m512 q[8][16];   /* gh ≤ 8 heads × nv ≤ 16 vectors */
        for (int hh = 0; hh < gh; hh++) {
            const float *qr = A->q + (size_t)t * A->heads * d + (size_t)(h0 + hh) * d;
            for (int c = 0; c < nv; c++) {
                __m512 v = _mm512_loadu_ps(qr + 16 * c);
                if (use_t) v = _mm512_mul_ps(v, tf);
                if (use_l) v = _mm512_mul_ps(v, lf);
                q[hh][c] = v;
            }
        }
        const float *kb = A->k + (size_t)g * d, *vb = A->v + (size_t)g * d;
        __m512 vmax[8];
        for (int hh = 0; hh < gh; hh++) vmax[hh] = _mm512_set1_ps(-INFINITY);
        __m512 vscale = _mm512_set1_ps(A->scale);
        for (int j0 = lo; j0 <= pos; j0 += 16) {   /* scores, 16 keys at a time */
            int nk = pos + 1 - j0 < 16 ? pos + 1 - j0 : 16;
            const float *kr[16];
            for (int i = 0; i < 16; i++) {
                int j = j0 + (i < nk ? i : nk - 1);
                kr[i] = kb + (size_t)(A->ring ? j % A->ring : j) * kvw;
            }
            __mmask16 m = nk == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nk) - 1);
            for (int hh = 0; hh < gh; hh++) {
                __m512 acc[16];
                for (int i = 0; i < 16; i++) acc[i] = _mm512_mul_ps(q[hh][0], _mm512_loadu_ps(kr[i]));
                for (int c = 1; c < nv; c++) {
                    __m512 qv = q[hh][c];
                    for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kr[i] + 16 * c), acc[i]);
                }
                __m512 sc = _mm512_mul_ps(rt_hsum16(acc), vscale);
                float *pr = p + (size_t)hh * (maxlen + 16);
                _mm512_mask_storeu_ps(pr + j0, m, sc);
                vmax[hh] = _mm512_mask_max_ps(vmax[hh], m, vmax[hh], sc);
            }
        }
        for (int hh = 0; hh < gh; hh++) {
            int h = h0 + hh;
            float *pr = p + (size_t)hh * (maxlen + 16);
            float mx = _mm512_reduce_max_ps(vmax[hh]);
            if (A->sinks && A->sinks[h] > mx) mx = A->sinks[h];
            float sum = rt_softmax_exp(pr, lo, pos, mx);
            if (A->sinks) sum += expf(A->sinks[h] - mx);
            float inv = 1.0f / sum;
            for (int j = lo; j <= pos; j++) pr[j] *= inv;
        }
        for (int hh = 0; hh < gh; hh++) {   /* out = Σ_j p_j · v_j, the row kept in registers */
            float *o = A->out + (size_t)t * A->heads * d + (size_t)(h0 + hh) * d;
            for (int c = 0; c < nv; c++) _mm512_storeu_ps(o + 16 * c, _mm512_setzero_ps());
        }
        for (int j0 = lo; j0 <= pos; j0 += RT_ATT_KB) {
            int j1 = j0 + RT_ATT_KB - 1 < pos ? j0 + RT_ATT_KB - 1 : pos;
            for (int hh = 0; hh < gh; hh++) {
                const float *pr = p + (size_t)hh * (maxlen + 16);
                float *o = A->out + (size_t)t * A->heads * d + (size_t)(h0 + hh) * d;
                __m512 acc[16];
                for (int c = 0; c < nv; c++) acc[c] = _mm512_loadu_ps(o + 16 * c);
                for (int j = j0; j <= j1; j++) {
                    __m512 w = _mm512_set1_ps(pr[j]);
                    const float *vr = vb + (size_t)(A->ring ? j % A->ring : j) * kvw;
                    for (int c = 0; c < nv; c++) acc[c] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vr + 16 * c), acc[c]);
                }
                for (int c = 0; c < nv; c++) _mm512_storeu_ps(o + 16 * c, acc[c]);
            }
        }
    }
    free(p);
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
/* The group attention above in ymm (AVX2 without AVX-512), head_dim a
 * multiple of 32 up to 256: a task is one token, one kv head and a part of
 * its group of query heads; each block of 8 cached keys is read from memory
 * once for all of them.  Scores: 8 keys at a time, one accumulator per key,
 * the 8 sums by a vhaddps tree into one vector; the weighted sum of values
 * keeps 64 (or 32) output coordinates in registers over blocks of 32 values.
 * Sums in f32 in another order than rt_attention_range (lanes, then the tree). */
static inline __m256 rt_hsum8(const __m256 a[8]) {
    /* lane i of the result: the sum of a[i]'s 8 lanes */
    __m256 b0 = _mm256_hadd_ps(a[0], a[1]), b1 = _mm256_hadd_ps(a[2], a[3]);   /* [a0 01 23, a1 01 23 | a0 45 67, a1 45 67] … */
    __m256 b2 = _mm256_hadd_ps(a[4], a[5]), b3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 c0 = _mm256_hadd_ps(b0, b1), c1 = _mm256_hadd_ps(b2, b3);         /* [a0 … a3 lanes 0–3 | a0 … a3 lanes 4–7] */
    return _mm256_add_ps(_mm256_permute2f128_ps(c0, c1, 0x20), _mm256_permute2f128_ps(c0, c1, 0x31));
}

/* o[0 … 8·NC) += Σ_{j = j0 … j1} p[j] · v_j[c0 …], the NC vectors in registers */
static inline __attribute__((always_inline)) void rt_att_wsum8(const RtAttention *A, const float *pr, const float *vb, int j0, int j1, int c0,
                                                               float *o, const int NC) {
    int kvw = A->kv_heads * A->head_dim;
    __m256 acc[8];
    RT_UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_loadu_ps(o + 8 * c);
    for (int j = j0; j <= j1; j++) {
        __m256 w = _mm256_broadcast_ss(pr + j);
        const float *vr = vb + (size_t)(A->ring ? j % A->ring : j) * kvw + c0;
        RT_UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vr + 8 * c), acc[c]);
    }
    RT_UNROLL for (int c = 0; c < NC; c++) _mm256_storeu_ps(o + 8 * c, acc[c]);
}

static void rt_attention_group8_range(void *ctx, int b, int e) {
    const RtAttGroup *G = (const RtAttGroup *)ctx;
    const RtAttention *A = G->A;
    int d = A->head_dim, nv = d / 8, kvw = A->kv_heads * d, group = A->heads / A->kv_heads;
    int gh = group / G->split;   /* heads per task */
    int maxlen = A->pos + A->T, cw = d % 64 == 0 ? 64 : 32;
    float *p = (float *)malloc((size_t)gh * (maxlen + 8) * sizeof(float)), *qs = (float *)malloc((size_t)gh * d * sizeof(float));
    if (!p || !qs) rt_die("out of memory in attention");
    for (int task = b; task < e; task++) {
        int t = task / (A->kv_heads * G->split), rem = task % (A->kv_heads * G->split), g = rem / G->split;
        int h0 = g * group + (rem % G->split) * gh;
        int pos = A->pos + t, lo = rt_att_first_key(A, pos);
        const float *q[8];
        for (int hh = 0; hh < gh; hh++) q[hh] = rt_att_query(A, pos, A->q + (size_t)t * A->heads * d + (size_t)(h0 + hh) * d, qs + (size_t)hh * d);
        const float *kb = A->k + (size_t)g * d, *vb = A->v + (size_t)g * d;
        const __m256 vscale = _mm256_set1_ps(A->scale), ninf = _mm256_set1_ps(-INFINITY);
        __m256 vmax[8];
        for (int hh = 0; hh < gh; hh++) vmax[hh] = ninf;
        for (int j0 = lo; j0 <= pos; j0 += 8) {   /* scores, 8 keys at a time */
            int nk = pos + 1 - j0 < 8 ? pos + 1 - j0 : 8;
            const float *kr[8];
            for (int i = 0; i < 8; i++) {
                int j = j0 + (i < nk ? i : nk - 1);
                kr[i] = kb + (size_t)(A->ring ? j % A->ring : j) * kvw;
            }
            __m256 in = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nk), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
            for (int hh = 0; hh < gh; hh++) {
                __m256 acc[8], qv = _mm256_loadu_ps(q[hh]);
                RT_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_mul_ps(qv, _mm256_loadu_ps(kr[i]));
                for (int c = 1; c < nv; c++) {
                    qv = _mm256_loadu_ps(q[hh] + 8 * c);
                    RT_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[i] + 8 * c), acc[i]);
                }
                __m256 sc = _mm256_mul_ps(rt_hsum8(acc), vscale);
                _mm256_storeu_ps(p + (size_t)hh * (maxlen + 8) + j0, sc);   /* lanes past pos land in the row's padding */
                vmax[hh] = _mm256_max_ps(vmax[hh], _mm256_blendv_ps(ninf, sc, in));
            }
        }
        for (int hh = 0; hh < gh; hh++) {
            int h = h0 + hh;
            float *pr = p + (size_t)hh * (maxlen + 8);
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax[hh]), _mm256_extractf128_ps(vmax[hh], 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            float mx = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
            if (A->sinks && A->sinks[h] > mx) mx = A->sinks[h];
            float sum = rt_softmax_exp(pr, lo, pos, mx);
            if (A->sinks) sum += expf(A->sinks[h] - mx);
            float inv = 1.0f / sum;
            for (int j = lo; j <= pos; j++) pr[j] *= inv;
            memset(A->out + (size_t)t * A->heads * d + (size_t)h * d, 0, sizeof(float) * (size_t)d);
        }
        for (int j0 = lo; j0 <= pos; j0 += RT_ATT_KB) {   /* out = Σ_j p_j · v_j, blocks of keys shared by the heads */
            int j1 = j0 + RT_ATT_KB - 1 < pos ? j0 + RT_ATT_KB - 1 : pos;
            for (int hh = 0; hh < gh; hh++) {
                const float *pr = p + (size_t)hh * (maxlen + 8);
                float *o = A->out + (size_t)t * A->heads * d + (size_t)(h0 + hh) * d;
                for (int c0 = 0; c0 < d; c0 += cw) {
                    if (cw == 64) rt_att_wsum8(A, pr, vb, j0, j1, c0, o + c0, 8);
                    else rt_att_wsum8(A, pr, vb, j0, j1, c0, o + c0, 4);
                }
            }
        }
    }
    free(p);
    free(qs);
}
#endif

#if defined(__AVX512F__)
/* Prefill attention tiled over query rows (AVX-512, head_dim % 32 == 0, up to
 * 256, T ≥ RT_ATT_TILE_MIN_T).  First the keys of the chunk's range are
 * transposed per kv head into KT[g][c][j] (16×16 blocks, rt_transpose16), so
 * a vector holds one coordinate of 16 keys.  A task then takes up to 8 query
 * rows of one kv head (the heads sharing it × consecutive tokens): scores as
 * outer products, per coordinate one load of 16 keys and a broadcast of each
 * row's q (8 rows × 16 keys per pass, no horizontal sums); a two-pass softmax
 * per row over its own key range (window, chunk, causal; sinks); then the
 * values 32 coordinates at a time, each value row loaded once for the 8 rows.
 * The per-token kernels read every key once per query row, with a horizontal
 * sum for each; here a key vector serves 8 rows. */
#define RT_ATT_TILE_MIN_T 8
#define RT_ATT_ROWS 8
typedef struct {
    const RtAttention *A;
    float *kt;         /* [kv_heads][d][ldk]: key j at column j - jlo */
    int jlo, ldk;      /* first key of the chunk's range; row stride of kt */
    int gh, tq, split; /* heads and tokens per task; parts of a group */
} RtAttTile;

static void rt_attention_kt_range(void *ctx, int b, int e) {   /* task: kv head × block of 16 keys */
    const RtAttTile *P = (const RtAttTile *)ctx;
    const RtAttention *A = P->A;
    int d = A->head_dim, kvw = A->kv_heads * d, nb = P->ldk / 16, jend = A->pos + A->T;
    for (int task = b; task < e; task++) {
        int g = task / nb, j0 = P->jlo + (task % nb) * 16;
        const float *kr[16];
        for (int i = 0; i < 16; i++) {
            int j = j0 + i < jend ? j0 + i : jend - 1;   /* past the end: a copy of the last key (masked later) */
            kr[i] = A->k + (size_t)(A->ring ? j % A->ring : j) * kvw + (size_t)g * d;
        }
        float *dst = P->kt + (size_t)g * d * P->ldk + (j0 - P->jlo);
        for (int c0 = 0; c0 < d; c0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(kr[i] + c0);
            rt_transpose16(r);
            for (int c = 0; c < 16; c++) _mm512_storeu_ps(dst + (size_t)(c0 + c) * P->ldk, r[c]);
        }
    }
}

static void rt_attention_tile_range(void *ctx, int b, int e) {
    const RtAttTile *P = (const RtAttTile *)ctx;
    const RtAttention *A = P->A;
    int d = A->head_dim, kvw = A->kv_heads * d, group = A->heads / A->kv_heads;
    int nqb = (A->T + P->tq - 1) / P->tq, per_g = nqb * P->split;
    int span = A->pos + A->T - P->jlo + 16;
    float *p = (float *)malloc(sizeof(float) * (size_t)RT_ATT_ROWS * span), *qb = (float *)malloc(sizeof(float) * (size_t)RT_ATT_ROWS * d);
    if (!p || !qb) rt_die("out of memory in attention");
    for (int task = b; task < e; task++) {
        int g = task / per_g, rem = task % per_g, t0 = (rem / P->split) * P->tq, h0 = g * group + (rem % P->split) * P->gh;
        int nt = A->T - t0 < P->tq ? A->T - t0 : P->tq, R = nt * P->gh;
        int lo[RT_ATT_ROWS], hi[RT_ATT_ROWS], hr[RT_ATT_ROWS], tr[RT_ATT_ROWS];
        int J0 = A->pos + A->T, J1 = -1;   /* the rows' union of key ranges */
        for (int r = 0; r < R; r++) {   /* row r: token t0 + r / gh, head h0 + r % gh */
            int t = t0 + r / P->gh, h = h0 + r % P->gh, pos = A->pos + t, l = rt_att_first_key(A, pos);
            lo[r] = l; hi[r] = pos; hr[r] = h; tr[r] = t;
            if (l < J0) J0 = l;
            if (pos > J1) J1 = pos;
            const float *q = A->q + (size_t)t * A->heads * d + (size_t)h * d;
            float tf = A->temp_floor > 0 ? log1pf(floorf(((float)pos + 1.0f) / A->temp_floor)) * A->temp_scale + 1.0f : 1.0f;
            int use_l = A->logn_seq > 0 && pos + 1 > A->logn_seq;
            float lf = use_l ? (float)(log((double)(pos + 1)) / log((double)A->logn_seq)) : 1.0f;
            for (int c = 0; c < d; c++) {
                float v = q[c];
                if (A->temp_floor > 0) v = v * tf;
                if (use_l) v = v * lf;
                qb[(size_t)r * d + c] = v;
            }
        }
        J0 = P->jlo + (J0 - P->jlo) / 16 * 16;   /* blocks of 16 from jlo: the last one ends inside kt's row */
        const float *ktg = P->kt + (size_t)g * d * P->ldk;
        __m512 vscale = _mm512_set1_ps(A->scale), ninf = _mm512_set1_ps(-INFINITY);
        float mx[RT_ATT_ROWS];
        for (int r = 0; r < R; r++) mx[r] = -INFINITY;
        for (int j0 = J0; j0 <= J1; j0 += 16) {   /* scores of 16 keys for every row */
            __m512 acc[RT_ATT_ROWS];
            for (int r = 0; r < RT_ATT_ROWS; r++) acc[r] = _mm512_setzero_ps();
            const float *kc = ktg + (j0 - P->jlo);
            for (int c = 0; c < d; c++) {
                __m512 kv = _mm512_loadu_ps(kc + (size_t)c * P->ldk);
                for (int r = 0; r < RT_ATT_ROWS; r++)
                    if (r < R) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(qb[(size_t)r * d + c]), kv, acc[r]);
            }
            __m512i jv = _mm512_add_epi32(_mm512_set1_epi32(j0), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
            for (int r = 0; r < R; r++) {   /* keys outside the row's range: -inf (their weight is zeroed below) */
                __mmask16 in = _mm512_cmpge_epi32_mask(jv, _mm512_set1_epi32(lo[r])) & _mm512_cmple_epi32_mask(jv, _mm512_set1_epi32(hi[r]));
                __m512 sc = _mm512_mask_blend_ps(in, ninf, _mm512_mul_ps(acc[r], vscale));
                _mm512_storeu_ps(p + (size_t)r * span + (j0 - J0), sc);
                float m = _mm512_mask_reduce_max_ps(in, sc);
                if (in && m > mx[r]) mx[r] = m;
            }
        }
        for (int r = 0; r < R; r++) {
            float *pr = p + (size_t)r * span - J0;   /* pr[j], j in [J0, J1] */
            float m = mx[r];
            if (A->sinks && A->sinks[hr[r]] > m) m = A->sinks[hr[r]];
            float sum = rt_softmax_exp(pr, lo[r], hi[r], m);
            if (A->sinks) sum += expf(A->sinks[hr[r]] - m);
            float inv = 1.0f / sum;
            for (int j = J0; j <= J1; j++) pr[j] = j >= lo[r] && j <= hi[r] ? pr[j] * inv : 0.0f;
        }
        for (int c0 = 0; c0 < d; c0 += 32) {   /* out rows, 32 coordinates at a time */
            __m512 o0[RT_ATT_ROWS], o1[RT_ATT_ROWS];
            for (int r = 0; r < RT_ATT_ROWS; r++) o0[r] = o1[r] = _mm512_setzero_ps();
            for (int j = J0; j <= J1; j++) {
                const float *vr = A->v + (size_t)(A->ring ? j % A->ring : j) * kvw + (size_t)g * d + c0;
                __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
                const float *pj = p + (j - J0);
                for (int r = 0; r < RT_ATT_ROWS; r++)
                    if (r < R) {
                        __m512 w = _mm512_set1_ps(pj[(size_t)r * span]);
                        o0[r] = _mm512_fmadd_ps(w, v0, o0[r]);
                        o1[r] = _mm512_fmadd_ps(w, v1, o1[r]);
                    }
            }
            for (int r = 0; r < R; r++) {
                float *o = A->out + (size_t)tr[r] * A->heads * d + (size_t)hr[r] * d + c0;
                _mm512_storeu_ps(o, o0[r]);
                _mm512_storeu_ps(o + 16, o1[r]);
            }
        }
    }
    free(p);
    free(qb);
}
#endif

/* The grouped kernel of the ISA and the head_dim multiple it needs */
#if defined(__AVX512F__)
#define RT_ATT_GROUPED rt_attention_group_range
#define RT_ATT_GROUP_DIM 16
#elif defined(__AVX2__) && defined(__FMA__)
#define RT_ATT_GROUPED rt_attention_group8_range
#define RT_ATT_GROUP_DIM 32
#endif

static inline void rt_attention(const RtAttention *A) {
    int group = A->heads / A->kv_heads;
#if defined(__AVX512F__)
    if (A->T >= RT_ATT_TILE_MIN_T && A->head_dim % 32 == 0 && A->head_dim <= 256 && A->heads % A->kv_heads == 0) {
        static RtScratch kt_buf;   /* rt_attention runs on the calling thread only */
        RtAttTile P = {.A = A, .split = 1};
        int lo0 = rt_att_first_key(A, A->pos);   /* the first token's first key: the lowest of the chunk */
        P.jlo = lo0 / 16 * 16;
        int len = A->pos + A->T - P.jlo;
        P.ldk = (len + 15) / 16 * 16;
        if (P.ldk % 256 == 0) P.ldk += 16;   /* coordinates a multiple of 1 KB apart would share L1 sets */
        while (group / P.split > RT_ATT_ROWS) P.split *= 2;
        P.gh = group / P.split;
        P.tq = RT_ATT_ROWS / P.gh;
        if (group % P.split == 0) {
            P.kt = (float *)rt_scratch(&kt_buf, sizeof(float) * (size_t)A->kv_heads * A->head_dim * P.ldk);
            rt_parallel_for(A->kv_heads * (P.ldk / 16), rt_attention_kt_range, &P);
            rt_parallel_for(A->kv_heads * ((A->T + P.tq - 1) / P.tq) * P.split, rt_attention_tile_range, &P);
            return;
        }
    }
#endif
#ifdef RT_ATT_GROUPED
    if (A->head_dim % RT_ATT_GROUP_DIM == 0 && A->head_dim <= 256 && A->heads % A->kv_heads == 0) {
        /* split a group until there are 4 tasks per thread (or one head per task), at most 8 heads per task */
        RtAttGroup G = {.A = A, .split = 1};
        while (group % (2 * G.split) == 0 && (group / G.split > 8 || A->T * A->kv_heads * G.split < 4 * rt_threads())) G.split *= 2;
        if (group / G.split <= 8) {
            rt_parallel_for(A->T * A->kv_heads * G.split, RT_ATT_GROUPED, &G);
            return;
        }
    }
#else
    (void)group;
#endif
    rt_parallel_for(A->T * A->heads, rt_attention_range, (void *)A);
}

/* ── multi-head latent attention (DeepSeek MLA) ────────────────────────────────
 * The cache holds per token only the normalised latent c (r values) followed by
 * the rotated k_pe (dr values) that every head shares.  q holds per head
 * [q_nope (dn) | q_pe (dr)], q_pe already rotated.  kv_b is kv_b_proj
 * [heads·(dn+dv)][r]: per head dn rows W_uk (latent → k_nope) then dv rows W_uv
 * (latent → v).  Two exact evaluations of the same attention:
 *
 *   rt_mla_materialised  K_nope and V rebuilt from the latent for every cached
 *                        token (one matrix-matrix product), then ordinary
 *                        attention: cheapest for prefill, where T queries share them.
 *   rt_mla_absorbed      W_uk folded into the query (q̃ = W_ukᵀ q_nope, r values),
 *                        attention directly over the latent cache, then W_uv
 *                        applied once to the attended latent: what decode wants,
 *                        since it reads r+dr values per cached token instead of
 *                        heads·(dn+dv). */
typedef struct RtMla {
    const float *q;        /* [T][heads·(dn+dr)], q_pe rotated                  */
    const float *cache;    /* [max_context][r+dr]: c | k_pe                      */
    const void *kv_b;      /* [heads·(dn+dv)][r] in fmt                          */
    float *out;            /* [T][heads·dv]                                      */
    int T, pos, heads, r, dn, dr, dv, fmt;
    float scale;
    const float *w_scale;  /* fp8 kv_b: block multipliers [ceil(rows/bn)][ceil(r/bk)]; int8 / int4 / MXFP4: block scales */
    int bn, bk;
    int scale_f16;         /* int8 / int4 kv_b: f16 block scales (RtLinear.scale_f16) */
    float *kv;             /* internal, materialised: [S][heads·(dn+dv)]         */
    float *q_lat, *o_lat;  /* internal, absorbed: [T][heads][r]                  */
} RtMla;

/* One kv_b row as f32: the row itself for f32 weights, else converted into buf
 * (fp8: times its block multiplier; int8/int4/MXFP4: decoded by rt_q_row_to_f32). */
static inline const float *rt_mla_row(const RtMla *A, int row, float *buf) {
    if (rt_fmt_quant(A->fmt)) {
        rt_q_row_to_f32(A->kv_b, A->w_scale, A->fmt, A->scale_f16, A->r, row, buf);
        return buf;
    }
    const char *w = (const char *)A->kv_b + (size_t)row * A->r * rt_wsize(A->fmt);
    if (A->fmt == RT_F32) return (const float *)w;
    rt_row_to_f32(w, A->fmt, A->r, buf);
    if (A->fmt == RT_FP8) {
        const float *s = A->w_scale + (size_t)(row / A->bn) * ((A->r + A->bk - 1) / A->bk);
        for (int i = 0; i < A->r; i++) buf[i] *= s[i / A->bk];
    }
    return buf;
}

static void rt_mla_materialised_range(void *ctx, int b, int e) {
    const RtMla *A = (const RtMla *)ctx;
    int qk = A->dn + A->dr, kvw = A->heads * (A->dn + A->dv), cw = A->r + A->dr;
    float *p = (float *)malloc(sizeof(float) * (size_t)(A->pos + A->T));
    if (!p) rt_die("out of memory in MLA attention");
    for (int task = b; task < e; task++) {
        int t = task / A->heads, h = task % A->heads, pos = A->pos + t;
        const float *q = A->q + (size_t)t * A->heads * qk + (size_t)h * qk;
        float m = -INFINITY;
        for (int j = 0; j <= pos; j++) {
            const float *k_nope = A->kv + (size_t)j * kvw + (size_t)h * (A->dn + A->dv);
            const float *k_pe = A->cache + (size_t)j * cw + A->r;
            float s = (rt_dot_f32(q, k_nope, A->dn) + rt_dot_f32(q + A->dn, k_pe, A->dr)) * A->scale;
            p[j] = s;
            if (s > m) m = s;
        }
        float sum = rt_softmax_exp(p, 0, pos, m);
        float inv = 1.0f / sum, *o = A->out + (size_t)t * A->heads * A->dv + (size_t)h * A->dv;
        for (int i = 0; i < A->dv; i++) o[i] = 0.0f;
        for (int j = 0; j <= pos; j++) {
            const float *v = A->kv + (size_t)j * kvw + (size_t)h * (A->dn + A->dv) + A->dn;
            float w = p[j] * inv;
            for (int i = 0; i < A->dv; i++) o[i] += w * v[i];
        }
    }
    free(p);
}

static inline void rt_mla_materialised(RtMla *A) {
    int S = A->pos + A->T, cw = A->r + A->dr, kvw = A->heads * (A->dn + A->dv);
    float *c = (float *)malloc(sizeof(float) * (size_t)S * A->r);
    A->kv = (float *)malloc(sizeof(float) * (size_t)S * kvw);
    if (!c || !A->kv) rt_die("out of memory in MLA attention");
    for (int j = 0; j < S; j++) memcpy(c + (size_t)j * A->r, A->cache + (size_t)j * cw, sizeof(float) * A->r);
    RtLinear L = {.x = c, .w = A->kv_b, .y = A->kv, .T = S, .K = A->r, .N = kvw, .fmt = A->fmt,
                  .scale = A->w_scale, .bn = A->bn, .bk = A->bk, .scale_f16 = A->scale_f16};
    rt_linear(&L);                                  /* [S][heads·(dn+dv)] = c · kv_bᵀ */
    free(c);
    rt_parallel_for(A->T * A->heads, rt_mla_materialised_range, A);
    free(A->kv);
    A->kv = NULL;
}

/* absorbed, step 1 (per head): q̃[t][h] = Σ_d q_nope[t][h][d] · W_uk[h][d][:] */
static void rt_mla_absorb_q_range(void *ctx, int b, int e) {
    const RtMla *A = (const RtMla *)ctx;
    int qk = A->dn + A->dr;
    float *buf = (float *)malloc(sizeof(float) * (size_t)A->r);
    if (!buf) rt_die("out of memory in MLA attention");
    for (int h = b; h < e; h++) {
        for (int t = 0; t < A->T; t++) memset(A->q_lat + ((size_t)t * A->heads + h) * A->r, 0, sizeof(float) * A->r);
        for (int d = 0; d < A->dn; d++) {
            const float *w = rt_mla_row(A, h * (A->dn + A->dv) + d, buf);
            for (int t = 0; t < A->T; t++) {
                float qd = A->q[(size_t)t * A->heads * qk + (size_t)h * qk + d];
                float *ql = A->q_lat + ((size_t)t * A->heads + h) * A->r;
                for (int i = 0; i < A->r; i++) ql[i] += qd * w[i];
            }
        }
    }
    free(buf);
}

/* absorbed, step 3 (per head): out[t][h] = W_uv[h] · ō[t][h] */
static void rt_mla_absorb_out_range(void *ctx, int b, int e) {
    const RtMla *A = (const RtMla *)ctx;
    float *buf = (float *)malloc(sizeof(float) * (size_t)A->r);
    if (!buf) rt_die("out of memory in MLA attention");
    for (int h = b; h < e; h++)
        for (int i = 0; i < A->dv; i++) {
            const float *w = rt_mla_row(A, h * (A->dn + A->dv) + A->dn + i, buf);
            for (int t = 0; t < A->T; t++)
                A->out[(size_t)t * A->heads * A->dv + (size_t)h * A->dv + i] =
                    rt_dot_f32(w, A->o_lat + ((size_t)t * A->heads + h) * A->r, A->r);
        }
    free(buf);
}

/* absorbed, step 2 for one query token as two matrix products.  With
 * q_cat[h] = [q̃_h | q_pe_h] (r + dr values) and the cache row [c_j | k_pe_j]
 * (the same r + dr values, contiguous), every score is one dot product:
 * scores[heads][S] = q_cat · cacheᵀ, run by rt_linear's register tiles over the
 * cache rows.  Then softmax per head, and ō[h] = Σ_j p[h][j]·c_j computed per
 * block of latent columns, so each task reads its slice of each row once for
 * all heads. */
typedef struct RtMlaStep { const RtMla *A; const float *p; float *o; int S; } RtMlaStep;
#define RT_MLA_COLS 64
/* ō for 4 heads × 64 latent columns at a time, the accumulators in registers:
 * per cached row, 64 / RT_VL loads and 4 · 64 / RT_VL FMAs, nothing stored. */
#define RT_MLA_HT 4
static void rt_mla_attend_cols_range(void *ctx, int b, int e) {
    const RtMlaStep *M = (const RtMlaStep *)ctx;
    const RtMla *A = M->A;
    int cw = A->r + A->dr;
    for (int blk = b; blk < e; blk++) {
        int c0 = blk * RT_MLA_COLS, nc = A->r - c0 < RT_MLA_COLS ? A->r - c0 : RT_MLA_COLS;
        for (int h0 = 0; h0 < A->heads; h0 += RT_MLA_HT) {
            int nh = A->heads - h0 < RT_MLA_HT ? A->heads - h0 : RT_MLA_HT;
            const float *ph[RT_MLA_HT];
            for (int k = 0; k < RT_MLA_HT; k++) ph[k] = M->p + (size_t)(h0 + (k < nh ? k : 0)) * M->S;
#if RT_VL
            if (nc == RT_MLA_COLS && nh == RT_MLA_HT) {
                enum { NV = RT_MLA_COLS / (RT_VL ? RT_VL : 1) };
                rt_vec acc[RT_MLA_HT][NV];
                for (int k = 0; k < RT_MLA_HT; k++)
                    for (int v = 0; v < NV; v++) acc[k][v] = rt_vzero();
                for (int j = 0; j < M->S; j++) {
                    const float *row = A->cache + (size_t)j * cw + c0;
                    rt_vec r[NV];
                    for (int v = 0; v < NV; v++) r[v] = rt_vload_f32(row + v * RT_VL);
                    for (int k = 0; k < RT_MLA_HT; k++) {
                        rt_vec w = rt_vset1(ph[k][j]);
                        for (int v = 0; v < NV; v++) acc[k][v] = rt_vfma(w, r[v], acc[k][v]);
                    }
                }
                for (int k = 0; k < RT_MLA_HT; k++)
                    for (int v = 0; v < NV; v++) rt_vstore_f32(M->o + (size_t)(h0 + k) * A->r + c0 + v * RT_VL, acc[k][v]);
                continue;
            }
#endif
            for (int k = 0; k < nh; k++) {
                float *o = M->o + (size_t)(h0 + k) * A->r + c0;
                memset(o, 0, sizeof(float) * (size_t)nc);
                for (int j = 0; j < M->S; j++) {
                    const float *row = A->cache + (size_t)j * cw + c0;
                    for (int i = 0; i < nc; i++) o[i] += ph[k][j] * row[i];
                }
            }
        }
    }
}

static inline void rt_mla_absorb_attend(RtMla *A) {
    int cw = A->r + A->dr, qk = A->dn + A->dr, S_max = A->pos + A->T;
    float *qcat = (float *)malloc(sizeof(float) * (size_t)A->heads * cw), *p = (float *)malloc(sizeof(float) * (size_t)A->heads * S_max);
    if (!qcat || !p) rt_die("out of memory in MLA attention");
    for (int t = 0; t < A->T; t++) {
        int S = A->pos + t + 1;
        for (int h = 0; h < A->heads; h++) {
            memcpy(qcat + (size_t)h * cw, A->q_lat + ((size_t)t * A->heads + h) * A->r, sizeof(float) * (size_t)A->r);
            memcpy(qcat + (size_t)h * cw + A->r, A->q + (size_t)t * A->heads * qk + (size_t)h * qk + A->dn, sizeof(float) * (size_t)A->dr);
        }
        RtLinear L = {.x = qcat, .w = A->cache, .y = p, .T = A->heads, .K = cw, .N = S, .fmt = RT_F32};
        rt_linear(&L);
        for (int h = 0; h < A->heads; h++) {
            float *ph = p + (size_t)h * S, m = -INFINITY, sum = 0.0f;
            for (int j = 0; j < S; j++) { ph[j] *= A->scale; if (ph[j] > m) m = ph[j]; }
            sum = rt_softmax_exp(ph, 0, S - 1, m);
            float inv = 1.0f / sum;
            for (int j = 0; j < S; j++) ph[j] *= inv;
        }
        RtMlaStep M = {.A = A, .p = p, .o = A->o_lat + (size_t)t * A->heads * A->r, .S = S};
        rt_parallel_for((A->r + RT_MLA_COLS - 1) / RT_MLA_COLS, rt_mla_attend_cols_range, &M);
    }
    free(qcat);
    free(p);
}

static inline void rt_mla_absorbed(RtMla *A) {
    size_t n = (size_t)A->T * A->heads * A->r;
    A->q_lat = (float *)malloc(sizeof(float) * n);
    A->o_lat = (float *)malloc(sizeof(float) * n);
    if (!A->q_lat || !A->o_lat) rt_die("out of memory in MLA attention");
    rt_parallel_for(A->heads, rt_mla_absorb_q_range, A);
    rt_mla_absorb_attend(A);
    rt_parallel_for(A->heads, rt_mla_absorb_out_range, A);
    free(A->q_lat);
    free(A->o_lat);
    A->q_lat = A->o_lat = NULL;
}

/* ── stacked experts (gpt-oss, Llama 4) ──────────────────────────────────────
 * Both families store all experts of a layer in one tensor.  Hugging Face's
 * files (and its in-memory layout) are [E][in][out] — used as x @ W, the
 * transpose of every other linear — and gpt-oss also ships MXFP4 blocks in
 * [E][out][in/32] order.  Gate and up share one tensor: interleaved columns
 * (gpt-oss: even = gate, odd = up) or halves (Llama 4: gate first).
 *
 *   rt_linear_t      y[T][N] = x[T][K] · W[K][N] (+ b) for the [in, out] layout,
 *                    in column blocks so each task streams its part of W once
 *   rt_linear_mxfp4  y[T][N] = x · Wᵀ (+ b) for MXFP4 rows: 32 e2m1 values per
 *                    16 bytes (low nibble first) times 2^(e8m0 − 127)
 */
typedef struct RtLinearT {
    const float *x;        /* [T][K]                                            */
    const void *w;         /* [K][N] in fmt (f32, bf16, f16), or MXFP4 blocks [N][K/32][16] */
    const uint8_t *scales; /* MXFP4: [N][K/32] e8m0 exponents                   */
    const float *b;        /* [N] or NULL                                       */
    float *y;              /* [T][N]                                            */
    int T, K, N, fmt;      /* fmt: RT_F32/RT_BF16/RT_F16, or RT_MXFP4           */
} RtLinearT;
enum { RT_MXFP4 = 4 };
#define RT_LT_COLS 64

static void rt_linear_t_range(void *ctx, int b, int e) {
    const RtLinearT *L = (const RtLinearT *)ctx;
    float wrow[RT_LT_COLS];
    size_t ws = rt_wsize(L->fmt);
    for (int blk = b; blk < e; blk++) {
        int n0 = blk * RT_LT_COLS, nn = L->N - n0 < RT_LT_COLS ? L->N - n0 : RT_LT_COLS;
        for (int t = 0; t < L->T; t++)
            for (int n = 0; n < nn; n++) L->y[(size_t)t * L->N + n0 + n] = 0.0f;
        for (int k = 0; k < L->K; k++) {
            const char *row = (const char *)L->w + ((size_t)k * L->N + n0) * ws;
            const float *w = wrow;
            if (L->fmt == RT_F32) w = (const float *)row;
            else rt_row_to_f32(row, L->fmt, nn, wrow);
            for (int t = 0; t < L->T; t++) {
                float xv = L->x[(size_t)t * L->K + k], *y = L->y + (size_t)t * L->N + n0;
                for (int n = 0; n < nn; n++) y[n] += xv * w[n];
            }
        }
        if (L->b)
            for (int t = 0; t < L->T; t++)
                for (int n = 0; n < nn; n++) L->y[(size_t)t * L->N + n0 + n] += L->b[n0 + n];
    }
}

static inline float rt_e8m0(uint8_t s) {   /* 2^(s − 127) */
    if (s == 0) return ldexpf(1.0f, -127);
    union { uint32_t u; float f; } v = {(uint32_t)s << 23};
    return v.f;
}

static const float rt_fp4_e2m1[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                       -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* Decode one MXFP4 block: 16 bytes → 32 weights × 2^(s − 127), element 2j from
 * the low nibble of byte j and 2j + 1 from its high nibble.  AVX-512 looks the
 * 16-entry e2m1 table up with one permute per 16 values; AVX2 permutes the
 * 8 magnitudes and puts the sign bit back; elsewhere a scalar table lookup. */
static inline void rt_mxfp4_block(const uint8_t *q, uint8_t s, float *w) {
    float m = rt_e8m0(s);
#if defined(__AVX512F__)
    __m128i bytes = _mm_loadu_si128((const __m128i *)q), lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0F));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0F));
    __m512 lut = _mm512_loadu_ps(rt_fp4_e2m1), ms = _mm512_set1_ps(m);
    __m512i i0 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)), i1 = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi));
    _mm512_storeu_ps(w, _mm512_mul_ps(_mm512_permutexvar_ps(i0, lut), ms));
    _mm512_storeu_ps(w + 16, _mm512_mul_ps(_mm512_permutexvar_ps(i1, lut), ms));
#elif defined(__AVX2__)
    __m128i bytes = _mm_loadu_si128((const __m128i *)q), lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0F));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0F));
    __m128i il[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)};
    __m256 lut = _mm256_loadu_ps(rt_fp4_e2m1), ms = _mm256_set1_ps(m);
    for (int k = 0; k < 4; k++) {
        __m128i part = k & 1 ? _mm_srli_si128(il[k >> 1], 8) : il[k >> 1];
        __m256i idx = _mm256_cvtepu8_epi32(part);
        __m256 mag = _mm256_permutevar8x32_ps(lut, _mm256_and_si256(idx, _mm256_set1_epi32(7)));
        __m256 sign = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(idx, _mm256_set1_epi32(8)), 28));
        _mm256_storeu_ps(w + 8 * k, _mm256_mul_ps(_mm256_xor_ps(mag, sign), ms));
    }
#else
    for (int j = 0; j < 16; j++) {
        w[2 * j] = rt_fp4_e2m1[q[j] & 15] * m;
        w[2 * j + 1] = rt_fp4_e2m1[q[j] >> 4] * m;
    }
#endif
}

static void rt_linear_mxfp4_range(void *ctx, int b, int e) {
    const RtLinearT *L = (const RtLinearT *)ctx;
    int G = L->K / 32;
    float w[32];
    for (int n = b; n < e; n++) {
        const uint8_t *blocks = (const uint8_t *)L->w + (size_t)n * G * 16, *sc = L->scales + (size_t)n * G;
        for (int t = 0; t < L->T; t++) L->y[(size_t)t * L->N + n] = 0.0f;
        for (int g = 0; g < G; g++) {
            rt_mxfp4_block(blocks + g * 16, sc[g], w);
            for (int t = 0; t < L->T; t++) L->y[(size_t)t * L->N + n] += rt_dot_f32(L->x + (size_t)t * L->K + 32 * g, w, 32);
        }
        if (L->b)
            for (int t = 0; t < L->T; t++) L->y[(size_t)t * L->N + n] += L->b[n];
    }
}

#if defined(__AVX512F__)
/* MXFP4 on AVX-512: register tiles of 1 token × 8 rows (decode) and 4 × 4
 * (more tokens).  Per block of 32, a row's 16 bytes widen to 16 lanes whose
 * low 4 bits index the e2m1 table (the low nibbles) and, shifted by 4, the
 * high nibbles — two permutes, no decoded copy in memory — and both are
 * multiplied by the block's 2^(e − 127): exactly the dequantised weights.
 * The activations are permuted per block to match (16 even then 16 odd
 * elements, as rt_bf16_permute_x does); sums stay in lanes over the whole
 * row.  The tile's rows are contiguous, so the next tile is prefetched as the
 * decode GEMVs do. */
/* Decode: 1 token × 8 rows; here the block's power of two multiplies the
 * block's partial sum instead of the weights (one multiply fewer per block and
 * row, the same rounding): one Zen 4 core, 16 gpt-oss-sized expert matrices
 * (5760 × 2880) out of cache, 8.4 GB/s of blocks and scales against 5.0 with
 * the 4 × 4 form and 3.1 with the block-decoding path. */
static void rt_mx_tile_gemv(const float *xp, const uint8_t *const *qr, const uint8_t *const *sr, int G, float out[8]) {
    const __m512 lut = _mm512_loadu_ps(rt_fp4_e2m1);
    __m512 acc[8];
    RT_UNROLL for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
    const char *next = (const char *)(qr[7] + (size_t)G * 16);
    for (int g = 0; g < G; g++) {
        RT_PREFETCH_L2(next + (size_t)g * 128);
        RT_PREFETCH_L2(next + (size_t)g * 128 + 64);
        __m512 xe = _mm512_loadu_ps(xp + 32 * g), xo = _mm512_loadu_ps(xp + 32 * g + 16);
        RT_UNROLL for (int r = 0; r < 8; r++) {
            __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qr[r] + 16 * g)));
            __m512 wl = _mm512_permutexvar_ps(idx, lut), wh = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), lut);
            __m512 p = _mm512_fmadd_ps(wh, xo, _mm512_mul_ps(wl, xe));
            acc[r] = _mm512_fmadd_ps(p, _mm512_set1_ps(rt_e8m0(sr[r][g])), acc[r]);
        }
    }
    RT_UNROLL for (int r = 0; r < 8; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}
/* More tokens: 4 × 4, the weights scaled once per block and shared by the 4
 * tokens (exactly the dequantised weights). */
#define RT_DEFINE_MX_TILE(NAME, TT_, TN_)                                                              \
    static void NAME(const float *const *xpr, const uint8_t *const *qr, const uint8_t *const *sr, int G, \
                     float out[TT_][TN_]) {                                                             \
        __m512 acc[TT_][TN_];                                                                          \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                        \
            RT_UNROLL for (int r = 0; r < TN_; r++) acc[t][r] = _mm512_setzero_ps();                   \
        const char *next = (const char *)(qr[TN_ - 1] + (size_t)G * 16);                               \
        for (int g = 0; g < G; g++) {                                                                  \
            for (int o = 0; o < TN_ * 16; o += 64) RT_PREFETCH_L2(next + (size_t)g * TN_ * 16 + o);     \
            __m512 wl[TN_], wh[TN_];                                                                   \
            RT_UNROLL for (int r = 0; r < TN_; r++) {                                                  \
                __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qr[r] + 16 * g))); \
                __m512 sv = _mm512_set1_ps(rt_e8m0(sr[r][g]));                                         \
                wl[r] = _mm512_mul_ps(_mm512_permutexvar_ps(idx, _mm512_loadu_ps(rt_fp4_e2m1)), sv);   \
                wh[r] = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), _mm512_loadu_ps(rt_fp4_e2m1)), sv); \
            }                                                                                          \
            RT_UNROLL for (int t = 0; t < TT_; t++) {                                                  \
                __m512 xe = _mm512_loadu_ps(xpr[t] + 32 * g), xo = _mm512_loadu_ps(xpr[t] + 32 * g + 16); \
                RT_UNROLL for (int r = 0; r < TN_; r++)                                                \
                    acc[t][r] = _mm512_fmadd_ps(wh[r], xo, _mm512_fmadd_ps(wl[r], xe, acc[t][r]));     \
            }                                                                                          \
        }                                                                                              \
        RT_UNROLL for (int t = 0; t < TT_; t++)                                                        \
            RT_UNROLL for (int r = 0; r < TN_; r++) out[t][r] = _mm512_reduce_add_ps(acc[t][r]);       \
    }
RT_DEFINE_MX_TILE(rt_mx_tile_4x4, 4, 4)

typedef struct { const RtLinearT *L; const float *xp; } RtMxJob;
#define RT_MX_BLOCK 16
static void rt_mxfp4_tiles_range(void *ctx, int tb, int te) {
    const RtMxJob *J = (const RtMxJob *)ctx;
    const RtLinearT *L = J->L;
    int G = L->K / 32, TN = L->T == 1 ? 8 : 4;
    for (int b0 = tb; b0 < te; b0 += RT_MX_BLOCK) {   /* RT_MX_BLOCK tiles (64 rows): in L2 while the token groups pass */
        int b1 = b0 + RT_MX_BLOCK < te ? b0 + RT_MX_BLOCK : te;
        for (int t0 = 0; t0 < L->T; t0 += 4)
            for (int tile = b0; tile < b1; tile++) {
                int n0 = tile * TN;
                const uint8_t *qr[8], *sr[8];
                for (int r = 0; r < TN; r++) {
                    int n = n0 + r < L->N ? n0 + r : L->N - 1;
                    qr[r] = (const uint8_t *)L->w + (size_t)n * G * 16;
                    sr[r] = L->scales + (size_t)n * G;
                }
                if (L->T == 1) {
                    float o[8];
                    rt_mx_tile_gemv(J->xp, qr, sr, G, o);
                    for (int r = 0; r < 8 && n0 + r < L->N; r++) L->y[n0 + r] = o[r] + (L->b ? L->b[n0 + r] : 0.0f);
                    continue;
                }
                const float *xpr[4];
                float o[4][4];
                for (int t = 0; t < 4; t++) xpr[t] = J->xp + (size_t)(t0 + t < L->T ? t0 + t : L->T - 1) * L->K;
                rt_mx_tile_4x4(xpr, qr, sr, G, o);
                for (int t = 0; t < 4 && t0 + t < L->T; t++)
                    for (int r = 0; r < 4 && n0 + r < L->N; r++)
                        L->y[(size_t)(t0 + t) * L->N + n0 + r] = o[t][r] + (L->b ? L->b[n0 + r] : 0.0f);
            }
    }
}
#endif

static inline void rt_linear_t(const RtLinearT *L) {
#if defined(__AVX512F__)
    if (L->fmt == RT_MXFP4) {
        float *xp = (float *)malloc(sizeof(float) * (size_t)L->T * L->K);
        if (!xp) rt_die("out of memory in linear");
        for (int t = 0; t < L->T; t++) rt_bf16_permute_x(L->x + (size_t)t * L->K, xp + (size_t)t * L->K, L->K);
        RtMxJob J = {L, xp};
        int TN = L->T == 1 ? 8 : 4;
        rt_parallel_for((L->N + TN - 1) / TN, rt_mxfp4_tiles_range, &J);
        free(xp);
        return;
    }
#endif
    if (L->fmt == RT_MXFP4) rt_parallel_for(L->N, rt_linear_mxfp4_range, (void *)L);
    else rt_parallel_for((L->N + RT_LT_COLS - 1) / RT_LT_COLS, rt_linear_t_range, (void *)L);
}

/* A mixture of stacked experts.  Routing:
 *   RT_ROUTE_TOPK_SOFTMAX (gpt-oss): logits = Wr·x + br; the top k logits,
 *       softmax over those k; the expert outputs are weighted.
 *   RT_ROUTE_TOPK_SIGMOID_INPUT (Llama 4): the top k logits through a sigmoid
 *       scale the expert's *input*; outputs are summed unweighted.
 * Expert: gu = x·W_gu (+ b_gu), gate/up split (interleaved or halves), then
 *   RT_ACT_OAI: (clamp(up, ±limit) + 1) · g·σ(alpha·g) with g = min(gate, limit)
 *   RT_ACT_SILU: silu(gate) · up
 * and y = h·W_down (+ b_down).  Outputs are accumulated in expert-index order,
 * as HF's CPU path does; only selected experts are read; with `grouped` the
 * tokens of an expert run as one matrix-matrix product. */
enum { RT_ROUTE_TOPK_SOFTMAX = 0, RT_ROUTE_TOPK_SIGMOID_INPUT = 1 };
enum { RT_ACT_OAI = 3 };
typedef struct RtMoeStacked {
    const float *x;                  /* [T][H]                                  */
    float *y;                        /* [T][H] (not accumulated)                */
    const void *router;              /* [E][H] in router_fmt                    */
    const float *router_bias;        /* [E] or NULL                             */
    /* The experts' weights in fmt:
     *   RT_F32 / RT_BF16 / RT_F16: [E][H][2I], [E][I][H] (HF's layout, x · W);
     *   RT_MXFP4: [E][2I][H/32][16], [E][H][I/32][16], with e8m0 exponents in the
     *       scales [E][2I][H/32], [E][H][I/32];
     *   RT_I8 / RT_I4 (archc quantize): rows of each expert's [2I][H], [H][I]
     *       (int4: ⌈K/32⌉·16 bytes a row) with scales [E][N][⌈K/32⌉], f16 when
     *       scale_f16, else f32;
     *   RT_FP8 (archc quantize): [E][2I][H], [E][H][I] e4m3 with f32 multipliers
     *       per 128 × 128 block of each expert's matrix, [E][⌈N/128⌉][⌈K/128⌉]. */
    const void *gate_up, *down;
    const void *gate_up_scales, *down_scales;
    const float *gate_up_bias, *down_bias;       /* [E][2I], [E][H] or NULL     */
    int T, H, I, E, K, fmt, router_fmt, grouped;
    int route, act, interleaved;
    float limit, alpha;
    /* shared expert (Llama 4): SwiGLU [SI][H], [SI][H], [H][SI] in shared_fmt,
     * with block multipliers (fp8, int8, int4, MXFP4) of bn × bk blocks */
    const void *shared_gate, *shared_up, *shared_down;
    const float *shared_gate_scale, *shared_up_scale, *shared_down_scale;
    int SI, shared_fmt, bn, bk;
    int scale_f16;                   /* int8 / int4 experts and shared expert: f16 block scales */
} RtMoeStacked;

/* One expert's matrix product, y = x · W_eᵀ + b for the stacked layouts above
 * (W_e: expert e's N × K matrix). */
static inline void rt_moe_stacked_linear(const RtMoeStacked *M, const void *w, const void *scales, const float *b, int e, const float *x,
                                         float *y, int T, int K, int N) {
    int fmt = M->fmt;
    if (fmt == RT_I8 || fmt == RT_I4 || fmt == RT_FP8) {   /* output-major: the 2-D kernels */
        int nb = (K + 31) / 32;
        size_t row = fmt == RT_I4 ? (size_t)nb * 16 : (size_t)K;
        size_t sc = fmt == RT_FP8 ? (size_t)((N + 127) / 128) * ((K + 127) / 128) : (size_t)N * nb;
        int f16 = fmt != RT_FP8 && M->scale_f16;
        RtLinear L = {.x = x, .w = (const char *)w + (size_t)e * N * row, .b = b, .y = y, .T = T, .K = K, .N = N, .fmt = fmt,
                      .scale = (const float *)(const void *)((const char *)scales + (size_t)e * sc * (f16 ? 2 : 4)),
                      .bn = fmt == RT_FP8 ? 128 : 1, .bk = fmt == RT_FP8 ? 128 : 32, .scale_f16 = f16};
        rt_linear(&L);
        return;
    }
    size_t stride = fmt == RT_MXFP4 ? (size_t)N * (K / 32) * 16 : (size_t)K * N * rt_wsize(fmt);
    RtLinearT L = {.x = x, .w = (const char *)w + (size_t)e * stride, .y = y, .T = T, .K = K, .N = N, .fmt = fmt, .b = b,
                   .scales = scales ? (const uint8_t *)scales + (size_t)e * N * (K / 32) : NULL};
    rt_linear_t(&L);
}

typedef struct {
    const RtMoeStacked *M;
    const int *ptok;                 /* as RtMoeRun's */
    const float *pw;                 /* [T·K]: each pair's routing weight */
    float *yp;                       /* [T·K][H]: each pair's expert output, unweighted */
    RtMoeClaim C;
} RtMoeStackedRun;

/* Pool task: experts claimed as rt_moe's; each runs gate_up, the activation
 * and down on this thread over its tokens (all at once when grouped, else one
 * by one, as before), its pairs' outputs into yp. */
static void rt_moe_stacked_experts_range(void *ctx, int b, int e_) {
    RtMoeStackedRun *R = (RtMoeStackedRun *)ctx;
    const RtMoeStacked *M = R->M;
    int H = M->H, I = M->I;
    (void)e_;
    for (;;) {
        int e = rt_moe_claim(&R->C, b);
        if (e < 0) return;
        int p0 = R->C.off[e], n = R->C.off[e + 1] - p0, cnt = M->grouped ? n : 1;
        float *xe = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE0), sizeof(float) * (size_t)cnt * H);
        float *gu = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE1), sizeof(float) * (size_t)cnt * 2 * I);
        float *he = (float *)rt_scratch(rt_thread_scratch(RT_TLS_MOE2), sizeof(float) * (size_t)cnt * I);
        for (int b0 = 0; b0 < n; b0 += cnt) {
            for (int j = 0; j < cnt; j++) {
                const float *xr = M->x + (size_t)R->ptok[p0 + b0 + j] * H;
                float in_scale = M->route == RT_ROUTE_TOPK_SIGMOID_INPUT ? R->pw[p0 + b0 + j] : 1.0f;
                for (int h = 0; h < H; h++) xe[(size_t)j * H + h] = M->route == RT_ROUTE_TOPK_SIGMOID_INPUT ? xr[h] * in_scale : xr[h];
            }
            rt_moe_stacked_linear(M, M->gate_up, M->gate_up_scales, M->gate_up_bias ? M->gate_up_bias + (size_t)e * 2 * I : NULL, e, xe,
                                  gu, cnt, H, 2 * I);
            for (int j = 0; j < cnt; j++)
                for (int i2 = 0; i2 < I; i2++) {
                    const float *r = gu + (size_t)j * 2 * I;
                    float g = M->interleaved ? r[2 * i2] : r[i2], u = M->interleaved ? r[2 * i2 + 1] : r[I + i2], h;
                    if (M->act == RT_ACT_OAI) {
                        g = g < M->limit ? g : M->limit;
                        u = u < -M->limit ? -M->limit : u > M->limit ? M->limit : u;
                        h = (u + 1.0f) * (g * (1.0f / (1.0f + expf(-(g * M->alpha)))));
                    } else {
                        h = u * rt_silu(g);
                    }
                    he[(size_t)j * I + i2] = h;
                }
            rt_moe_stacked_linear(M, M->down, M->down_scales, M->down_bias ? M->down_bias + (size_t)e * H : NULL, e, he,
                                  R->yp + (size_t)(p0 + b0) * H, cnt, I, H);
        }
    }
}

static inline void rt_moe_stacked(const RtMoeStacked *M) {
    int T = M->T, H = M->H, E = M->E, K = M->K;
    if (K > 64) rt_die("moe: top-k above 64");   /* rt_moe_sum_range orders a token's selections on the stack */
    float *logits = (float *)malloc(sizeof(float) * (size_t)T * E), *wt = (float *)malloc(sizeof(float) * (size_t)T * K);
    int *sel = (int *)malloc(sizeof(int) * (size_t)T * K);
    if (!logits || !wt || !sel) rt_die("out of memory in moe");
    RtLinear R = {.x = M->x, .w = M->router, .b = M->router_bias, .y = logits, .T = T, .K = H, .N = E, .fmt = M->router_fmt};
    rt_linear(&R);
    for (int t = 0; t < T; t++) {
        const float *l = logits + (size_t)t * E;
        int *s = sel + (size_t)t * K;
        float *w = wt + (size_t)t * K;
        rt_topk(l, E, K, s);
        for (int k = 0; k < K; k++) w[k] = l[s[k]];
        if (M->route == RT_ROUTE_TOPK_SOFTMAX) {
            float m = w[0], sum = 0.0f;
            for (int k = 0; k < K; k++) { w[k] = expf(w[k] - m); sum += w[k]; }
            for (int k = 0; k < K; k++) w[k] /= sum;
        } else {
            for (int k = 0; k < K; k++) w[k] = 1.0f / (1.0f + expf(-w[k]));
        }
    }
    /* the experts spread over the threads as rt_moe's (rt_moe_claim), each
     * pair's output kept apart, then every token's sum in expert order: the
     * same additions in the same order as one expert after another */
    int *off = (int *)malloc(sizeof(int) * (size_t)(2 * E + 2)), *ptok = (int *)malloc(sizeof(int) * (size_t)T * K);
    int *pos = (int *)malloc(sizeof(int) * (size_t)T * K), *fill = (int *)malloc(sizeof(int) * (size_t)E);
    float *pw = (float *)malloc(sizeof(float) * (size_t)T * K), *yp = (float *)malloc(sizeof(float) * (size_t)T * K * H);
    if (!off || !ptok || !pos || !fill || !pw || !yp) rt_die("out of memory in moe");
    int nact = rt_moe_pairs(sel, T, K, E, off, off + E + 1, ptok, pos, fill);
    for (int i = 0; i < T * K; i++) pw[pos[i]] = wt[i];
    RtMoeStackedRun Run = {.M = M, .ptok = ptok, .pw = pw, .yp = yp};
    rt_moe_claim_init(&Run.C, off, off + E + 1, nact);
    int nth = rt_threads();
    if (T > 1) rt_parallel_for(nth < nact ? nth : nact, rt_moe_stacked_experts_range, &Run);
    else   /* decode: one expert after another here, each one's rows split over the threads (as
            * before: the experts spread over two threads decoded gpt-oss 2 layers at 16.7 tok/s
            * against 17.3, median of 6 interleaved runs; top-4 over 3 threads would not balance) */
        rt_moe_stacked_experts_range(&Run, 0, 1);
    RtMoeSum S = {.K = K, .H = H, .y = M->y, .sel = sel, .pos = pos, .wt = M->route == RT_ROUTE_TOPK_SOFTMAX ? wt : NULL, .yp = yp};
    rt_parallel_for(T, rt_moe_sum_range, &S);
    free(off); free(ptok); free(pos); free(fill); free(pw); free(yp);
    if (M->shared_gate) {  /* Llama 4: out = shared(x) + routed */
        float *as = (float *)malloc(sizeof(float) * (size_t)T * M->SI), *ys = (float *)malloc(sizeof(float) * (size_t)T * H);
        if (!as || !ys) rt_die("out of memory in moe");
        RtLinear G = {.x = M->x, .w = M->shared_gate, .w_up = M->shared_up, .y = as, .T = T, .K = H, .N = M->SI, .fmt = M->shared_fmt,
                      .act = RT_ACT_SILU, .scale = M->shared_gate_scale, .scale_up = M->shared_up_scale, .bn = M->bn, .bk = M->bk,
                      .scale_f16 = M->scale_f16};
        rt_linear(&G);
        RtLinear D = {.x = as, .w = M->shared_down, .y = ys, .T = T, .K = M->SI, .N = H, .fmt = M->shared_fmt,
                      .scale = M->shared_down_scale, .bn = M->bn, .bk = M->bk, .scale_f16 = M->scale_f16};
        rt_linear(&D);
        for (size_t i = 0; i < (size_t)T * H; i++) M->y[i] = ys[i] + M->y[i];
        free(as);
        free(ys);
    }
    free(logits); free(wt); free(sel);
}

#endif
