/*
 * runtime/archc_quant.h — linear layers over `archc quantize` weights, read in
 * place (docs/quantize.md).  Included by archc_kernels.h after RtLinear;
 * rt_linear hands RT_I8, RT_I4 and (dense) RT_MXFP4 matrices to rt_linear_quant.
 *
 * Weights [N][K] in blocks of 32 along K, one scale per block (RtLinear.scale:
 * [N][nb], nb = ceil(K/32), f16 when RtLinear.scale_f16 — archc quantize's
 * default, as Q8_0 / Q4_0 store theirs — else f32; for MXFP4 the e8m0 bytes
 * [N][nb] behind the same pointer).  A last partial block is zero-padded: int8 rows are K bytes
 * (the tail is copied into a padded buffer), 4-bit rows are nb·16 bytes:
 *   RT_I8     int8 values                          w = q · d
 *   RT_I4     bytes of two nibbles, element 2j low, 2j+1 high, w = (nibble − 8) · d
 *   RT_MXFP4  the same packing of e2m1 codes,      w = e2m1(code) · 2^(e − 127)
 *
 * Activations are quantised per block of 32 to int8 with d_x = max|x| / 127
 * (llama.cpp's Q8_0 scheme), the dot product of a block is exact in int32, and
 * block results are accumulated in f32:  y = Σ_b d_w[b] · d_x[b] · Σ_i q_w·q_x.
 * For the 4-bit formats each activation block is stored as its 16 even
 * elements then its 16 odd ones, so the low nibbles of the 16 weight bytes
 * meet the first half and the high nibbles the second without a shuffle.
 *
 * ISA: AVX-512 VNNI (zmm kernels below: a row-panel GEMM for T ≥ RT_QG_MIN_T
 * and a multi-block GEMV for int8/int4 decode), AVX-VNNI (vpdpbusd u8×s8),
 * AVX2 (vpmaddubsw), NEON (sdot with __ARM_FEATURE_DOTPROD, else vmull), scalar C.  x86's u8×s8 products need
 * an unsigned weight operand: int4 nibbles and MXFP4 (through a table, values
 * ×2 + 12) are unsigned with an offset that one term per block removes
 * (offset · Σ q_x); int8 uses the sign trick (|w| · sign(x, w)).
 */
#ifndef ARCHC_QUANT_H
#define ARCHC_QUANT_H

enum { RT_I8 = 5, RT_I4 = 6 };   /* RT_MXFP4 = 4 (archc_kernels.h) */
#define RT_FMT_MXFP4_ 4
static inline int rt_fmt_quant(int fmt) { return fmt == RT_I8 || fmt == RT_I4 || fmt == RT_FMT_MXFP4_; }

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define RT_Q_X86 1
#define RT_Q_VNNI 1
#elif defined(__AVXVNNI__)
#define RT_Q_X86 1
#define RT_Q_VNNI 1
#elif defined(__AVX2__)
#define RT_Q_X86 1
#endif

/* e2m1 code → value × 2 (integers), signed */
static const int8_t rt_e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* an f16 block scale as f32 (exact) */
static inline __attribute__((always_inline)) float rt_q_h2f(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return rt_f16(h);
#endif
}

/* the block scale of row n, block b */
static inline float rt_q_wscale(const RtLinear *L, const float *scale, int n, int b) {
    int nb = (L->K + 31) / 32;
    if (L->scale_f16 && L->fmt != RT_FMT_MXFP4_) return rt_q_h2f(((const uint16_t *)(const void *)scale)[(size_t)n * nb + b]);
    if (L->fmt == RT_FMT_MXFP4_) {
        uint8_t e = ((const uint8_t *)scale)[(size_t)n * nb + b];
        if (e < 2) return ldexpf(1.0f, (int)e - 128);   /* 2^(e−127), halved: the table holds values ×2 */
        uint32_t u = (uint32_t)(e - 1) << 23;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    return scale[(size_t)n * nb + b];
}

/* The quantised activations of one call: q [T][K] int8 (layout below), d [T][K/32],
 * c [T][K/32] = d · offset · Σ q (the unsigned-weight correction of x86; 0
 * elsewhere) and s [T][K/32] = −offset · Σ q (the same in int32, for the
 * AVX-512 GEMM). */
typedef struct RtQAct { int8_t *q; float *d, *c; int32_t *s; RtScratch *buf; int16_t *q16; } RtQAct;   /* buf: where q … s live (the thread's); q16: q widened (the AVX2 GEMM) */

/* Where element i of block b lands inside the activations of one token:
 *   RT_QL_NAT   natural order (int8 rows; the AVX-512 GEMM, all formats);
 *   RT_QL_PERM  each block's 16 even elements, then its 16 odd ones (4-bit rows);
 *   RT_QL_G4    blocks b < nv in groups of four: the even elements of the four
 *               blocks (64 bytes), then their odd ones (the AVX-512 int4 GEMV,
 *               whose one 64-byte load holds four blocks' nibbles); RT_QL_PERM
 *               from nv on. */
enum { RT_QL_NAT = 0, RT_QL_PERM = 1, RT_QL_G4 = 2 };

static inline int rt_q_offset(int fmt) {
#ifdef RT_Q_X86
    return fmt == RT_I4 ? 8 : fmt == RT_FMT_MXFP4_ ? 12 : 0;
#else
    (void)fmt;
    return 0;
#endif
}

/* Quantise L->x per block of 32: d = max|x| / 127, q = rint(x / d) (the same
 * values in every layout and on every ISA: the AVX-512 loop rounds in the same
 * f32 steps as the scalar one). */
static inline void rt_q_quantise_x(const RtLinear *L, RtQAct *A, int layout, int off, int nv) {
    int K = L->K, nb = (K + 31) / 32, KP = nb * 32;
    size_t need = (size_t)L->T * KP + 3 * sizeof(float) * (size_t)L->T * nb + 192;
    A->q = (int8_t *)rt_scratch(A->buf, need);
    char *base = (char *)A->q + (((size_t)L->T * KP + 63) & ~(size_t)63);
    A->d = (float *)base;
    A->c = A->d + (size_t)L->T * nb;
    A->s = (int32_t *)(A->c + (size_t)L->T * nb);
    for (int t = 0; t < L->T; t++) {
        const float *x = L->x + (size_t)t * K;
        int8_t *q = A->q + (size_t)t * KP;
        for (int b = 0; b < nb; b++) {
            const float *xb = x + b * 32;
            int len = K - b * 32 < 32 ? K - b * 32 : 32;   /* a partial last block: zeros after K */
            int8_t v8[32];
            float d;
            int sum = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
            __mmask16 m0 = len >= 16 ? 0xFFFF : (__mmask16)((1u << len) - 1), m1 = len >= 32 ? 0xFFFF : len <= 16 ? 0 : (__mmask16)((1u << (len - 16)) - 1);
            __m512 x0 = _mm512_maskz_loadu_ps(m0, xb), x1 = _mm512_maskz_loadu_ps(m1, xb + 16);
            float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
            d = amax / 127.0f;
            float id = d > 0.0f ? 1.0f / d : 0.0f;
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(id))), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
            q0 = _mm512_max_epi32(_mm512_min_epi32(q0, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
            q1 = _mm512_max_epi32(_mm512_min_epi32(q1, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
            sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
            _mm_storeu_si128((__m128i *)v8, _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(v8 + 16), _mm512_cvtepi32_epi8(q1));
#elif defined(__AVX2__) && defined(__FMA__)
            float xs[32];   /* the block, zero-padded */
            if (len < 32) { memset(xs, 0, sizeof xs); memcpy(xs, xb, sizeof(float) * (size_t)len); }
            const float *xv = len < 32 ? xs : xb;
            const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
            __m256 v0 = _mm256_loadu_ps(xv), v1 = _mm256_loadu_ps(xv + 8), v2 = _mm256_loadu_ps(xv + 16), v3 = _mm256_loadu_ps(xv + 24);
            __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absm), _mm256_and_ps(v1, absm)),
                                      _mm256_max_ps(_mm256_and_ps(v2, absm), _mm256_and_ps(v3, absm)));
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            d = _mm_cvtss_f32(m4) / 127.0f;
            float id = d > 0.0f ? 1.0f / d : 0.0f;
            const __m256 idv = _mm256_set1_ps(id);
            const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
            __m256i q0 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v0, idv)), hi), lo);   /* rint, as lrintf */
            __m256i q1 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v1, idv)), hi), lo);
            __m256i q2 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v2, idv)), hi), lo);
            __m256i q3 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v3, idv)), hi), lo);
            __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
            __m128i s2 = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
            s2 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0x4E));
            s2 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1));
            sum = _mm_cvtsi128_si32(s2);
            /* int32 → int16 → int8 with saturation (values are within ±127); packs work per 128-bit lane */
            __m256i w01 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8), w23 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q2, q3), 0xD8);
            _mm256_storeu_si256((__m256i *)(void *)v8, _mm256_permute4x64_epi64(_mm256_packs_epi16(w01, w23), 0xD8));
#else
            float amax = 0.0f;
            for (int i = 0; i < len; i++) amax = fmaxf(amax, fabsf(xb[i]));
            d = amax / 127.0f;
            float id = d > 0.0f ? 1.0f / d : 0.0f;
            for (int i = 0; i < 32; i++) {
                int v = i < len ? (int)lrintf(xb[i] * id) : 0;
                v = v > 127 ? 127 : v < -127 ? -127 : v;
                v8[i] = (int8_t)v;
                sum += v;
            }
