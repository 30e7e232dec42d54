/*
 * runtime/archc_quant.h — linear layers over `archc quantize` weights, read in
 * place (docs/quantize.md).  Included by archc_kernels.h after RtLinear;
 * rt_linear hands RT_I8, RT_I4 and (dense) RT_MXFP4 matrices to rt_linear_quant.
 *
 * Weights [N][K] in blocks of 32 along K, one scale per block (RtLinear.scale:
 * f32 [N][nb], nb = ceil(K/32), or for MXFP4 the e8m0 bytes [N][nb] behind the
 * same pointer).  A last partial block is zero-padded: int8 rows are K bytes
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
 * ISA: AVX-512 VNNI / AVX-VNNI (vpdpbusd u8×s8), AVX2 (vpmaddubsw), NEON (sdot
 * with __ARM_FEATURE_DOTPROD, else vmull), scalar C.  x86's u8×s8 products need
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

/* the block scale of row n, block b */
static inline float rt_q_wscale(const RtLinear *L, const float *scale, int n, int b) {
    int nb = (L->K + 31) / 32;
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

/* The quantised activations of one call: q [T][K] int8 (4-bit formats: each block
 * even elements first), d [T][K/32], and c [T][K/32] = d · offset · Σ q (x86's
 * unsigned-weight correction; 0 elsewhere). */
typedef struct RtQAct { int8_t *q; float *d, *c; size_t cap; } RtQAct;

static inline int rt_q_offset(int fmt) {
#ifdef RT_Q_X86
    return fmt == RT_I4 ? 8 : fmt == RT_FMT_MXFP4_ ? 12 : 0;
#else
    (void)fmt;
    return 0;
#endif
}

static inline void rt_q_quantise_x(const RtLinear *L, RtQAct *A) {
    int K = L->K, nb = (K + 31) / 32, KP = nb * 32, perm = L->fmt != RT_I8, off = rt_q_offset(L->fmt);
    size_t need = (size_t)L->T * KP + 2 * sizeof(float) * (size_t)L->T * nb + 128;
    if (need > A->cap) {
        free(A->q);
        A->cap = need + need / 4;
        A->q = (int8_t *)malloc(A->cap);
        if (!A->q) rt_die("out of memory in quantised linear");
    }
    char *base = (char *)A->q + (((size_t)L->T * KP + 63) & ~(size_t)63);
    A->d = (float *)base;
    A->c = A->d + (size_t)L->T * nb;
    for (int t = 0; t < L->T; t++) {
        const float *x = L->x + (size_t)t * K;
        int8_t *q = A->q + (size_t)t * KP;
        for (int b = 0; b < nb; b++) {
            const float *xb = x + b * 32;
            int len = K - b * 32 < 32 ? K - b * 32 : 32;   /* a partial last block: zeros after K */
            float amax = 0.0f;
            for (int i = 0; i < len; i++) amax = fmaxf(amax, fabsf(xb[i]));
            float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                int v = i < len ? (int)lrintf(xb[i] * id) : 0;
                v = v > 127 ? 127 : v < -127 ? -127 : v;
                q[b * 32 + (perm ? (i & 1) * 16 + (i >> 1) : i)] = (int8_t)v;
                sum += v;
            }
            A->d[(size_t)t * nb + b] = d;
            A->c[(size_t)t * nb + b] = d * (float)(off * sum);
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
                                                               int n, const int *ti, float *out, const int fmt, const int TT_) {
    int K = L->K, nb = (K + 31) / 32, nbf = K / 32, KP = nb * 32;
    size_t blkb = fmt == RT_I8 ? 32 : 16;
    const uint8_t *wr = (const uint8_t *)w + (size_t)n * (fmt == RT_I8 ? (size_t)K : (size_t)nb * 16);
    const float *sr = scale + (size_t)n * nb;
    const uint8_t *er = (const uint8_t *)scale + (size_t)n * nb;
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
        float dw_ = fmt == RT_FMT_MXFP4_ ? rt_q_e8m0_half(er[b]) : sr[b];                               \
        for (int t = 0; t < TT_; t++) {                                                                 \
            __m256i x_ = _mm256_loadu_si256((const __m256i *)(xq[t] + (size_t)(b) * 32));               \
            __m256i d_ = rt_q_idot(wv, x_, fmt);                                                        \
            int a_ = TT_ == 1 ? (slot) : t;                                                             \
            acc[a_] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d_), _mm256_set1_ps(dw_ * xd[t][b]), acc[a_]); \
            if (fmt != RT_I8) corr[t] += dw_ * xc[t][b];                                                \
        }                                                                                               \
    } while (0)
    int b = 0;
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
    static void name(const RtLinear *L, const RtQAct *A, const void *w, const float *s, int n, const int *ti, float *o) { \
        rt_q_row_x86(L, A, w, s, n, ti, o, F, TT_);                                                             \
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
 * `archc quantize --quantize-embeddings` checkpoints. */
static inline void rt_q_row_to_f32(const void *w, const float *scale, int fmt, int K, int n, float *out) {
    RtLinear L;
    memset(&L, 0, sizeof L);
    L.K = K;
    L.fmt = fmt;
    int nb = (K + 31) / 32;
    if (fmt == RT_I8) {
        const int8_t *row = (const int8_t *)w + (size_t)n * K;
        for (int b = 0; b < nb; b++) {
            float d = rt_q_wscale(&L, scale, n, b);
            for (int i = b * 32; i < K && i < b * 32 + 32; i++) out[i] = (float)row[i] * d;
        }
        return;
    }
    const uint8_t *row = (const uint8_t *)w + (size_t)n * nb * 16;
    for (int b = 0; b < nb; b++) {
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

/* out[t] for row n of w and tokens t0 … t0+tt−1 (tt ≤ RT_Q_TT) */
static inline void rt_q_row(const RtLinear *L, const RtQAct *A, const void *w, const float *scale, int n, int t0, int tt, float *out) {
#ifdef RT_Q_X86
    int ti[RT_Q_TT];
    float o[RT_Q_TT];
    int fmt = L->fmt;
    if (tt == 1) {
        ti[0] = t0;
        (fmt == RT_I8 ? rt_q_row1_i8 : fmt == RT_I4 ? rt_q_row1_i4 : rt_q_row1_mx)(L, A, w, scale, n, ti, out);
        return;
    }
    for (int t = 0; t < RT_Q_TT; t++) ti[t] = t0 + (t < tt ? t : tt - 1);
    (fmt == RT_I8 ? rt_q_rowt_i8 : fmt == RT_I4 ? rt_q_rowt_i4 : rt_q_rowt_mx)(L, A, w, scale, n, ti, o);
    for (int t = 0; t < tt; t++) out[t] = o[t];
#else
    rt_q_tile(L, A, w, scale, t0, tt, n, 1, out);
#endif
}

/* Output rows [tb·TN, te·TN), all tokens, with the epilogue of rt_linear_range. */
static void rt_linear_quant_range(void *ctx, int tb, int te) {
    const RtQJob *J = (const RtQJob *)ctx;
    const RtLinear *L = J->L;
    int TN = L->T == 1 ? 8 : RT_Q_TN;
    float g[RT_Q_TT], u[RT_Q_TT];
    for (int n = tb * TN; n < te * TN && n < L->N; n++)
        for (int t0 = 0; t0 < L->T; t0 += RT_Q_TT) {
            int tt = L->T - t0 < RT_Q_TT ? L->T - t0 : RT_Q_TT;
            rt_q_row(L, J->A, L->w, L->scale, n, t0, tt, g);
            if (L->w_up) rt_q_row(L, J->A, L->w_up, L->scale_up, n, t0, tt, u);
            for (int t = 0; t < tt; t++) {
                size_t at = (size_t)(t0 + t) * L->N + n;
                float v = g[t];
                if (L->b) v = v + L->b[n];
                if (L->w_up) {
                    float up = u[t];
                    if (L->b_up) up = up + L->b_up[n];
                    v = (L->act == RT_ACT_GELU_TANH ? rt_gelu_tanh(v) : rt_silu(v)) * up;
                }
                if (L->res) v = L->res[at] + v;
                L->y[at] = v;
            }
        }
}

/* y = x·Wᵀ (+b) (+res), or the GLU form, for RT_I8 / RT_I4 / RT_MXFP4 weights. */
static inline void rt_linear_quant(const RtLinear *L) {
    static _Thread_local RtQAct act;   /* grown once, reused by every call of this thread */
    rt_q_quantise_x(L, &act);
    RtQJob J = {L, &act};
    int TN = L->T == 1 ? 8 : RT_Q_TN;
    rt_parallel_for((L->N + TN - 1) / TN, rt_linear_quant_range, &J);
}

#endif