#endif
            if (layout == RT_QL_NAT) memcpy(q + b * 32, v8, 32);
            else if (layout == RT_QL_G4 && b < nv) {
                int8_t *g = q + (b & ~3) * 32 + (b & 3) * 16;
                for (int i = 0; i < 16; i++) { g[i] = v8[2 * i]; g[64 + i] = v8[2 * i + 1]; }
            } else
                for (int i = 0; i < 16; i++) { q[b * 32 + i] = v8[2 * i]; q[b * 32 + 16 + i] = v8[2 * i + 1]; }
            A->d[(size_t)t * nb + b] = d;
            A->c[(size_t)t * nb + b] = d * (float)(off * sum);
            A->s[(size_t)t * nb + b] = -off * sum;
        }
    }
}

#define RT_Q_TT 4   /* prefill tile: tokens */
#define RT_Q_TN 4   /*               rows   */

#ifdef RT_Q_X86
/* one row's weight block b as 32 unsigned (4-bit: offset) or signed (int8) bytes in a ymm */
static inline __attribute__((always_inline)) __m256i rt_q_wblock(const uint8_t *row, int b, int fmt, int partial) {
    if (fmt == RT_I8) {
        if (partial) {   /* a partial last block of `partial` bytes: zero-padded copy */
            uint8_t t[32] = {0};
            memcpy(t, row + (size_t)b * 32, (size_t)partial);
            return _mm256_loadu_si256((const __m256i *)t);
        }
        return _mm256_loadu_si256((const __m256i *)(row + (size_t)b * 32));
    }
    __m128i v = _mm_loadu_si128((const __m128i *)(row + (size_t)b * 16));
    __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
    if (fmt == RT_I4) return nib;
    const __m256i lut = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
                                         12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
    return _mm256_shuffle_epi8(lut, nib);
}

static inline __attribute__((always_inline)) __m256i rt_q_idot(__m256i w, __m256i x, int fmt) {
    if (fmt == RT_I8) { x = _mm256_sign_epi8(x, w); w = _mm256_sign_epi8(w, w); }   /* |w| · sign(x, w) */
#ifdef RT_Q_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
#endif
}

static inline __attribute__((always_inline)) float rt_q_e8m0_half(uint8_t e) {
    if (e < 2) return ldexpf(1.0f, (int)e - 128);
    uint32_t u = (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* One row n of W against TT_ tokens (indices ti[], clamped by the caller):
 * out[t] = Σ_b dw·(dx·idot − c).  One sequential weight stream, prefetched
 * ahead; with one token two accumulators alternate over the blocks (the FMA
 * chain would otherwise bound the loop).  Literals after inlining. */
static inline __attribute__((always_inline)) void rt_q_row_x86(const RtLinear *L, const RtQAct *A, const void *w, const float *scale,
                                                               int n, const int *ti, float *out, const int fmt, const int TT_, int b0) {
    int K = L->K, nb = (K + 31) / 32, nbf = K / 32, KP = nb * 32;
    size_t blkb = fmt == RT_I8 ? 32 : 16;
    const uint8_t *wr = (const uint8_t *)w + (size_t)n * (fmt == RT_I8 ? (size_t)K : (size_t)nb * 16);
    const float *sr = scale + (size_t)n * nb;
    const uint16_t *hr = (const uint16_t *)(const void *)scale + (size_t)n * nb;   /* f16 scales */
    const uint8_t *er = (const uint8_t *)scale + (size_t)n * nb;
    const int sf16 = L->scale_f16;
    const int8_t *xq[RT_Q_TT];
    const float *xd[RT_Q_TT], *xc[RT_Q_TT];
    for (int t = 0; t < TT_; t++) {
        xq[t] = A->q + (size_t)ti[t] * KP;
        xd[t] = A->d + (size_t)ti[t] * nb;
        xc[t] = A->c + (size_t)ti[t] * nb;
    }
    __m256 acc[RT_Q_TT + 1];
    float corr[RT_Q_TT];
    for (int t = 0; t <= TT_; t++) acc[t] = _mm256_setzero_ps();
    for (int t = 0; t < TT_; t++) corr[t] = 0.0f;
#define RT_Q_BLOCK(b, wv, slot)                                                                         \
    do {                                                                                                \
        float dw_ = fmt == RT_FMT_MXFP4_ ? rt_q_e8m0_half(er[b]) : sf16 ? rt_q_h2f(hr[b]) : sr[b];      \
        for (int t = 0; t < TT_; t++) {                                                                 \
            __m256i x_ = _mm256_loadu_si256((const __m256i *)(xq[t] + (size_t)(b) * 32));               \
            __m256i d_ = rt_q_idot(wv, x_, fmt);                                                        \
            int a_ = TT_ == 1 ? (slot) : t;                                                             \
            acc[a_] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d_), _mm256_set1_ps(dw_ * xd[t][b]), acc[a_]); \
            if (fmt != RT_I8) corr[t] += dw_ * xc[t][b];                                                \
        }                                                                                               \
    } while (0)
    int b = b0;
    for (; b + 1 < nbf; b += 2) {
        _mm_prefetch((const char *)(wr + (size_t)b * blkb) + 768, _MM_HINT_T0);
        __m256i w0 = rt_q_wblock(wr, b, fmt, 0), w1 = rt_q_wblock(wr, b + 1, fmt, 0);
        RT_Q_BLOCK(b, w0, 0);
        RT_Q_BLOCK(b + 1, w1, 1);
    }
    for (; b < nb; b++) {   /* an odd last full block, and a partial one */
        __m256i wv = rt_q_wblock(wr, b, fmt, b == nbf ? K & 31 : 0);
        RT_Q_BLOCK(b, wv, 0);
    }
#undef RT_Q_BLOCK
    if (TT_ == 1) acc[0] = _mm256_add_ps(acc[0], acc[1]);
    for (int t = 0; t < TT_; t++) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        out[t] = _mm_cvtss_f32(s) - corr[t];
    }
}

#define RT_Q_ROWFN(name, F, TT_)                                                                                  \
    static void name(const RtLinear *L, const RtQAct *A, const void *w, const float *s, int n, const int *ti, float *o, int b0) { \
        rt_q_row_x86(L, A, w, s, n, ti, o, F, TT_, b0);                                                         \
    }
RT_Q_ROWFN(rt_q_row1_i8, RT_I8, 1)
RT_Q_ROWFN(rt_q_row1_i4, RT_I4, 1)
RT_Q_ROWFN(rt_q_row1_mx, RT_FMT_MXFP4_, 1)
RT_Q_ROWFN(rt_q_rowt_i8, RT_I8, RT_Q_TT)
RT_Q_ROWFN(rt_q_rowt_i4, RT_I4, RT_Q_TT)
RT_Q_ROWFN(rt_q_rowt_mx, RT_FMT_MXFP4_, RT_Q_TT)
#undef RT_Q_ROWFN
#endif

/* out[t][r] = Σ_b dw·(dx·idot − c) for rows n0… (≤ 8) and tokens t0… (≤ RT_Q_TT) */
static inline void rt_q_tile(const RtLinear *L, const RtQAct *A, const void *w, const float *scale, int t0, int tt, int n0, int tn,
                             float *out /* [tt][tn] */) {
    int K = L->K, nb = (K + 31) / 32, KP = nb * 32, fmt = L->fmt, tail = K % 32;
    /* int8 rows are K bytes (a partial last block is copied into tailbuf, zero-padded);
     * 4-bit rows are whole blocks of 16 bytes */
    size_t rowb = fmt == RT_I8 ? (size_t)K : (size_t)nb * 16, blkb = fmt == RT_I8 ? 32 : 16;
    uint8_t tailbuf[32] = {0};
    const uint8_t *wr[8];
    for (int r = 0; r < tn; r++) wr[r] = (const uint8_t *)w + (size_t)(n0 + r) * rowb;
#if defined(__ARM_NEON)
    float accf[RT_Q_TT][8] = {{0}};
    const int8x16_t lut = vld1q_s8(rt_e2m1x2);
    for (int b = 0; b < nb; b++) {
        int8x16_t xl[RT_Q_TT], xh[RT_Q_TT];
        for (int t = 0; t < tt; t++) {
            const int8_t *xq = A->q + (size_t)(t0 + t) * KP + b * 32;
            xl[t] = vld1q_s8(xq);
            xh[t] = vld1q_s8(xq + 16);
        }
        for (int r = 0; r < tn; r++) {
            const uint8_t *p = wr[r] + b * blkb;
            if (fmt == RT_I8 && tail && b == nb - 1) { memcpy(tailbuf, p, (size_t)tail); p = tailbuf; }
            float dw = rt_q_wscale(L, scale, n0 + r, b);
            int8x16_t wl, wh;
            if (fmt == RT_I8) { wl = vld1q_s8((const int8_t *)p); wh = vld1q_s8((const int8_t *)p + 16); }
            else {
                uint8x16_t v = vld1q_u8(p);
                uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(v, 4);
                if (fmt == RT_I4) { wl = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8)); wh = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8)); }
                else { wl = vqtbl1q_s8(lut, lo); wh = vqtbl1q_s8(lut, hi); }
            }
            for (int t = 0; t < tt; t++) {
#ifdef __ARM_FEATURE_DOTPROD
                int32x4_t s = vdotq_s32(vdotq_s32(vdupq_n_s32(0), wl, xl[t]), wh, xh[t]);
#else
                int16x8_t p0 = vmull_s8(vget_low_s8(wl), vget_low_s8(xl[t]));
                p0 = vmlal_s8(p0, vget_high_s8(wl), vget_high_s8(xl[t]));
                int16x8_t p1 = vmull_s8(vget_low_s8(wh), vget_low_s8(xh[t]));
                p1 = vmlal_s8(p1, vget_high_s8(wh), vget_high_s8(xh[t]));
                int32x4_t s = vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
#endif
                accf[t][r] += dw * A->d[(size_t)(t0 + t) * nb + b] * (float)vaddvq_s32(s);
            }
        }
    }
    for (int t = 0; t < tt; t++)
        for (int r = 0; r < tn; r++) out[t * tn + r] = accf[t][r];
#else
    for (int t = 0; t < tt; t++)
        for (int r = 0; r < tn; r++) {
            const int8_t *xq = A->q + (size_t)(t0 + t) * KP;
            float s = 0.0f;
            for (int b = 0; b < nb; b++) {
                const uint8_t *p = wr[r] + b * blkb;
                if (fmt == RT_I8 && tail && b == nb - 1) { memcpy(tailbuf, p, (size_t)tail); p = tailbuf; }
                const int8_t *xb = xq + b * 32;
                int32_t d = 0;
                if (fmt == RT_I8)
                    for (int i = 0; i < 32; i++) d += (int32_t)(int8_t)p[i] * xb[i];
                else
                    for (int j = 0; j < 16; j++) {
                        int lo = p[j] & 15, hi = p[j] >> 4;
                        int wl = fmt == RT_I4 ? lo - 8 : rt_e2m1x2[lo], wh = fmt == RT_I4 ? hi - 8 : rt_e2m1x2[hi];
                        d += wl * xb[j] + wh * xb[16 + j];
                    }
                s += rt_q_wscale(L, scale, n0 + r, b) * A->d[(size_t)(t0 + t) * nb + b] * (float)d;
            }
            out[t * tn + r] = s;
        }
#endif
}

/* Decode row n of a quantised [N][K] matrix to f32: embedding lookups of
 * `archc quantize --quantize-embeddings` checkpoints, MLA's kv_b rows. */
static inline void rt_q_row_to_f32(const void *w, const float *scale, int fmt, int scale_f16, int K, int n, float *out) {
    RtLinear L;
    memset(&L, 0, sizeof L);
    L.K = K;
    L.fmt = fmt;
    L.scale_f16 = scale_f16;
    int nb = (K + 31) / 32;
    if (fmt == RT_I8) {
        const int8_t *row = (const int8_t *)w + (size_t)n * K;
        int b = 0;
#if defined(__AVX2__)
        for (; b < K / 32; b++) {   /* whole blocks, 8 values per step */
            __m256 d = _mm256_set1_ps(rt_q_wscale(&L, scale, n, b));
            for (int i = b * 32; i < b * 32 + 32; i += 8)
                _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(row + i)))), d));
        }
#endif
        for (; b < nb; b++) {
            float d = rt_q_wscale(&L, scale, n, b);
            for (int i = b * 32; i < K && i < b * 32 + 32; i++) out[i] = (float)row[i] * d;
        }
        return;
    }
    const uint8_t *row = (const uint8_t *)w + (size_t)n * nb * 16;
    int b = 0;
#if defined(__AVX2__)
    /* whole blocks 16 bytes at a time: nibbles to int8 (int4: − 8; MXFP4: the
     * ×2 table by vpshufb), interleaved back into element order (low nibble =
     * even element), widened to f32 and scaled.  MLA decode turns every kv_b
     * row to f32 per step (rt_mla_row): one element at a time this was 44% of
     * a 4-bit DeepSeek-shaped decode. */
    const __m128i m0f = _mm_set1_epi8(0x0F), lut = fmt == RT_I4 ? _mm_setr_epi8(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7)
                                                                : _mm_loadu_si128((const __m128i *)(const void *)rt_e2m1x2);
    for (; b < K / 32; b++) {
        __m256 d = _mm256_set1_ps(rt_q_wscale(&L, scale, n, b));
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(row + (size_t)b * 16));
        __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(v, m0f)), hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(v, 4), m0f));
        __m128i e[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)};   /* elements 0-15, 16-31 */
        float *o = out + (size_t)b * 32;
        for (int h = 0; h < 2; h++) {
            _mm256_storeu_ps(o + 16 * h, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e[h])), d));
            _mm256_storeu_ps(o + 16 * h + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(e[h], 8))), d));
        }
    }
#endif
    for (; b < nb; b++) {
        float d = rt_q_wscale(&L, scale, n, b);   /* MXFP4: halved, the table holds values ×2 */
        for (int j = 0; j < 16; j++) {
            int lo = row[b * 16 + j] & 15, hi = row[b * 16 + j] >> 4, i = b * 32 + 2 * j;
            float vl = fmt == RT_I4 ? (float)(lo - 8) : (float)rt_e2m1x2[lo], vh = fmt == RT_I4 ? (float)(hi - 8) : (float)rt_e2m1x2[hi];
            if (i < K) out[i] = vl * d;
            if (i + 1 < K) out[i + 1] = vh * d;
        }
    }
}

typedef struct RtQJob { const RtLinear *L; const RtQAct *A; } RtQJob;

/* Where rows n[0 … R−1] of w and their block scales start (sr: f32 or f16
 * scales, as L->scale_f16 says; er: MXFP4's e8m0 bytes) */
static inline void rt_qv_rows_at(const RtLinear *L, const void *w, const float *scale, const int *n, int R, int fmt,
                                 const uint8_t **wr, const void **sr, const uint8_t **er) {
    int K = L->K, nb = (K + 31) / 32;
    for (int r = 0; r < R; r++) {
        wr[r] = (const uint8_t *)w + (size_t)n[r] * (fmt == RT_I8 ? (size_t)K : (size_t)nb * 16);
        sr[r] = (const char *)scale + (size_t)n[r] * nb * (L->scale_f16 ? 2 : 4);
        er[r] = (const uint8_t *)scale + (size_t)n[r] * nb;
    }
}

/* The decode GEMV's entry points (RT_Q_GEMV): one row (R = 1) and two rows
 * side by side (R = 2), per format, over blocks [0, nv), from the ISA's kernel */
#define RT_QV_GEMV_FNS(SUF, FMT, GEMV)                                                                               \
    static void rt_qv_gemv1_##SUF(const RtLinear *L, const RtQAct *A, const void *w, const float *s, const int *n, int nv, float *o) { \
        GEMV(L, A, w, s, n, nv, FMT, 1, o);                                                                          \
    }                                                                                                                \
    static void rt_qv_gemv2_##SUF(const RtLinear *L, const RtQAct *A, const void *w, const float *s, const int *n, int nv, float *o) { \
        GEMV(L, A, w, s, n, nv, FMT, 2, o);                                                                          \
    }

#if defined(RT_Q_X86) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512F__)
/* AVX-512 VNNI (zmm).  Both kernels give the weights as the unsigned operand of
 * vpdpbusd: int8 as w + 128 (one xor), int4 as the nibble (w + 8), MXFP4 as
 * 2·value + 12; the offset times Σ q_x is removed per block (c, s of RtQAct).
 *
 * Decode (T = 1), row by row: one 64-byte load holds two int8 blocks or four
 * int4 / MXFP4 blocks (the activations are laid out to match: RT_QL_G4), one
 * vpdpbusd (4-bit: two, low and high nibbles; MXFP4 codes become 2·value + 12
 * through one vpshufb each, the exponents 2^(e−128) through vscalefps) gives
 * 16 int32 lanes of which each block
 * owns 8 (4), and the per-block scales d_w·d_x, computed 16 blocks at a time
 * with one multiply, are spread over the lanes with one vpermps before the FMA.
 * About 5 instructions per 64 weights, where one block at a time took 10 per 32.
 * Blocks from nv on (a partial block, an odd one) go through rt_q_row_x86.
 *
 * Prefill (T ≥ RT_QG_MIN_T): panels of 16 rows are repacked per call into
 * P[b][g][r] = bytes 4g…4g+3 of block b of row r (offset applied, nibbles
 * spread to bytes), so one vpdpbusd of the panel vector with the broadcast
 * activation dword of one token adds 4 k for 16 rows, and a block's scales of
 * the 16 rows are one vector S[b][r].  Per token and block: 8 vpdpbusd into an
 * int32 accumulator started at −offset·Σq, one convert, one multiply
 * S[b]·d_x, one FMA.  RT_QG_TT tokens share each panel load (4 when fewer
 * are left).  The pack (per block, 16 rows × 8 dwords transposed in
 * registers) goes into a thread-local buffer grown once; it is paid once per
 * panel per call, so even T = 2 gains over the row kernel (a 3072×1024 GLU,
 * one thread: T = 2 0.69 → 0.39 ms, T = 128 34 → 115–125 GMAC/s, bench/quant_gemm.c).
 * The epilogue runs on 16 outputs at a time with the same roundings. */
#define RT_Q_Z 1
#define RT_Q_GEMV 1        /* a decode GEMV: rt_qv_gemv1_* / rt_qv_gemv2_* over blocks [0, rt_qv_nv) */
#define RT_QV_I8_OFF 128   /* int8 activations: the weights are read as w + 128 */
#ifndef RT_QG_MIN_T
#define RT_QG_MIN_T 2
#endif
#define RT_QG_TT 8

static inline int rt_qv_nv(const RtLinear *L) {
    int nbf = L->K / 32;
    return L->fmt == RT_I8 ? nbf & ~1 : L->fmt == RT_I4 || L->fmt == RT_FMT_MXFP4_ ? nbf & ~3 : 0;
}

/* Σ over blocks [0, nv) (nv as rt_qv_nv) of rows n[0 … R−1], R = 1, 2 or 4,
 * into out[r]: R rows read side by side (R sequential streams at once, see
 * rt_two_streams), each with the arithmetic of the one-row case. */
static inline __attribute__((always_inline)) void rt_qz_gemv(const RtLinear *L, const RtQAct *A, const void *w, const float *scale,
                                                             const int *n, int nv, const int fmt, const int R, float *out) {
    const uint8_t *wr[4];
    const void *sr[4];      /* int8 / int4: f32 or f16 scales */
    const uint8_t *er[4];   /* MXFP4: e8m0 exponents   */
    const int sf16 = L->scale_f16;
    rt_qv_rows_at(L, w, scale, n, R, fmt, wr, sr, er);
    /* MXFP4: code → 2·value + 12 (unsigned, for vpdpbusd), per 128-bit lane */
    const __m512i mxlut = _mm512_broadcast_i32x4(_mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
    /* the rows' accumulators as named variables, not an array indexed by the
     * row: gcc kept acc[r][·] on the stack (an FMA → store → load chain per
     * step; int4 ran at 60% of clang's speed from L2), clang did not */
    __m512 a00, a01, a02, a03, c0, a10, a11, a12, a13, c1, a20, a21, a22, a23, c2, a30, a31, a32, a33, c3;
    a00 = a01 = a02 = a03 = c0 = a10 = a11 = a12 = a13 = c1 = _mm512_setzero_ps();
    a20 = a21 = a22 = a23 = c2 = a30 = a31 = a32 = a33 = c3 = _mm512_setzero_ps();
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i idx8 = _mm512_srli_epi32(lanes, 3), idx4 = _mm512_srli_epi32(lanes, 2);
    const __m512i m80 = _mm512_set1_epi8((char)0x80), m0f = _mm512_set1_epi8(0x0F);
#define RT_QZ_STEP8(j, acc)                                                                                          \
    do {                                                                                                             \
        __m512i wv_ = _mm512_xor_si512(_mm512_loadu_si512((const void *)(p + 64 * (j))), m80);                       \
        __m512i dd_ = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv_, _mm512_loadu_si512((const void *)(xp + 64 * (j)))); \
        __m512 sv_ = _mm512_permutexvar_ps(_mm512_add_epi32(idx8, _mm512_set1_epi32(2 * (j))), sc);                 \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dd_), sv_, acc);                                                     \
    } while (0)
#define RT_QZ_STEP4(j, acc)                                                                                          \
    do {                                                                                                             \
        __m512i v_ = _mm512_loadu_si512((const void *)(p + 64 * (j)));                                                \
        __m512i lo_ = _mm512_and_si512(v_, m0f), hi_ = _mm512_and_si512(_mm512_srli_epi16(v_, 4), m0f);               \
        if (fmt == RT_FMT_MXFP4_) { lo_ = _mm512_shuffle_epi8(mxlut, lo_); hi_ = _mm512_shuffle_epi8(mxlut, hi_); }   \
        __m512i dd_ = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo_, _mm512_loadu_si512((const void *)(xp + 128 * (j)))); \
        dd_ = _mm512_dpbusd_epi32(dd_, hi_, _mm512_loadu_si512((const void *)(xp + 128 * (j) + 64)));                 \
        __m512 sv_ = _mm512_permutexvar_ps(_mm512_add_epi32(idx4, _mm512_set1_epi32(4 * (j))), sc);                 \
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dd_), sv_, acc);                                                     \
    } while (0)
    /* row r's 16 blocks from b0 (m of them), into its accumulators A0 … A3 and correction C */
#define RT_QZ_ROW(r, A0, A1, A2, A3, C)                                                                              \
    do {                                                                                                             \
        __m512 dw;                                                                                                   \
        if (fmt == RT_FMT_MXFP4_)   /* 2^(e − 127), halved (the table holds values × 2): exact, subnormals included */ \
            dw = _mm512_scalef_ps(_mm512_set1_ps(1.0f), _mm512_cvtepi32_ps(_mm512_sub_epi32(                          \
                                      _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, er[r] + b0)), _mm512_set1_epi32(128)))); \
        else if (sf16)   /* 16 f16 scales, one vcvtph2ps */                                                          \
            dw = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, (const uint16_t *)sr[r] + b0));                         \
        else                                                                                                         \
            dw = _mm512_maskz_loadu_ps(k, (const float *)sr[r] + b0);                                                \
        __m512 sc = _mm512_mul_ps(dw, _mm512_maskz_loadu_ps(k, A->d + b0));                                          \
        C = _mm512_fmadd_ps(dw, _mm512_maskz_loadu_ps(k, A->c + b0), C);                                             \
        if (fmt == RT_I8) {                                                                                          \
            const uint8_t *p = wr[r] + (size_t)b0 * 32;                                                              \
            if (m == 16) {                                                                                           \
                RT_QZ_STEP8(0, A0); RT_QZ_STEP8(1, A1); RT_QZ_STEP8(2, A2); RT_QZ_STEP8(3, A3);                      \
                RT_QZ_STEP8(4, A0); RT_QZ_STEP8(5, A1); RT_QZ_STEP8(6, A2); RT_QZ_STEP8(7, A3);                      \
            } else                                                                                                   \
                for (int j = 0; j < m / 2; j++) RT_QZ_STEP8(j, A0);                                                  \
        } else {                                                                                                     \
            const uint8_t *p = wr[r] + (size_t)b0 * 16;                                                              \
            if (m == 16) {                                                                                           \
                RT_QZ_STEP4(0, A0); RT_QZ_STEP4(1, A1); RT_QZ_STEP4(2, A2); RT_QZ_STEP4(3, A3);                      \
            } else                                                                                                   \
                for (int j = 0; j < m / 4; j++) RT_QZ_STEP4(j, A0);                                                  \
        }                                                                                                            \
    } while (0)
    for (int b0 = 0; b0 < nv; b0 += 16) {
        int m = nv - b0 < 16 ? nv - b0 : 16;
        __mmask16 k = (__mmask16)(m == 16 ? 0xFFFFu : (1u << m) - 1);
        const int8_t *xp = A->q + (size_t)b0 * 32;
        RT_QZ_ROW(0, a00, a01, a02, a03, c0);
        if (R > 1) RT_QZ_ROW(1, a10, a11, a12, a13, c1);
        if (R > 2) RT_QZ_ROW(2, a20, a21, a22, a23, c2);
        if (R > 3) RT_QZ_ROW(3, a30, a31, a32, a33, c3);
    }
#undef RT_QZ_ROW
#undef RT_QZ_STEP8
#undef RT_QZ_STEP4
#define RT_QZ_SUM(A0, A1, A2, A3, C) _mm512_reduce_add_ps(_mm512_sub_ps(_mm512_add_ps(_mm512_add_ps(A0, A1), _mm512_add_ps(A2, A3)), C))
    out[0] = RT_QZ_SUM(a00, a01, a02, a03, c0);
    if (R > 1) out[1] = RT_QZ_SUM(a10, a11, a12, a13, c1);
    if (R > 2) out[2] = RT_QZ_SUM(a20, a21, a22, a23, c2);
    if (R > 3) out[3] = RT_QZ_SUM(a30, a31, a32, a33, c3);
#undef RT_QZ_SUM
}

RT_QV_GEMV_FNS(i8, RT_I8, rt_qz_gemv)
RT_QV_GEMV_FNS(i4, RT_I4, rt_qz_gemv)
RT_QV_GEMV_FNS(mx, RT_FMT_MXFP4_, rt_qz_gemv)
/* four rows side by side (rt_q_nstreams) */
#define RT_QV_GEMV4 1
static void rt_qv_gemv4_i8(const RtLinear *L, const RtQAct *A, const void *w, const float *s, const int *n, int nv, float *o) { rt_qz_gemv(L, A, w, s, n, nv, RT_I8, 4, o); }
static void rt_qv_gemv4_i4(const RtLinear *L, const RtQAct *A, const void *w, const float *s, const int *n, int nv, float *o) { rt_qz_gemv(L, A, w, s, n, nv, RT_I4, 4, o); }
static void rt_qv_gemv4_mx(const RtLinear *L, const RtQAct *A, const void *w, const float *s, const int *n, int nv, float *o) { rt_qz_gemv(L, A, w, s, n, nv, RT_FMT_MXFP4_, 4, o); }

/* Pack rows n0 … n0+15 of w (rows ≥ N repeat row n0, with scale 0) into
 * P [nb][8][16] u32 and S [nb][16]: per block, the 16 rows' 32 bytes are
 * transposed as 16 × 8 dwords in registers (two 8 × 8 transposes side by side). */
static inline __attribute__((always_inline)) void rt_qz_pack(const RtLinear *L, const void *w, const float *scale, int n0, uint8_t *P, float *S,
                                                             const int fmt) {
    int K = L->K, N = L->N, nb = (K + 31) / 32, nbf = K / 32;
    size_t rowb = fmt == RT_I8 ? (size_t)K : (size_t)nb * 16;
    const uint8_t *row[16];
    for (int r = 0; r < 16; r++) row[r] = (const uint8_t *)w + (size_t)(n0 + r < N ? n0 + r : n0) * rowb;
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < nb; b++)
            S[(size_t)b * 16 + r] = n0 + r >= N ? 0.0f
                                  : fmt == RT_FMT_MXFP4_ ? rt_q_e8m0_half(((const uint8_t *)scale)[(size_t)(n0 + r) * nb + b])
                                                         : rt_q_wscale(L, scale, n0 + r, b);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
    const __m512i m0f = _mm512_set1_epi8(0x0F);
    const __m512i i01 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), i23 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    const __m512i c04 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), c15 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int b = 0; b < nb; b++) {
        __m512i z[8];   /* z[i] = dwords 0…7 of row i, then of row i + 8 */
        if (fmt == RT_I8) {
            __mmask32 m = b < nbf ? 0xFFFFFFFFu : (__mmask32)((1u << (K & 31)) - 1);
            for (int i = 0; i < 8; i++)
                z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(m, row[i] + (size_t)b * 32)),
                                          _mm256_maskz_loadu_epi8(m, row[i + 8] + (size_t)b * 32), 1);
        } else
            for (int i = 0; i < 8; i += 2) {   /* rows i, i+8, i+1, i+9 */
                __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[i] + (size_t)b * 16)));
                v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[i + 8] + (size_t)b * 16)), 1);
                v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[i + 1] + (size_t)b * 16)), 2);
                v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[i + 9] + (size_t)b * 16)), 3);
                __m512i lo = _mm512_and_si512(v, m0f), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m0f);
                __m512i a = _mm512_unpacklo_epi8(lo, hi), c = _mm512_unpackhi_epi8(lo, hi);   /* per lane: k 0…15, k 16…31 */
                if (fmt == RT_FMT_MXFP4_) { a = _mm512_shuffle_epi8(lut, a); c = _mm512_shuffle_epi8(lut, c); }
                z[i] = _mm512_permutex2var_epi64(a, i01, c);
                z[i + 1] = _mm512_permutex2var_epi64(a, i23, c);
            }
        __m512i t[8], u[8];
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
            u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
            u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
            u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        /* u[j] (j < 4), per 128-bit lane: dword j of rows 0–3 | dword j+4 of rows 0–3 | the same of rows 8–11;
         * u[j+4]: rows 4–7 and 12–15 */
        __m512i *d = (__m512i *)(void *)(P + (size_t)b * 512);
        for (int j = 0; j < 4; j++) {
            __m512i o0 = _mm512_permutex2var_epi64(u[j], c04, u[j + 4]), o1 = _mm512_permutex2var_epi64(u[j], c15, u[j + 4]);
            if (fmt == RT_I8) { o0 = _mm512_xor_si512(o0, _mm512_set1_epi8((char)0x80)); o1 = _mm512_xor_si512(o1, _mm512_set1_epi8((char)0x80)); }
            _mm512_store_si512(d + j, o0);
            _mm512_store_si512(d + j + 4, o1);
        }
    }
}

/* out[t][r] (16 rows) = Σ_b S[b][r] · d_x[t][b] · (Σ_g P[b][g][r]·x[t][b][g] − offset·Σq) for RT_QG_TT tokens */
static inline __attribute__((always_inline)) void rt_qz_tile_(const uint8_t *P, const float *S, int nb, const int8_t *const *xq, const float *const *xd,
                                                               const int32_t *const *xs, float *out, const int TT) {
    __m512 acc[RT_QG_TT];
    for (int t = 0; t < TT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const __m512i *pb = (const __m512i *)(const void *)(P + (size_t)b * 512);
        __m512i ai[RT_QG_TT];
        for (int t = 0; t < TT; t++) ai[t] = _mm512_set1_epi32(xs[t][b]);
        for (int g = 0; g < 8; g++) {
            __m512i wv = _mm512_load_si512(pb + g);
            for (int t = 0; t < TT; t++) {
                int32_t xv;
                memcpy(&xv, xq[t] + (size_t)b * 32 + 4 * g, 4);
                ai[t] = _mm512_dpbusd_epi32(ai[t], wv, _mm512_set1_epi32(xv));
            }
        }
        __m512 dw = _mm512_load_ps(S + (size_t)b * 16);
        for (int t = 0; t < TT; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[t]), _mm512_mul_ps(dw, _mm512_set1_ps(xd[t][b])), acc[t]);
    }
    for (int t = 0; t < TT; t++) _mm512_storeu_ps(out + t * 16, acc[t]);
}
static void rt_qz_tile8(const uint8_t *P, const float *S, int nb, const int8_t *const *xq, const float *const *xd, const int32_t *const *xs, float *out) {
    rt_qz_tile_(P, S, nb, xq, xd, xs, out, RT_QG_TT);
}
static void rt_qz_tile4(const uint8_t *P, const float *S, int nb, const int8_t *const *xq, const float *const *xd, const int32_t *const *xs, float *out) {
    rt_qz_tile_(P, S, nb, xq, xd, xs, out, 4);
}

/* panels [pb, pe) of 16 rows, all tokens, with the epilogue of rt_linear_range */
static void rt_qz_gemm_range(void *ctx, int pb, int pe) {
    const RtQJob *J = (const RtQJob *)ctx;
    const RtLinear *L = J->L;
    const RtQAct *A = J->A;
    int K = L->K, nb = (K + 31) / 32, KP = nb * 32, T = L->T, N = L->N, fmt = L->fmt;
    size_t one = (size_t)nb * (512 + 64);
    uint8_t *pk = (uint8_t *)rt_scratch(rt_thread_scratch(RT_TLS_QPACK), 2 * one);   /* grown once per thread, 64-byte aligned */
    uint8_t *Pg = pk, *Pu = pk + one;
    float *Sg = (float *)(void *)(Pg + (size_t)nb * 512), *Su = (float *)(void *)(Pu + (size_t)nb * 512);
    float G[RT_QG_TT * 16], U[RT_QG_TT * 16];
    for (int p = pb; p < pe; p++) {
        int n0 = p * 16, nr = N - n0 < 16 ? N - n0 : 16;
        for (int h = 0; h < (L->w_up ? 2 : 1); h++) {
            const void *w = h ? L->w_up : L->w;
            const float *sc = h ? L->scale_up : L->scale;
            uint8_t *P = h ? Pu : Pg;
            float *S = h ? Su : Sg;
            if (fmt == RT_I8) rt_qz_pack(L, w, sc, n0, P, S, RT_I8);
            else if (fmt == RT_I4) rt_qz_pack(L, w, sc, n0, P, S, RT_I4);
            else rt_qz_pack(L, w, sc, n0, P, S, RT_FMT_MXFP4_);
        }
        for (int t0 = 0; t0 < T; t0 += RT_QG_TT) {
            int tt = T - t0 < RT_QG_TT ? T - t0 : RT_QG_TT;
            const int8_t *xq[RT_QG_TT];
            const float *xd[RT_QG_TT];
            const int32_t *xs[RT_QG_TT];
            for (int t = 0; t < RT_QG_TT; t++) {
                int ti = t0 + (t < tt ? t : tt - 1);
                xq[t] = A->q + (size_t)ti * KP;
                xd[t] = A->d + (size_t)ti * nb;
                xs[t] = A->s + (size_t)ti * nb;
            }
            void (*tile)(const uint8_t *, const float *, int, const int8_t *const *, const float *const *, const int32_t *const *, float *) =
                tt <= 4 ? rt_qz_tile4 : rt_qz_tile8;
            tile(Pg, Sg, nb, xq, xd, xs, G);
            if (L->w_up) tile(Pu, Su, nb, xq, xd, xs, U);
            __mmask16 km = (__mmask16)(nr == 16 ? 0xFFFFu : (1u << nr) - 1);
            __m512 bg = L->b ? _mm512_maskz_loadu_ps(km, L->b + n0) : _mm512_setzero_ps();
            __m512 bu = L->b_up ? _mm512_maskz_loadu_ps(km, L->b_up + n0) : _mm512_setzero_ps();
            for (int t = 0; t < tt; t++) {   /* the epilogue of rt_linear_range, 16 rows at a time (the same roundings) */
                size_t at = (size_t)(t0 + t) * N + n0;
                __m512 v = _mm512_loadu_ps(G + t * 16);
                if (L->b) v = _mm512_add_ps(v, bg);
                if (L->w_up) {
                    __m512 up = _mm512_loadu_ps(U + t * 16);
                    if (L->b_up) up = _mm512_add_ps(up, bu);
                    float g[16];
                    _mm512_storeu_ps(g, v);
                    for (int r = 0; r < nr; r++) g[r] = L->act == RT_ACT_GELU_TANH ? rt_gelu_tanh(g[r]) : rt_silu(g[r]);
                    v = _mm512_mul_ps(_mm512_loadu_ps(g), up);
                }
                if (L->res) v = _mm512_add_ps(_mm512_maskz_loadu_ps(km, L->res + at), v);
                _mm512_mask_storeu_ps(L->y + at, km, v);
            }
        }
    }
}
#elif defined(RT_Q_X86) && defined(__AVX2__) && defined(__FMA__)
/* AVX2 without AVX-512 VNNI (Zen 1–3, Haswell … Alder Lake): the prefill GEMM
 * (T ≥ RT_QY_MIN_T) on panels of 8 rows, repacked per call and thread as the
 * AVX-512 kernel does, with the activations broadcast 4 bytes at a time.
 *
 * 4-bit weights (int4, MXFP4): P[b][g][r] = bytes 4g … 4g+3 of block b of
 * row r as unsigned values (the nibble = w + 8; MXFP4 2·value + 12), so one
 * 32-byte load holds 4 k of 8 rows.  vpmaddubsw of it with a broadcast dword
 * of one token's int8 activations gives 16 int16 pair sums (two per row);
 * |pair| ≤ 2·15·127 = 3810 (MXFP4 2·24·127 = 6096), so 8 (4) of them add in
 * int16 without saturation before one vpmaddwd by 1 widens them to the 8
 * rows' int32 sums; the offset times Σ q_x (RtQAct.s) is added there.
 *
 * int8 weights: w + 128 would saturate vpmaddubsw's pair sums (2·255·127), and
 * the row kernel's sign trick (|w| · sign(x, w)) needs w and x of the same
 * element, so it cannot broadcast x.  Weights and activations are widened to
 * int16 instead (RtQAct.q16): P[b][g][r] = the pair (elements 2g, 2g+1) of
 * row r, one vpmaddwd per pair of 8 rows, exact in int32, no offset.
 *
 * Either way each block's int32 sum is the exact dot product every other path
 * computes; then one convert, one multiply S[b]·d_x, one FMA, the f32 steps
 * of the AVX-512 GEMM.  RT_QY_TT tokens share each panel load.  Measured in
 * docs/kernels.md ("Quantised prefill on AVX2"). */
#define RT_Q_Y 1
#ifndef RT_QY_MIN_T
#define RT_QY_MIN_T 2
#endif
#define RT_QY_TT 4
/* gcc reassociates the unrolled int sums into trees whose products are all
 * live at once and spills them (one Zen 3 core, int8: 22 GMAC/s, 30 with the
 * chain kept); an empty asm that "changes" the accumulator keeps each sum a chain. */
#if defined(__GNUC__)
#define RT_KEEP_ORDER(v) __asm__("" : "+x"(v))
#else
#define RT_KEEP_ORDER(v) ((void)0)
#endif

/* Decode (T = 1) on AVX2, row by row, several blocks per step as the AVX-512
 * GEMV does (rt_q_row_x86 took one block at a time, with a scalar product of
 * the two scales and a broadcast per block: one Zen 3 core ran the int4
 * qwen3-0.6b decode compute-bound, at 7 GB/s of a 13–17 GB/s read ceiling).
 *
 * 4-bit: one 32-byte load holds two blocks' nibbles; with the activations in
 * RT_QL_G4 (the even elements of four blocks, then their odd ones) the low
 * nibbles meet their x in one vpmaddubsw, the high ones in another; their
 * int16 sums add without saturation (|pair| ≤ 3810, MXFP4 6096) and one
 * vpmaddwd by 1 leaves 8 int32 lanes, 4 per block.
 * int8: the sign trick (|w| · sign(x, w)) per block, vpmaddubsw and vpmaddwd
 * give 8 lanes of one block; vphaddd of two blocks leaves 4 lanes each.
 * Either way the blocks' scales d_w·d_x are computed 8 blocks at a time with
 * one multiply, and one vpermps spreads them over the lanes before the FMA.
 * Blocks from nv on (a partial block, an odd one) go through rt_q_row_x86. */
#define RT_Q_GEMV 1
#define RT_QV_I8_OFF 0   /* int8 activations: no offset (the sign trick) */
static inline int rt_qv_nv(const RtLinear *L) {
    int nbf = L->K / 32;
    return L->fmt == RT_I8 ? nbf & ~1 : nbf & ~3;
}

/* 8 block scales d_w (blocks b0 … b0+m−1, zero after) of one row */
static inline __attribute__((always_inline)) __m256 rt_qy_dw8(const void *sv, const uint8_t *er, int b0, int m, const int fmt, int sf16) {
    if (fmt == RT_FMT_MXFP4_) {   /* 2^(e − 128) (the table holds values × 2): (e − 1) << 23, or the subnormal 2^21 << e for e < 2 */
        uint8_t eb[8] = {0};
        memcpy(eb, er + b0, (size_t)m);
        __m256i e = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)eb));
        __m256i nrm = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
        __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
        __m256 v = _mm256_castsi256_ps(_mm256_blendv_epi8(sub, nrm, _mm256_cmpgt_epi32(e, _mm256_set1_epi32(1))));
        return m == 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))));
    }
    if (sf16) {   /* f16 scales: 8 of them converted by one vcvtph2ps (F16C, on every AVX2 CPU) */
        uint16_t hb[8] = {0};
        memcpy(hb, (const uint16_t *)sv + b0, (size_t)m * 2);
#if defined(__F16C__)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)hb));
#else
        float f[8];
        for (int i = 0; i < 8; i++) f[i] = rt_f16(hb[i]);
        return _mm256_loadu_ps(f);
#endif
    }
    const float *sr = (const float *)sv;
    if (m == 8) return _mm256_loadu_ps(sr + b0);
    return _mm256_maskload_ps(sr + b0, _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

/* The int32 lane sums of blocks b, b + 1 of one row against x (xp: the
 * activations of the 8-block step; j: the pair within it): 4-bit [b ×4, b+1 ×4],
 * int8 after vphaddd [b b b+1 b+1] ×2 */
static inline __attribute__((always_inline)) __m256i rt_qy_pair(const uint8_t *wr, const int8_t *xp, int b, int j, const int fmt) {
    const __m256i m0f = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    if (fmt == RT_I8) {
        const uint8_t *p = wr + (size_t)b * 32;
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)p), w1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)(xp + 64 * j)), x1 = _mm256_loadu_si256((const __m256i *)(const void *)(xp + 64 * j + 32));
        __m256i d0 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w0), _mm256_sign_epi8(x0, w0)), ones);
        __m256i d1 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w1), _mm256_sign_epi8(x1, w1)), ones);
        return _mm256_hadd_epi32(d0, d1);
    }
    const __m256i mxlut = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
                                           12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(wr + (size_t)b * 16));
    __m256i lo = _mm256_and_si256(v, m0f), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f);
    if (fmt == RT_FMT_MXFP4_) { lo = _mm256_shuffle_epi8(mxlut, lo); hi = _mm256_shuffle_epi8(mxlut, hi); }
    const int8_t *g = xp + 128 * (j / 2) + 32 * (j & 1);   /* the G4 group: even elements, odd ones 64 bytes on */
    __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)g)),
                                   _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(g + 64))));
    return _mm256_madd_epi16(s16, ones);
}

/* Σ over blocks [0, nv) of rows n[0 … R−1], R = 1 or 2 (read side by side,
 * see rt_two_streams), into out[r].  Full steps of 8 blocks are unrolled with
 * the rows inner, two accumulators per row (pairs 0, 2 and 1, 3): with a loop
 * over the pairs, acc[r][j & 1] was kept on the stack by gcc, an FMA → store
 * → load chain per pair. */
static inline __attribute__((always_inline)) void rt_qy_gemv(const RtLinear *L, const RtQAct *A, const void *w, const float *scale,
                                                             const int *n, int nv, const int fmt, const int R, float *out) {
    const uint8_t *wr[2];
    const void *sr[2];      /* int8 / int4: f32 or f16 scales */
    const uint8_t *er[2];   /* MXFP4: e8m0 exponents   */
    rt_qv_rows_at(L, w, scale, n, R, fmt, wr, sr, er);
    /* lane → block of a step's pair (2j, 2j+1): 4-bit [2j ×4, 2j+1 ×4]; int8 after vphaddd [2j 2j 2j+1 2j+1] ×2 */
    const __m256i pair = fmt == RT_I8 ? _mm256_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1) : _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256 acc0[2], acc1[2], corr[2];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = corr[r] = _mm256_setzero_ps();
#define RT_QY_PAIR(J, ACC)                                                                                             \
    do {                                                                                                               \
        __m256i sel_ = _mm256_add_epi32(pair, _mm256_set1_epi32(2 * (J)));                                             \
        for (int r = 0; r < R; r++)                                                                                    \
            ACC[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(rt_qy_pair(wr[r], xp, b0 + 2 * (J), (J), fmt)),                \
                                     _mm256_permutevar8x32_ps(sc[r], sel_), ACC[r]);                                   \
    } while (0)
    for (int b0 = 0; b0 < nv; b0 += 8) {
        int m = nv - b0 < 8 ? nv - b0 : 8;   /* a multiple of 2 (int8) or 4 */
        __m256i lm = _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 dx = _mm256_maskload_ps(A->d + b0, lm), sc[2];
        const int8_t *xp = A->q + (size_t)b0 * 32;
        for (int r = 0; r < R; r++) {
            __m256 dw = rt_qy_dw8(sr[r], er[r], b0, m, fmt, L->scale_f16);
            sc[r] = _mm256_mul_ps(dw, dx);
            if (fmt != RT_I8) corr[r] = _mm256_fmadd_ps(dw, _mm256_maskload_ps(A->c + b0, lm), corr[r]);
        }
        if (m == 8) {
            RT_QY_PAIR(0, acc0);
            RT_QY_PAIR(1, acc1);
            RT_QY_PAIR(2, acc0);
            RT_QY_PAIR(3, acc1);
        } else {
            for (int j = 0; j < m / 2; j++) RT_QY_PAIR(j, acc0);
        }
    }
#undef RT_QY_PAIR
    for (int r = 0; r < R; r++) {
        __m256 s8 = _mm256_sub_ps(_mm256_add_ps(acc0[r], acc1[r]), corr[r]);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        out[r] = _mm_cvtss_f32(s);
    }
}
RT_QV_GEMV_FNS(i8, RT_I8, rt_qy_gemv)
RT_QV_GEMV_FNS(i4, RT_I4, rt_qy_gemv)
RT_QV_GEMV_FNS(mx, RT_FMT_MXFP4_, rt_qy_gemv)

/* z[r] = 8 dwords of row r (r < 8)  →  d[g] = dword g of rows 0 … 7 */
static inline __attribute__((always_inline)) void rt_qy_transpose8(const __m256i z[8], __m256i *d) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(z[i], z[i + 1]);       /* rows i, i+1: dwords 0, 1 | 4, 5 */
        t[i + 1] = _mm256_unpackhi_epi32(z[i], z[i + 1]);   /*              dwords 2, 3 | 6, 7 */
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);           /* rows i … i+3: dword 0 | 4 */
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);       /*               dword 1 | 5 */
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);   /*               dword 2 | 6 */
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);   /*               dword 3 | 7 */
    }
    for (int g = 0; g < 4; g++) {
        _mm256_store_si256(d + g, _mm256_permute2x128_si256(u[g], u[g + 4], 0x20));
        _mm256_store_si256(d + g + 4, _mm256_permute2x128_si256(u[g], u[g + 4], 0x31));
    }
}

/* Rows n0 … n0+7 of w (rows ≥ N repeat row n0, scale 0) into P, S [nb][8]:
 * int8  P [nb][16][8] int16 pairs (512 bytes a block);
 * 4-bit P [nb][8][8] u8 quads (256 bytes a block). */
static inline __attribute__((always_inline)) void rt_qy_pack(const RtLinear *L, const void *w, const float *scale, int n0, uint8_t *P, float *S,
                                                             const int fmt) {
    int K = L->K, N = L->N, nb = (K + 31) / 32, nbf = K / 32;
    size_t rowb = fmt == RT_I8 ? (size_t)K : (size_t)nb * 16;
    const uint8_t *row[8];
    for (int r = 0; r < 8; r++) row[r] = (const uint8_t *)w + (size_t)(n0 + r < N ? n0 + r : n0) * rowb;
    for (int r = 0; r < 8; r++)
        for (int b = 0; b < nb; b++) S[(size_t)b * 8 + r] = n0 + r >= N ? 0.0f : rt_q_wscale(L, scale, n0 + r, b);
    const __m128i lut = _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0), m0f = _mm_set1_epi8(0x0F);
    for (int b = 0; b < nb; b++) {
        __m256i lo[8], hi[8];
        for (int r = 0; r < 8; r++) {
            if (fmt == RT_I8) {   /* elements 0–15 and 16–31 as int16 */
                const uint8_t *p = row[r] + (size_t)b * 32;
                uint8_t t[32];
                if (b == nbf) { memset(t, 0, sizeof t); memcpy(t, p, (size_t)(K & 31)); p = t; }   /* a partial last block: zero-padded */
                lo[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
                hi[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
            } else {   /* byte j: element 2j in the low nibble, 2j+1 in the high one → the 32 unsigned values in order */
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(row[r] + (size_t)b * 16));
                __m128i l = _mm_and_si128(v, m0f), h = _mm_and_si128(_mm_srli_epi16(v, 4), m0f);
                __m128i e0 = _mm_unpacklo_epi8(l, h), e1 = _mm_unpackhi_epi8(l, h);
                if (fmt == RT_FMT_MXFP4_) { e0 = _mm_shuffle_epi8(lut, e0); e1 = _mm_shuffle_epi8(lut, e1); }
                lo[r] = _mm256_set_m128i(e1, e0);
            }
        }
        if (fmt == RT_I8) {
            __m256i *d = (__m256i *)(void *)(P + (size_t)b * 512);
            rt_qy_transpose8(lo, d);
            rt_qy_transpose8(hi, d + 8);
        } else
            rt_qy_transpose8(lo, (__m256i *)(void *)(P + (size_t)b * 256));
    }
}

/* out[t][r] (8 rows) = Σ_b S[b][r] · d_x[t][b] · (exact dot of block b) for TT tokens;
 * xq: the tokens' int16 (int8 weights) or int8 (4-bit) activations, xs: −offset·Σq (4-bit) */
static inline __attribute__((always_inline)) void rt_qy_tile_(const uint8_t *P, const float *S, int nb, const void *const *xq, const float *const *xd,
                                                               const int32_t *const *xs, float *out, const int fmt, const int TT) {
    __m256 acc[RT_QY_TT];
    const __m256i ones = _mm256_set1_epi16(1);
    RT_UNROLL for (int t = 0; t < TT; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i ai[RT_QY_TT];
        if (fmt == RT_I8) {
            const __m256i *pb = (const __m256i *)(const void *)(P + (size_t)b * 512);
            RT_UNROLL for (int t = 0; t < TT; t++) ai[t] = _mm256_setzero_si256();
            RT_UNROLL for (int g = 0; g < 16; g++) {
                __m256i wv = _mm256_load_si256(pb + g);
                RT_UNROLL for (int t = 0; t < TT; t++) {
                    int32_t xv;
                    memcpy(&xv, (const int16_t *)xq[t] + (size_t)b * 32 + 2 * g, 4);
                    ai[t] = _mm256_add_epi32(_mm256_madd_epi16(wv, _mm256_set1_epi32(xv)), ai[t]);
                }
                RT_UNROLL for (int t = 0; t < TT; t++) RT_KEEP_ORDER(ai[t]);
            }
        } else {
            const __m256i *pb = (const __m256i *)(const void *)(P + (size_t)b * 256);
            const int H = fmt == RT_I4 ? 8 : 4;   /* int16 sums that cannot saturate */
            RT_UNROLL for (int t = 0; t < TT; t++) ai[t] = _mm256_set1_epi32(xs[t][b]);
            RT_UNROLL for (int h = 0; h < 8; h += H) {
                __m256i a16[RT_QY_TT];
                RT_UNROLL for (int t = 0; t < TT; t++) a16[t] = _mm256_setzero_si256();
                RT_UNROLL for (int g = h; g < h + H; g++) {
                    __m256i wv = _mm256_load_si256(pb + g);
                    RT_UNROLL for (int t = 0; t < TT; t++) {
                        int32_t xv;
                        memcpy(&xv, (const int8_t *)xq[t] + (size_t)b * 32 + 4 * g, 4);
                        a16[t] = _mm256_add_epi16(_mm256_maddubs_epi16(wv, _mm256_set1_epi32(xv)), a16[t]);
                    }
                    RT_UNROLL for (int t = 0; t < TT; t++) RT_KEEP_ORDER(a16[t]);
                }
                RT_UNROLL for (int t = 0; t < TT; t++) ai[t] = _mm256_add_epi32(ai[t], _mm256_madd_epi16(a16[t], ones));
            }
        }
        __m256 dw = _mm256_load_ps(S + (size_t)b * 8);
        RT_UNROLL for (int t = 0; t < TT; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ai[t]), _mm256_mul_ps(dw, _mm256_set1_ps(xd[t][b])), acc[t]);
    }
    RT_UNROLL for (int t = 0; t < TT; t++) _mm256_storeu_ps(out + t * 8, acc[t]);
}
typedef void (*RtQyTile)(const uint8_t *, const float *, int, const void *const *, const float *const *, const int32_t *const *, float *);
#define RT_QY_TILE_FNS(SUF, FMT)                                                                                     \
    static void rt_qy_tile4_##SUF(const uint8_t *P, const float *S, int nb, const void *const *xq, const float *const *xd, \
                                  const int32_t *const *xs, float *out) { rt_qy_tile_(P, S, nb, xq, xd, xs, out, FMT, 4); } \
    static void rt_qy_tile2_##SUF(const uint8_t *P, const float *S, int nb, const void *const *xq, const float *const *xd, \
                                  const int32_t *const *xs, float *out) { rt_qy_tile_(P, S, nb, xq, xd, xs, out, FMT, 2); } \
    static void rt_qy_tile1_##SUF(const uint8_t *P, const float *S, int nb, const void *const *xq, const float *const *xd, \
                                  const int32_t *const *xs, float *out) { rt_qy_tile_(P, S, nb, xq, xd, xs, out, FMT, 1); }
RT_QY_TILE_FNS(i8, RT_I8)
RT_QY_TILE_FNS(i4, RT_I4)
RT_QY_TILE_FNS(mx, RT_FMT_MXFP4_)
#undef RT_QY_TILE_FNS
static const RtQyTile rt_qy_tiles[3][3] = {{rt_qy_tile1_i8, rt_qy_tile2_i8, rt_qy_tile4_i8},
                                           {rt_qy_tile1_i4, rt_qy_tile2_i4, rt_qy_tile4_i4},
                                           {rt_qy_tile1_mx, rt_qy_tile2_mx, rt_qy_tile4_mx}};

/* panels [pb, pe) of 8 rows, all tokens, with the epilogue of rt_linear_range */
static void rt_qy_gemm_range(void *ctx, int pb, int pe) {
    const RtQJob *J = (const RtQJob *)ctx;
    const RtLinear *L = J->L;
    const RtQAct *A = J->A;
    int K = L->K, nb = (K + 31) / 32, KP = nb * 32, T = L->T, N = L->N, fmt = L->fmt;
    size_t one = (size_t)nb * (512 + 32);   /* bytes of one panel and its scales (4-bit panels use half) */
    uint8_t *pk = (uint8_t *)rt_scratch(rt_thread_scratch(RT_TLS_QPACK), 2 * one);   /* grown once per thread, 64-byte aligned */
    uint8_t *Pg = pk, *Pu = pk + one;
    float *Sg = (float *)(void *)(Pg + (size_t)nb * 512), *Su = (float *)(void *)(Pu + (size_t)nb * 512);
    const RtQyTile *tiles = rt_qy_tiles[fmt == RT_I8 ? 0 : fmt == RT_I4 ? 1 : 2];
    float G[RT_QY_TT * 8], U[RT_QY_TT * 8];
    for (int p = pb; p < pe; p++) {
        int n0 = p * 8, nr = N - n0 < 8 ? N - n0 : 8;
        for (int h = 0; h < (L->w_up ? 2 : 1); h++) {
            const void *w = h ? L->w_up : L->w;
            const float *sc = h ? L->scale_up : L->scale;
            if (fmt == RT_I8) rt_qy_pack(L, w, sc, n0, h ? Pu : Pg, h ? Su : Sg, RT_I8);
            else if (fmt == RT_I4) rt_qy_pack(L, w, sc, n0, h ? Pu : Pg, h ? Su : Sg, RT_I4);
            else rt_qy_pack(L, w, sc, n0, h ? Pu : Pg, h ? Su : Sg, RT_FMT_MXFP4_);
        }
        for (int t0 = 0; t0 < T; t0 += RT_QY_TT) {
            int tt = T - t0 < RT_QY_TT ? T - t0 : RT_QY_TT;
            const void *xq[RT_QY_TT];
            const float *xd[RT_QY_TT];
            const int32_t *xs[RT_QY_TT];
            for (int t = 0; t < RT_QY_TT; t++) {
                int ti = t0 + (t < tt ? t : tt - 1);
                xq[t] = fmt == RT_I8 ? (const void *)(A->q16 + (size_t)ti * KP) : (const void *)(A->q + (size_t)ti * KP);
                xd[t] = A->d + (size_t)ti * nb;
                xs[t] = A->s + (size_t)ti * nb;
            }
            RtQyTile tile = tiles[tt == 1 ? 0 : tt == 2 ? 1 : 2];   /* tt = 3 runs the 4-token tile, its last token twice */
            tile(Pg, Sg, nb, xq, xd, xs, G);
            if (L->w_up) tile(Pu, Su, nb, xq, xd, xs, U);
            for (int t = 0; t < tt; t++)
                for (int r = 0; r < nr; r++) rt_linear_out(L, t0 + t, n0 + r, G[t * 8 + r], L->w_up ? U[t * 8 + r] : 0.0f);
        }
    }
}
#endif

/* out[t] for row n of w and tokens t0 … t0+tt−1 (tt ≤ RT_Q_TT) */
static inline void rt_q_row(const RtLinear *L, const RtQAct *A, const void *w, const float *scale, int n, int t0, int tt, float *out) {
#ifdef RT_Q_X86
    int ti[RT_Q_TT];
    float o[RT_Q_TT];
    int fmt = L->fmt;
    if (tt == 1) {
        ti[0] = t0;
        (fmt == RT_I8 ? rt_q_row1_i8 : fmt == RT_I4 ? rt_q_row1_i4 : rt_q_row1_mx)(L, A, w, scale, n, ti, out, 0);
        return;
    }
    for (int t = 0; t < RT_Q_TT; t++) ti[t] = t0 + (t < tt ? t : tt - 1);
    (fmt == RT_I8 ? rt_q_rowt_i8 : fmt == RT_I4 ? rt_q_rowt_i4 : rt_q_rowt_mx)(L, A, w, scale, n, ti, o, 0);
    for (int t = 0; t < tt; t++) out[t] = o[t];
#else
    rt_q_tile(L, A, w, scale, t0, tt, n, 1, out);
#endif
}

/* The i-th of the rows [b, e) in decode order: the two halves of the range side
 * by side (the first half's row 0, the second half's row 0, the first's row 1,
 * …), so one core reads the weights as two sequential streams at once; with one
 * stream the prefetchers idled at every short row's start.  Decode GEMV out of
 * cache, one thread, K = 1024, interleaved: int8 21.6–22.1 → 26.7–27.0 GB/s,
 * int4 21.7–22.4 → 25.7–26.1 (the same order for bf16's 8-row tiles measured
 * 5% slower: not used there).  In the model (qwen3-0.6b decode, interleaved):
 * int8 1 thread 29.3–31.2 → 33.6–34.7 tok/s, 2 threads 50.1–53.4 → 53.7–59.4;
 * int4, whose software prefetch of the next rows no longer pointed at the row
 * read next and was dropped, 51.7–51.8 → 55.7–56.7, 2 threads 73.7–79.0 → 78.6–85.8. */
/* With the VNNI kernels (RT_Q_Z) the two rows are read at the same time
 * (rt_q_rows): qwen3-0.6b decode, one thread, 4 interleaved runs: int8
 * 34.0–34.3 → 34.7–36.0 tok/s, int4 48.3–53.0 → 53.8–56.3, MXFP4 51.4–55.2 →
 * 57.6–59.2 (bit-identical logits). */
static inline int rt_two_streams(int b, int e, int i) {
    int half = (e - b + 1) / 2;
    return b + (i & 1 ? half + i / 2 : i / 2);
}

#ifdef RT_Q_GEMV
/* How many rows a decode thread reads side by side: 2, or 4 with the AVX-512
 * kernel on Intel (as rt_gemv_nstreams for the float formats; its
 * ARCHC_GEMV_STREAMS=4 asks for 4 anywhere the kernel has them, 1 or 2 for 2). */
#ifdef RT_QV_GEMV4
static int rt_q_nstreams_read(void) {
    const char *e = getenv("ARCHC_GEMV_STREAMS");
    int v = e && *e ? atoi(e) : 0;
    return v == 4 ? 4 : v == 1 || v == 2 ? 2 : rt_cpu_vendor_intel() ? 4 : 2;
}
#endif
static inline int rt_q_nstreams(void) {
#ifdef RT_QV_GEMV4
    static int cfg = -1;
    return rt_once(&cfg, rt_q_nstreams_read);
#else
    return 2;
#endif
}
/* Decode: rows n[0 … R−1], R = 1, 2 or 4, side by side (the GEMV: rt_qz_gemv,
 * rt_qy_gemv) into out[r], the blocks from nv on by rt_q_row_x86. */
static inline void rt_q_rows(const RtLinear *L, const RtQAct *A, const void *w, const float *scale, const int *n, int R, float *out) {
    int fmt = L->fmt, nv = rt_qv_nv(L), nb = (L->K + 31) / 32;
#ifdef RT_QV_GEMV4
    if (R == 4) (fmt == RT_I8 ? rt_qv_gemv4_i8 : fmt == RT_I4 ? rt_qv_gemv4_i4 : rt_qv_gemv4_mx)(L, A, w, scale, n, nv, out);
    else
#endif
    if (R == 2) (fmt == RT_I8 ? rt_qv_gemv2_i8 : fmt == RT_I4 ? rt_qv_gemv2_i4 : rt_qv_gemv2_mx)(L, A, w, scale, n, nv, out);
    else (fmt == RT_I8 ? rt_qv_gemv1_i8 : fmt == RT_I4 ? rt_qv_gemv1_i4 : rt_qv_gemv1_mx)(L, A, w, scale, n, nv, out);
    if (nv < nb)
        for (int r = 0; r < R; r++) {
            int ti[1] = {0};
            float tail;
            (fmt == RT_I8 ? rt_q_row1_i8 : fmt == RT_I4 ? rt_q_row1_i4 : rt_q_row1_mx)(L, A, w, scale, n[r], ti, &tail, nv);
            out[r] += tail;
        }
}
#endif

/* Output rows [tb·TN, te·TN), all tokens, with the epilogue of rt_linear_range. */
static void rt_linear_quant_range(void *ctx, int tb, int te) {
    const RtQJob *J = (const RtQJob *)ctx;
    const RtLinear *L = J->L;
    int TN = L->T == 1 ? 8 : RT_Q_TN;
    float g[RT_Q_TT], u[RT_Q_TT] = {0};
    int nb0 = tb * TN, nb1 = te * TN < L->N ? te * TN : L->N;
#ifdef RT_Q_GEMV
    if (L->T == 1) {   /* decode: S parts of the range read side by side (rt_two_streams' order, all at once) */
        int S = rt_q_nstreams(), part = (nb1 - nb0 + S - 1) / S;
        for (int i = 0; i < part; i++) {
            int n[4], R = 0;
            for (int s = 0; s < S; s++)
                if (nb0 + s * part + i < nb1) n[R++] = nb0 + s * part + i;   /* a short last part: fewer rows */
            for (int r0 = 0; r0 < R;) {   /* R = 3: two, then one (each row's sum is the same either way) */
                int r = R - r0 >= S ? S : R - r0 >= 2 ? 2 : 1;
                rt_q_rows(L, J->A, L->w, L->scale, n + r0, r, g + r0);
                if (L->w_up) rt_q_rows(L, J->A, L->w_up, L->scale_up, n + r0, r, u + r0);
                r0 += r;
            }
            for (int r = 0; r < R; r++) rt_linear_out(L, 0, n[r], g[r], u[r]);
        }
        return;
    }
#endif
    for (int i = 0; i < nb1 - nb0; i++) {
        int n = L->T == 1 ? rt_two_streams(nb0, nb1, i) : nb0 + i;   /* decode: two streams (rt_two_streams) */
        for (int t0 = 0; t0 < L->T; t0 += RT_Q_TT) {
            int tt = L->T - t0 < RT_Q_TT ? L->T - t0 : RT_Q_TT;
            rt_q_row(L, J->A, L->w, L->scale, n, t0, tt, g);
            if (L->w_up) rt_q_row(L, J->A, L->w_up, L->scale_up, n, t0, tt, u);
            for (int t = 0; t < tt; t++) rt_linear_out(L, t0 + t, n, g[t], L->w_up ? u[t] : 0.0f);
        }
    }
}

/* y = x·Wᵀ (+b) (+res), or the GLU form, for RT_I8 / RT_I4 / RT_MXFP4 weights. */
static inline void rt_linear_quant(const RtLinear *L) {
    RtQAct act = {0};
    act.buf = rt_thread_scratch(RT_TLS_QACT);   /* grown once, reused by every call of this thread */
    RtQJob J = {L, &act};
#ifdef RT_Q_GEMV
    if (L->T == 1) {
        rt_q_quantise_x(L, &act, L->fmt == RT_I8 ? RT_QL_NAT : RT_QL_G4, L->fmt == RT_I8 ? RT_QV_I8_OFF : rt_q_offset(L->fmt), rt_qv_nv(L));
        rt_parallel_for((L->N + 7) / 8, rt_linear_quant_range, &J);
        return;
    }
#endif
#ifdef RT_Q_Z
    if (L->T >= RT_QG_MIN_T) {
        rt_q_quantise_x(L, &act, RT_QL_NAT, L->fmt == RT_I8 ? 128 : L->fmt == RT_I4 ? 8 : 12, 0);
        rt_parallel_for((L->N + 15) / 16, rt_qz_gemm_range, &J);
        return;
    }
#endif
#ifdef RT_Q_Y
    if (L->T >= RT_QY_MIN_T) {
        rt_q_quantise_x(L, &act, RT_QL_NAT, L->fmt == RT_I4 ? 8 : L->fmt == RT_I8 ? 0 : 12, 0);
        if (L->fmt == RT_I8) {   /* the int16 activations of the int8 kernel */
            size_t n = (size_t)L->T * ((L->K + 31) / 32) * 32;
            act.q16 = (int16_t *)rt_scratch(rt_thread_scratch(RT_TLS_QACT16), n * sizeof(int16_t));
            for (size_t i = 0; i < n; i += 16)
                _mm256_store_si256((__m256i *)(void *)(act.q16 + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(act.q + i))));
        }
        rt_parallel_for((L->N + 7) / 8, rt_qy_gemm_range, &J);
        return;
    }
#endif
    rt_q_quantise_x(L, &act, L->fmt == RT_I8 ? RT_QL_NAT : RT_QL_PERM, rt_q_offset(L->fmt), 0);
    int TN = L->T == 1 ? 8 : RT_Q_TN;
    rt_parallel_for((L->N + TN - 1) / TN, rt_linear_quant_range, &J);
}

#endif
