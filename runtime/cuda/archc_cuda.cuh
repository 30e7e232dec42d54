/*
 * runtime/cuda/archc_cuda.cuh — the kernels an emitted .cu calls, and its host helpers.
 *
 * A file printed by archc's CUDA backend (codegen/emit_cuda.c) defines one
 * __global__ kernel per distinct signature, every dimension a literal, whose
 * body is one call of a template below: the templates are the kernels' source,
 * written once; the literals make each instantiation fully specialised (loop
 * bounds, strides, which epilogue) exactly like the C backend's kernels
 * calling runtime/archc_kernels.h.
 *
 * Numerics are those of the C backend: weights are read in their stored format
 * (f32, bf16, f16) and widened in registers, every product and sum is f32
 * (no TF32, no bf16 products), exp/tanh/cos are the accurate library
 * functions.  Only the order of the sums differs from the C backend (warp
 * trees instead of sequential loops), so both stay within the fixtures' 1e-4.
 *
 * The same text compiles for the CPU emulator (runtime/cuda/cuda_emu.h, with
 * -DARCHC_CUDA_EMU) so that CI, which has no GPU, runs every kernel of every
 * fixture and checks its logits; CU_LAUNCH hides the <<<>>> syntax for it.
 *
 * Kernels (grid × block; T = tokens of the call):
 *   cu_embed        T × 256        x[t] = E[token[t]] (· scale)
 *   cu_rmsnorm      (T, groups) × 128   RMSNorm / Gemma (1 + w) / L2 per group
 *   cu_gemv         N/8 × 256      decode: one warp per output row, 16-byte loads
 *   cu_gemm         (N/64, T/64) × 256   prefill: 64×64 tile, 4×4 per thread, f32 FMA
 *   cu_qk_norm_rope_store  (T, 2) × 256  q/k head norms, RoPE, KV-cache write
 *   cu_rope, cu_kv_store, cu_bias, cu_add, cu_glu, cu_concat, cu_softcap
 *   cu_attention    (T, heads) × 128   online softmax; 4 warps split the keys
 *                   (decode: (1, heads, S) blocks of keys, then cu_attention_merge)
 *   cu_rope_angles  1 × 256        cos/sin of this call's positions
 *   cu_argmax       1 × 1024       greedy token on the device
 * Positions are read through a device pointer (`const int *pos`), so a decode
 * step captured once as a CUDA graph replays at any position.
 */
#ifndef ARCHC_CUDA_CUH
#define ARCHC_CUDA_CUH

#ifdef ARCHC_CUDA_EMU
#include "cuda_emu.h"
#define CU_LAUNCH(kernel, grid, block, smem, stream, ...) CU_EMU_LAUNCH(kernel, grid, block, smem, stream, __VA_ARGS__)
#else
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <mma.h>
#define CU_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#endif
#include <initializer_list>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archc_rt.h"

/* ── the block a kernel body works on ─────────────────────────────────────────
 * Every kernel template takes the index of its block and the grid as a CuTile
 * instead of reading blockIdx/gridDim: a __global__ kernel passes its own
 * (cu_grid_tile), the persistent decode kernel (decode-persistent pass) the
 * tile of an instruction it is working through. */
struct CuTile {
    struct { unsigned x, y, z; } b, g;   /* block index, grid size */
};
__device__ __forceinline__ CuTile cu_grid_tile() {
    CuTile t;
    t.b.x = blockIdx.x; t.b.y = blockIdx.y; t.b.z = blockIdx.z;
    t.g.x = gridDim.x; t.g.y = gridDim.y; t.g.z = gridDim.z;
    return t;
}

/* ── weight formats ───────────────────────────────────────────────────────── */

enum { CU_F32 = 0, CU_BF16 = 1, CU_F16 = 2, CU_FP8 = 3 };

__device__ __forceinline__ float cu_bf16_to_f32(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }

/* IEEE half → float, subnormals included (exact: every half is a float). */
__device__ __forceinline__ float cu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {   /* zero or subnormal: m · 2^-24 */
        float v = (float)m * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));   /* inf, NaN */
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

/* float8 e4m3 (s eeee mmm, bias 7, no infinities; DeepSeek FP8 checkpoints) → f32,
 * exactly: the raw value before its block's multiplier (weight_scale_inv). */
__device__ __forceinline__ float cu_fp8_to_f32(uint8_t b) {
    const uint32_t sign = (uint32_t)(b & 0x80u) << 24, e = (b >> 3) & 0xfu, m = b & 0x7u;
    float v;
    if (e == 0) v = (float)m * 0.001953125f;                       /* subnormal: m · 2^-9 */
    else if (e == 15 && m == 7) v = __uint_as_float(0x7fc00000u);  /* NaN */
    else v = __uint_as_float(((e + 120u) << 23) | (m << 20));
    return __uint_as_float(__float_as_uint(v) | sign);
}

/* The element type a format is stored as, and element i widened to f32 (fp8:
 * before its block multiplier). */
template <int FMT> struct CuStore { typedef uint16_t T; };
template <> struct CuStore<CU_F32> { typedef float T; };
template <> struct CuStore<CU_FP8> { typedef uint8_t T; };

template <int FMT> __device__ __forceinline__ float cu_ld(const typename CuStore<FMT>::T *w, size_t i) {
    if constexpr (FMT == CU_F32) return w[i];
    else if constexpr (FMT == CU_BF16) return cu_bf16_to_f32(w[i]);
    else if constexpr (FMT == CU_FP8) return cu_fp8_to_f32(w[i]);
    else return cu_f16_to_f32(w[i]);
}

/* ── activations and reductions ───────────────────────────────────────────── */

enum { CU_ACT_SILU = 0, CU_ACT_GELU_TANH = 1 };

template <int ACT> __device__ __forceinline__ float cu_act(float x) {
    if constexpr (ACT == CU_ACT_GELU_TANH) {
        const float k = 0.7978845608028654f; /* sqrt(2/pi), as runtime/archc_kernels.h */
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    } else {
        return x / (1.0f + expf(-x));
    }
}

__device__ __forceinline__ float cu_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float cu_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, ≤ 1024); every thread gets it. */
__device__ __forceinline__ float cu_block_sum(float v) {
    __shared__ float part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = cu_warp_sum(v);
    __syncthreads();               /* part[] may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : 0.0f;
    return cu_warp_sum(v);
}

/* ── embedding ────────────────────────────────────────────────────────────── */

/* x[t][i] = E[tokens[t]][i], widened (× scale when scale != 0, Gemma). grid T. */
template <int FMT, int D>
__device__ __forceinline__ void cu_embed(const CuTile &tile, const int *tokens, const typename CuStore<FMT>::T *E, float *x, float scale) {
    const int t = tile.b.x;
    const size_t row = (size_t)tokens[t] * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        float v = cu_ld<FMT>(E, row + i);
        x[(size_t)t * D + i] = scale != 0.0f ? v * scale : v;
    }
}

/* ── norms ────────────────────────────────────────────────────────────────── */

enum { CU_NORM_RMS = 0, CU_NORM_GEMMA = 1, CU_NORM_L2 = 2 };

/* y = w ⊙ x·r, (1 + w) ⊙ x·r (Gemma) or x·r (L2), r = 1/sqrt(mean(x²) + eps), as the C kernels round it. */
template <int KIND> __device__ __forceinline__ float cu_norm_apply(float x, float r, const float *w, int i) {
    if constexpr (KIND == CU_NORM_L2) return x * r;
    else if constexpr (KIND == CU_NORM_GEMMA) return (x * r) * (1.0f + w[i]);
    else return w[i] * (x * r);
}

/* Normalise each group of G values of a row of N (G = N: the whole row); the
 * weights w[G] are shared by the groups (per-head norms).  grid (T, N/G). */
template <int N, int G, int KIND>
__device__ __forceinline__ void cu_rmsnorm(const CuTile &tile, const float *x, const float *w, float *y, float eps) {
    const size_t base = (size_t)tile.b.x * N + (size_t)tile.b.y * G;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < G; i += blockDim.x) { float v = x[base + i]; ss += v * v; }
    ss = cu_block_sum(ss);
    const float r = 1.0f / sqrtf(ss / G + eps);
    for (int i = threadIdx.x; i < G; i += blockDim.x) y[base + i] = cu_norm_apply<KIND>(x[base + i], r, w, i);
}

/* ── linear layers ────────────────────────────────────────────────────────── */

/* Epilogue flags of a linear kernel. */
enum { CU_EPI_BIAS = 1, CU_EPI_RES = 2, CU_EPI_GLU = 4 };

/* The epilogue of output n of token row t: + bias, GLU (act(gate) ⊙ up), + residual. */
template <int N, int EPI, int ACT>
__device__ __forceinline__ float cu_epilogue(float acc, float acc_up, int n, const float *b, const float *bu, const float *res, size_t t) {
    float v = acc;
    if constexpr ((EPI & CU_EPI_BIAS) != 0) v += b[n];
    if constexpr ((EPI & CU_EPI_GLU) != 0) {
        float u = acc_up;
        if constexpr ((EPI & CU_EPI_BIAS) != 0) u += bu[n];
        v = cu_act<ACT>(v) * u;
    }
    if constexpr ((EPI & CU_EPI_RES) != 0) v = res[t * N + n] + v;
    return v;
}

/* The multiplier of weight (n, k) of an fp8 matrix: one per BN×BK block
 * (weight_scale_inv, [ceil(N/BN)][ceil(K/BK)]); 1 for the other formats. */
template <int FMT, int K, int BN, int BK>
__device__ __forceinline__ float cu_wscale(const float *Ws, int n, int k) {
    if constexpr (FMT == CU_FP8) return Ws[(size_t)(n / BN) * ((K + BK - 1) / BK) + k / BK];
    else return 1.0f;
}

/* Dot product of row n of W [N][K] with x [K], spread over the 32 lanes of a
 * warp (every lane returns the sum).  16-byte loads when a row is a whole
 * number of them (4 f32, 8 bf16/f16 or 16 fp8 values — for fp8 when the 16
 * share a scale block), else one element per lane.  fp8 values are scaled by
 * their block's multiplier as they are read. */
template <int FMT, int K, int BN, int BK>
__device__ __forceinline__ float cu_row_dot(const typename CuStore<FMT>::T *W, const float *Ws, int n, const float *x, int lane) {
    typedef typename CuStore<FMT>::T ST;
    const ST *row = W + (size_t)n * K;
    float acc = 0.0f;
    constexpr int VEC = 16 / (int)sizeof(ST);
    if constexpr (K % VEC == 0 && (FMT != CU_FP8 || BK % VEC == 0)) {
        for (int i = lane * VEC; i < K; i += 32 * VEC) {
#ifdef ARCHC_CUDA_EMU   /* a GPU faults on a misaligned 16-byte load; the CPU would not notice */
            if (((uintptr_t)(row + i) | (FMT == CU_F32 ? (uintptr_t)(x + i) : 0)) % 16)
                rt_die("cu_row_dot: misaligned 16-byte load (W row %d, column %d)", n, i);
#endif
            uint4 raw = *(const uint4 *)(row + i);
            if constexpr (FMT == CU_F32) {
                float4 xv = *(const float4 *)(x + i);
                acc += __uint_as_float(raw.x) * xv.x;
                acc += __uint_as_float(raw.y) * xv.y;
                acc += __uint_as_float(raw.z) * xv.z;
                acc += __uint_as_float(raw.w) * xv.w;
            } else if constexpr (FMT == CU_FP8) {
                const uint32_t word[4] = {raw.x, raw.y, raw.z, raw.w};
                float part = 0.0f;
                #pragma unroll
                for (int q = 0; q < 4; q++)   /* four values a word, the lowest byte first */
                    #pragma unroll
                    for (int b = 0; b < 4; b++) part += cu_fp8_to_f32((uint8_t)(word[q] >> (8 * b))) * x[i + 4 * q + b];
                acc += part * cu_wscale<FMT, K, BN, BK>(Ws, n, i);
            } else {
                const uint32_t word[4] = {raw.x, raw.y, raw.z, raw.w};
                #pragma unroll
                for (int q = 0; q < 4; q++) {   /* two values a word, the lower first (little-endian) */
                    const ST lo = (ST)(word[q] & 0xffffu), hi = (ST)(word[q] >> 16);
                    acc += cu_ld<FMT>(&lo, 0) * x[i + 2 * q];
                    acc += cu_ld<FMT>(&hi, 0) * x[i + 2 * q + 1];
                }
            }
        }
    } else {
        for (int i = lane; i < K; i += 32) acc += cu_ld<FMT>(row, i) * cu_wscale<FMT, K, BN, BK>(Ws, n, i) * x[i];
    }
    return cu_warp_sum(acc);
}

enum { CU_GEMV_WARPS = 8 };   /* output rows per block of the decode GEMV */

/* Decode (one token): y[n] = epilogue(x · W[n]) for n < N; one warp per row,
 * CU_GEMV_WARPS rows per block; grid ceil(N / CU_GEMV_WARPS).  Ws/Wus: fp8
 * block multipliers (BN×BK blocks), else unused. */
template <int FMT, int N, int K, int EPI, int ACT, int BN, int BK>
__device__ __forceinline__ void cu_gemv(const CuTile &tile, const float *x, const typename CuStore<FMT>::T *W, const float *Ws,
                                        const typename CuStore<FMT>::T *Wu, const float *Wus, const float *b, const float *bu,
                                        const float *res, float *y) {
    const int lane = threadIdx.x & 31;
    const int n = tile.b.x * CU_GEMV_WARPS + (threadIdx.x >> 5);
    if (n >= N) return;
    float acc = cu_row_dot<FMT, K, BN, BK>(W, Ws, n, x, lane), acc_up = 0.0f;
    if constexpr ((EPI & CU_EPI_GLU) != 0) acc_up = cu_row_dot<FMT, K, BN, BK>(Wu, Wus, n, x, lane);
    if (lane == 0) y[n] = cu_epilogue<N, EPI, ACT>(acc, acc_up, n, b, bu, res, 0);
}

enum { CU_GEMM_TILE = 64, CU_GEMM_BK = 16 };

/* Prefill: y[t][n] = epilogue(x[t] · W[n]) for t < T, n < N.  A block computes
 * a 64-token × 64-output tile through K in steps of 16: the x and W slices
 * are staged (widened to f32, fp8 scaled) in shared memory, each thread
 * accumulates a 4×4 sub-tile in registers with f32 FMAs.
 * grid (ceil(N/64), ceil(T/64)). */
template <int FMT, int N, int K, int EPI, int ACT, int BN, int BK>
__device__ __forceinline__ void cu_gemm(const CuTile &tile, const float *x, const typename CuStore<FMT>::T *W, const float *Ws,
                                        const typename CuStore<FMT>::T *Wu, const float *Wus, const float *b, const float *bu,
                                        const float *res, float *y, int T) {
    constexpr bool GLU = (EPI & CU_EPI_GLU) != 0;
    __shared__ float xs[CU_GEMM_BK][CU_GEMM_TILE + 4];
    __shared__ float ws[CU_GEMM_BK][CU_GEMM_TILE + 4];
    __shared__ float us[GLU ? CU_GEMM_BK : 1][CU_GEMM_TILE + 4];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int n0 = tile.b.x * CU_GEMM_TILE, t0 = tile.b.y * CU_GEMM_TILE;
    float acc[4][4] = {{0}}, acc_up[GLU ? 4 : 1][GLU ? 4 : 1] = {{0}};
    for (int k0 = 0; k0 < K; k0 += CU_GEMM_BK) {
        for (int r = 0; r < 4; r++) {   /* 1024 values of each slice, 4 per thread */
            const int idx = tid + 256 * r, row = idx / CU_GEMM_BK, kk = idx % CU_GEMM_BK, k = k0 + kk;
            const int t = t0 + row, n = n0 + row;
            const bool in = n < N && k < K;
            xs[kk][row] = t < T && k < K ? x[(size_t)t * K + k] : 0.0f;
            ws[kk][row] = in ? cu_ld<FMT>(W, (size_t)n * K + k) * cu_wscale<FMT, K, BN, BK>(Ws, n, k) : 0.0f;
            if constexpr (GLU) us[kk][row] = in ? cu_ld<FMT>(Wu, (size_t)n * K + k) * cu_wscale<FMT, K, BN, BK>(Wus, n, k) : 0.0f;
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < CU_GEMM_BK; kk++) {
            float a[4], w[4];
            for (int i = 0; i < 4; i++) a[i] = xs[kk][ty * 4 + i];
            for (int j = 0; j < 4; j++) w[j] = ws[kk][tx * 4 + j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
            if constexpr (GLU) {
                for (int j = 0; j < 4; j++) w[j] = us[kk][tx * 4 + j];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) acc_up[i][j] = fmaf(a[i], w[j], acc_up[i][j]);
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        const int t = t0 + ty * 4 + i;
        if (t >= T) break;
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n >= N) break;
            float u = 0.0f;
            if constexpr (GLU) u = acc_up[i][j];
            y[(size_t)t * N + n] = cu_epilogue<N, EPI, ACT>(acc[i][j], u, n, b, bu, res, (size_t)t);
        }
    }
}

/* ── prefill on tensor cores (--precision bf16, bf16 weights) ─────────────────
 * The C backend's --precision bf16 on the GPU: x is rounded to bf16 (round to
 * nearest even, as runtime/archc_kernels.h rounds it), multiplied with the
 * bf16 weights on tensor cores (WMMA 16×16×16, f32 accumulators; a product of
 * two bf16 values is exact in f32), the epilogue in f32.  Faster, not exact: the
 * default stays cu_gemm.  A block (4 warps, 128 threads) computes a 64-token ×
 * 64-output tile, each warp 32×32 (2×2 fragments), through K in steps of 32
 * staged in shared memory; the accumulators go through shared memory to the
 * epilogue.  grid (ceil(N/64), ceil(T/64)).  Needs sm_80 or newer. */
enum { CU_TC_TILE = 64, CU_TC_BK = 32, CU_TC_LDA = CU_TC_BK + 8, CU_TC_LDC = CU_TC_TILE + 4, CU_TC_THREADS = 128 };

__device__ __forceinline__ __nv_bfloat16 cu_bf16_bits(uint16_t u) {
#ifdef ARCHC_CUDA_EMU
    __nv_bfloat16 b;
    b.x = u;
    return b;
#else
    return __ushort_as_bfloat16(u);
#endif
}

template <int N, int K, int EPI, int ACT>
__device__ __forceinline__ void cu_gemm_tc(const CuTile &tile, const float *x, const uint16_t *W, const uint16_t *Wu, const float *b,
                                           const float *bu, const float *res, float *y, int T) {
    using namespace nvcuda;
    constexpr bool GLU = (EPI & CU_EPI_GLU) != 0;
    constexpr int STAGE = (GLU ? 3 : 2) * CU_TC_TILE * CU_TC_LDA * 2, OUT = (GLU ? 2 : 1) * CU_TC_TILE * CU_TC_LDC * 4;
    alignas(32) __shared__ unsigned char raw[STAGE > OUT ? STAGE : OUT];   /* the K slices, then the results */
    __nv_bfloat16 *as = (__nv_bfloat16 *)raw, *bs = as + CU_TC_TILE * CU_TC_LDA, *us = bs + CU_TC_TILE * CU_TC_LDA;
    float *cs = (float *)raw, *ucs = cs + CU_TC_TILE * CU_TC_LDC;
    const int tid = threadIdx.x, warp = tid >> 5, wm = warp >> 1, wn = warp & 1;
    const int n0 = tile.b.x * CU_TC_TILE, t0 = tile.b.y * CU_TC_TILE;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2], accu[GLU ? 2 : 1][GLU ? 2 : 1];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            wmma::fill_fragment(acc[i][j], 0.0f);
            if constexpr (GLU) wmma::fill_fragment(accu[i][j], 0.0f);
        }
    for (int k0 = 0; k0 < K; k0 += CU_TC_BK) {
        for (int idx = tid; idx < CU_TC_TILE * CU_TC_BK; idx += CU_TC_THREADS) {
            const int row = idx / CU_TC_BK, kk = idx % CU_TC_BK, k = k0 + kk, t = t0 + row, n = n0 + row;
            as[row * CU_TC_LDA + kk] = __float2bfloat16_rn(t < T && k < K ? x[(size_t)t * K + k] : 0.0f);
            bs[row * CU_TC_LDA + kk] = cu_bf16_bits(n < N && k < K ? W[(size_t)n * K + k] : (uint16_t)0);
            if constexpr (GLU) us[row * CU_TC_LDA + kk] = cu_bf16_bits(n < N && k < K ? Wu[(size_t)n * K + k] : (uint16_t)0);
        }
        __syncthreads();
        for (int kk = 0; kk < CU_TC_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], as + (wm * 32 + i * 16) * CU_TC_LDA + kk, CU_TC_LDA);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], bs + (wn * 32 + j * 16) * CU_TC_LDA + kk, CU_TC_LDA);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
            if constexpr (GLU) {
                for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], us + (wn * 32 + j * 16) * CU_TC_LDA + kk, CU_TC_LDA);
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) wmma::mma_sync(accu[i][j], fa[i], fb[j], accu[i][j]);
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            const int off = (wm * 32 + i * 16) * CU_TC_LDC + wn * 32 + j * 16;
            wmma::store_matrix_sync(cs + off, acc[i][j], CU_TC_LDC, wmma::mem_row_major);
            if constexpr (GLU) wmma::store_matrix_sync(ucs + off, accu[i][j], CU_TC_LDC, wmma::mem_row_major);
        }
    __syncthreads();
    for (int idx = tid; idx < CU_TC_TILE * CU_TC_TILE; idx += CU_TC_THREADS) {
        const int r = idx / CU_TC_TILE, c = idx % CU_TC_TILE, t = t0 + r, n = n0 + c;
        if (t >= T || n >= N) continue;
        y[(size_t)t * N + n] = cu_epilogue<N, EPI, ACT>(cs[r * CU_TC_LDC + c], GLU ? ucs[r * CU_TC_LDC + c] : 0.0f, n, b, bu, res, (size_t)t);
    }
}

/* ── RoPE, q/k norms, the KV cache ────────────────────────────────────────── */

enum { CU_ROPE_HALF = 0, CU_ROPE_INTERLEAVED = 1 };

/* Element i (< D) of a rotated head: v(i) gives the head's input values,
 * cs/sn the cos/sin row [ROT/2] of the token; dims ≥ ROT are not rotated. */
template <int D, int ROT, int LAYOUT, typename F>
__device__ __forceinline__ float cu_rotate(F v, int i, const float *cs, const float *sn) {
    if (i >= ROT) return v(i);
    if constexpr (LAYOUT == CU_ROPE_INTERLEAVED) {   /* pairs (2p, 2p+1) */
        const int p = i >> 1;
        const float a = v(2 * p), b = v(2 * p + 1);
        return (i & 1) ? b * cs[p] + a * sn[p] : a * cs[p] - b * sn[p];
    } else {                                        /* rotate_half: pairs (p, p + ROT/2) */
        constexpr int H = ROT / 2;
        if (i < H) return v(i) * cs[i] - v(i + H) * sn[i];
        return v(i) * cs[i - H] + v(i - H) * sn[i - H];
    }
}

enum { CU_QKNORM_NONE = 0, CU_QKNORM_HEAD = 1, CU_QKNORM_WHOLE = 2 };
enum { CU_QK_THREADS = 256, CU_QK_PER_THREAD_MAX = 64 };

/* qknorm-fuse: for token t (tile.b.x), tile.b.y = 0 normalises (per head
 * or over the whole projection) and rotates q into q_out; tile.b.y = 1 does
 * the same for k, writing the cache row of position pos + t (a ring when RING),
 * and copies v there.  Every value is computed before any is written, so the
 * output may be the input.  grid (T, 2). */
template <int H, int KVH, int D, int ROT, int LAYOUT, int QKNORM, int KIND, bool ROPE, int RING>
__device__ __forceinline__ void cu_qk_norm_rope_store(const CuTile &tile, const float *q, const float *k, const float *v, const float *q_norm,
                                                      const float *k_norm, float *q_out, float *k_cache, float *v_cache,
                                                      const float *cos_t, const float *sin_t, const int *pos_p, float eps) {
    constexpr int MAXH = H > KVH ? H : KVH;
    constexpr int PER = (MAXH * D + CU_QK_THREADS - 1) / CU_QK_THREADS;
    static_assert(PER <= CU_QK_PER_THREAD_MAX, "q projection too wide for cu_qk_norm_rope_store");
    __shared__ float r_s[QKNORM == CU_QKNORM_HEAD ? MAXH : 1];
    const int t = tile.b.x, which = tile.b.y, heads = which ? KVH : H;
    const int pos = *pos_p + t;
    const size_t row = (size_t)(RING ? (pos % (RING ? RING : 1)) : pos);
    const float *src = which ? k + (size_t)t * KVH * D : q + (size_t)t * H * D;
    float *dst = which ? k_cache + row * (KVH * D) : q_out + (size_t)t * H * D;
    const float *w = which ? k_norm : q_norm;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float r_whole = 1.0f;
    if constexpr (QKNORM == CU_QKNORM_HEAD) {
        for (int hh = warp; hh < heads; hh += nw) {
            float ss = 0.0f;
            for (int i = lane; i < D; i += 32) { float x = src[hh * D + i]; ss += x * x; }
            ss = cu_warp_sum(ss);
            if (lane == 0) r_s[hh] = 1.0f / sqrtf(ss / D + eps);
        }
        __syncthreads();
    } else if constexpr (QKNORM == CU_QKNORM_WHOLE) {
        float ss = 0.0f;
        for (int i = threadIdx.x; i < heads * D; i += blockDim.x) { float x = src[i]; ss += x * x; }
        ss = cu_block_sum(ss);
        r_whole = 1.0f / sqrtf(ss / (heads * D) + eps);
    }
    const float *cs = ROPE ? cos_t + (size_t)t * (ROT / 2) : nullptr, *sn = ROPE ? sin_t + (size_t)t * (ROT / 2) : nullptr;
    float vals[PER] = {};
    #pragma unroll
    for (int c = 0; c < PER; c++) {
        const int idx = threadIdx.x + c * CU_QK_THREADS;
        if (idx >= heads * D) break;
        const int hh = idx / D, i = idx % D;
        auto normed = [&](int j) -> float {
            const float x = src[hh * D + j];
            if constexpr (QKNORM == CU_QKNORM_HEAD) return cu_norm_apply<KIND>(x, r_s[hh], w, j);
            else if constexpr (QKNORM == CU_QKNORM_WHOLE) return cu_norm_apply<KIND>(x, r_whole, w, hh * D + j);
            else return x;
        };
        if constexpr (ROPE) vals[c] = cu_rotate<D, ROT, LAYOUT>(normed, i, cs, sn);
        else vals[c] = normed(i);
    }
    __syncthreads();   /* all reads done: dst may be src */
    #pragma unroll
    for (int c = 0; c < PER; c++) {
        const int idx = threadIdx.x + c * CU_QK_THREADS;
        if (idx >= heads * D) break;
        dst[idx] = vals[c];
    }
    if (which)
        for (int i = threadIdx.x; i < KVH * D; i += blockDim.x) v_cache[row * (KVH * D) + i] = v[(size_t)t * KVH * D + i];
}

/* RoPE on H heads of D (first ROT dims rotated) of token t = tile.b.x; y may be x.  grid T. */
template <int H, int D, int ROT, int LAYOUT>
__device__ __forceinline__ void cu_rope(const CuTile &tile, const float *x, float *y, const float *cos_t, const float *sin_t) {
    constexpr int PER = (H * D + CU_QK_THREADS - 1) / CU_QK_THREADS;
    static_assert(PER <= CU_QK_PER_THREAD_MAX, "too many heads for cu_rope");
    const int t = tile.b.x;
    const float *src = x + (size_t)t * H * D, *cs = cos_t + (size_t)t * (ROT / 2), *sn = sin_t + (size_t)t * (ROT / 2);
    float vals[PER] = {};
    #pragma unroll
    for (int c = 0; c < PER; c++) {
        const int idx = threadIdx.x + c * CU_QK_THREADS;
        if (idx >= H * D) break;
        const int hh = idx / D;
        vals[c] = cu_rotate<D, ROT, LAYOUT>([&](int j) { return src[hh * D + j]; }, idx % D, cs, sn);
    }
    __syncthreads();
    #pragma unroll
    for (int c = 0; c < PER; c++) {
        const int idx = threadIdx.x + c * CU_QK_THREADS;
        if (idx >= H * D) break;
        y[(size_t)t * H * D + idx] = vals[c];
    }
}

/* Rows of k and v (width KVW) of token t = tile.b.x into the caches at position pos + t. grid T. */
template <int KVW, int RING>
__device__ __forceinline__ void cu_kv_store(const CuTile &tile, const float *k, const float *v, float *k_cache, float *v_cache, const int *pos_p) {
    const int t = tile.b.x, pos = *pos_p + t;
    const size_t row = (size_t)(RING ? pos % (RING ? RING : 1) : pos);
    for (int i = threadIdx.x; i < KVW; i += blockDim.x) {
        k_cache[row * KVW + i] = k[(size_t)t * KVW + i];
        v_cache[row * KVW + i] = v[(size_t)t * KVW + i];
    }
}

/* cos/sin [T][HALF] of positions pos … pos+T-1: mscale·cos(f32(p·inv_freq[i])),
 * the angle rounded to f32 as HF does, cos/sin in double (as runtime/rope.c). */
__device__ __forceinline__ void cu_rope_angles(const float *inv_freq, int half, float mscale, const int *pos_p, int T, float *cos_t,
                                               float *sin_t) {
    const int pos = *pos_p;
    for (int idx = threadIdx.x; idx < T * half; idx += blockDim.x) {
        const int t = idx / half, i = idx % half;
        const float ang = (float)(pos + t) * inv_freq[i];
        cos_t[idx] = (float)cos((double)ang) * mscale;
        sin_t[idx] = (float)sin((double)ang) * mscale;
    }
}

/* ── element-wise ─────────────────────────────────────────────────────────── */

/* Each runs over T rows of W values with a grid-stride loop. */
template <int W> __device__ __forceinline__ void cu_bias(const CuTile &tile, const float *x, const float *b, float *y, int T) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)T * W; i += (size_t)tile.g.x * blockDim.x)
        y[i] = x[i] + b[i % W];
}
template <int W> __device__ __forceinline__ void cu_add(const CuTile &tile, const float *a, const float *b, float *y, int T) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)T * W; i += (size_t)tile.g.x * blockDim.x)
        y[i] = a[i] + b[i];
}
template <int W, int ACT> __device__ __forceinline__ void cu_glu(const CuTile &tile, const float *gate, const float *up, float *y, int T) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)T * W; i += (size_t)tile.g.x * blockDim.x)
        y[i] = cu_act<ACT>(gate[i]) * up[i];
}
template <int A, int B> __device__ __forceinline__ void cu_concat(const CuTile &tile, const float *a, const float *b, float *y, int T) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)T * (A + B); i += (size_t)tile.g.x * blockDim.x) {
        const size_t t = i / (A + B);
        const int c = (int)(i % (A + B));
        y[i] = c < A ? a[t * A + c] : b[t * B + (c - A)];
    }
}
/* logits ← cap·tanh(logits / cap) over `rows` rows of V. */
template <int V> __device__ __forceinline__ void cu_softcap(const CuTile &tile, float *logits, int rows, float cap) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)rows * V; i += (size_t)tile.g.x * blockDim.x)
        logits[i] = cap * tanhf(logits[i] / cap);
}

/* Blocks of 256 threads for n values, at most 1024 blocks (grid-stride beyond). */
static inline unsigned cu_blocks(size_t n) {
    size_t b = (n + 255) / 256;
    return (unsigned)(b < 1 ? 1 : b > 1024 ? 1024 : b);
}

/* ── attention ────────────────────────────────────────────────────────────── */

enum { CU_ATT_WARPS = 4, CU_ATT_MAX_WARPS = 8 };   /* warps of the attention blocks; the persistent kernel runs them with 8 */

/* Causal attention of query token t (tile.b.x), head h (tile.b.y) over the
 * cache rows lo … pos (window: the WINDOW most recent; chunk: its own CHUNK;
 * RING: row j is j mod RING).  Each warp walks every 4th key with an online
 * softmax (running max m, sum l, output acc), lane c holding dims c, c+32, …;
 * the four partial results are merged at the end (with the sink, if any).
 * TEMP (Llama 4) and LOGN (Qwen-1) scale q by position first, as the C does.
 * grid (T, H) × 128 threads.
 *
 * SPLIT_KEYS > 0 (decode, flash-decoding): block z = tile.b.z takes only the
 * keys lo + z·SPLIT_KEYS … of the range, so a long context is spread over
 * many blocks, and writes its unnormalised (m, l, acc[D]) to part[h][z];
 * cu_attention_merge combines them.  grid (1, H, S). */
template <int H, int KVH, int D, int WINDOW, int CHUNK, int RING, bool SINKS, bool TEMP, bool LOGN, int SPLIT_KEYS>
__device__ __forceinline__ void cu_attention(const CuTile &tile, const float *q, const float *k_cache, const float *v_cache, const float *sinks, float *out,
                                             float *part, const int *pos_p, float scale, float temp_floor, float temp_scale, int logn_seq) {
    constexpr int DL = (D + 31) / 32, KVW = KVH * D;
    __shared__ float m_s[CU_ATT_MAX_WARPS], l_s[CU_ATT_MAX_WARPS], acc_s[CU_ATT_MAX_WARPS][D];
    const int t = tile.b.x, h = tile.b.y, g = h / (H / KVH);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int pos = *pos_p + t;
    int lo = 0;
    if (WINDOW > 0 && pos - WINDOW + 1 > lo) lo = pos - WINDOW + 1;
    if (CHUNK > 0 && (pos / (CHUNK ? CHUNK : 1)) * CHUNK > lo) lo = (pos / (CHUNK ? CHUNK : 1)) * CHUNK;
    int jb = lo, je = pos;
    float *mine = nullptr;
    if constexpr (SPLIT_KEYS > 0) {
        mine = part + ((size_t)h * tile.g.z + tile.b.z) * (D + 2);
        jb = lo + (int)tile.b.z * SPLIT_KEYS;
        je = jb + SPLIT_KEYS - 1 < pos ? jb + SPLIT_KEYS - 1 : pos;
        if (jb > pos) {   /* beyond the context: an empty part (the whole block leaves) */
            if (threadIdx.x == 0) { mine[0] = -INFINITY; mine[1] = 0.0f; }
            return;
        }
    }
    float f = 1.0f;
    if constexpr (TEMP) f = log1pf(floorf(((float)pos + 1.0f) / temp_floor)) * temp_scale + 1.0f;
    if constexpr (LOGN) if (pos + 1 > logn_seq) f = (float)(log((double)(pos + 1)) / log((double)logn_seq));
    float qv[DL], acc[DL];
    const float *qh = q + (size_t)t * H * D + (size_t)h * D;
    #pragma unroll
    for (int c = 0; c < DL; c++) {
        const int i = lane + 32 * c;
        qv[c] = i < D ? ((TEMP || LOGN) ? qh[i] * f : qh[i]) : 0.0f;
        acc[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = jb + warp; j <= je; j += nw) {
        const size_t row = (size_t)(RING ? j % (RING ? RING : 1) : j);
        const float *kr = k_cache + row * KVW + (size_t)g * D, *vr = v_cache + row * KVW + (size_t)g * D;
        float s = 0.0f;
        #pragma unroll
        for (int c = 0; c < DL; c++) {
            const int i = lane + 32 * c;
            if (i < D) s += qv[c] * kr[i];
        }
        s = cu_warp_sum(s) * scale;
        const float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p;
        #pragma unroll
        for (int c = 0; c < DL; c++) {
            const int i = lane + 32 * c;
            if (i < D) acc[c] = acc[c] * corr + p * vr[i];
        }
        m = m_new;
    }
    if (lane == 0) { m_s[warp] = m; l_s[warp] = l; }
    #pragma unroll
    for (int c = 0; c < DL; c++) {
        const int i = lane + 32 * c;
        if (i < D) acc_s[warp][i] = acc[c];
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < nw; w++) M = fmaxf(M, m_s[w]);
    if constexpr (SINKS && SPLIT_KEYS == 0) M = fmaxf(M, sinks[h]);
    float L = 0.0f, e[CU_ATT_MAX_WARPS];
    for (int w = 0; w < nw; w++) { e[w] = l_s[w] > 0.0f ? expf(m_s[w] - M) : 0.0f; L += l_s[w] * e[w]; }
    if constexpr (SPLIT_KEYS > 0) {   /* this part, unnormalised */
        if (threadIdx.x == 0) { mine[0] = M; mine[1] = L; }
        for (int i = threadIdx.x; i < D; i += blockDim.x) {
            float v = 0.0f;
            for (int w = 0; w < nw; w++) v += acc_s[w][i] * e[w];
            mine[2 + i] = v;
        }
        return;
    }
    if constexpr (SINKS) L += expf(sinks[h] - M);
    const float inv = 1.0f / L;
    float *o = out + (size_t)t * H * D + (size_t)h * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < nw; w++) v += acc_s[w][i] * e[w];
        o[i] = v * inv;
    }
}

/* Merge the S parts of each head h = tile.b.x (decode): the largest max, the
 * rescaled sums (and the sink), out = Σ acc·e^(m − M) / L.  grid H. */
template <int H, int D, int S, bool SINKS>
__device__ __forceinline__ void cu_attention_merge(const CuTile &tile, const float *part, const float *sinks, float *out) {
    const int h = tile.b.x;
    const float *ph = part + (size_t)h * S * (D + 2);
    float M = -INFINITY, L = 0.0f;
    for (int z = 0; z < S; z++) M = fmaxf(M, ph[(size_t)z * (D + 2)]);
    if constexpr (SINKS) M = fmaxf(M, sinks[h]);
    for (int z = 0; z < S; z++) {
        const float l = ph[(size_t)z * (D + 2) + 1];
        if (l > 0.0f) L += l * expf(ph[(size_t)z * (D + 2)] - M);
    }
    if constexpr (SINKS) L += expf(sinks[h] - M);
    const float inv = 1.0f / L;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        float v = 0.0f;
        for (int z = 0; z < S; z++) {
            const float *pz = ph + (size_t)z * (D + 2);
            if (pz[1] > 0.0f) v += pz[2 + i] * expf(pz[0] - M);
        }
        out[(size_t)h * D + i] = v * inv;
    }
}

/* ── mixture of experts ───────────────────────────────────────────────────── */

/* Routing of token t = tile.b.x, by one thread, exactly as rt_moe_route
 * (runtime/archc_kernels.h) computes it: scores by softmax over all experts
 * or sigmoid; selection on scores + select_bias (the bias never enters the
 * weights); group-limited selection keeps the TOPG groups ranked by the sum
 * of their two best selection scores (GROUPMAX = 0) or their best one
 * (GROUPMAX = 1), the others' experts set to 0.0 as HF does; the top K
 * (lowest index first on ties, as torch.topk), renormalised when NORMALIZE,
 * times the routed scaling factor.  Writes sel[t][K] and wt[t][K]. */
template <int E, int K, bool SIGMOID, int GROUPS, int TOPG, bool GROUPMAX, bool NORMALIZE>
__device__ __forceinline__ void cu_moe_route(const CuTile &tile, const float *logits, const float *select_bias, int *sel_out, float *wt_out, float scale) {
    if (threadIdx.x != 0) return;
    const int t = tile.b.x;
    float l[E], c[E];
    for (int e = 0; e < E; e++) l[e] = logits[(size_t)t * E + e];
    if constexpr (SIGMOID) {
        for (int e = 0; e < E; e++) l[e] = 1.0f / (1.0f + expf(-l[e]));
    } else {
        float m = l[0], sum = 0.0f;
        for (int e = 1; e < E; e++) if (l[e] > m) m = l[e];
        for (int e = 0; e < E; e++) { l[e] = expf(l[e] - m); sum += l[e]; }
        for (int e = 0; e < E; e++) l[e] /= sum;
    }
    for (int e = 0; e < E; e++) c[e] = l[e] + (select_bias ? select_bias[e] : 0.0f);
    if constexpr (GROUPS > 1) {
        constexpr int PER = E / GROUPS;
        float gs[GROUPS];
        bool keep[GROUPS];
        for (int g = 0; g < GROUPS; g++) {
            float b1 = -INFINITY, b2 = -INFINITY;
            for (int e = g * PER; e < (g + 1) * PER; e++) {
                if (c[e] > b1) { b2 = b1; b1 = c[e]; }
                else if (c[e] > b2) b2 = c[e];
            }
            gs[g] = GROUPMAX ? b1 : b1 + b2;
            keep[g] = false;
        }
        for (int k = 0; k < TOPG; k++) {
            int best = -1;
            for (int g = 0; g < GROUPS; g++)
                if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            keep[best] = true;
        }
        for (int e = 0; e < E; e++) if (!keep[e / PER]) c[e] = 0.0f;
    }
    int sel[K];
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            bool taken = false;
            for (int j = 0; j < k; j++) taken |= sel[j] == e;
            if (!taken && (best < 0 || c[e] > c[best])) best = e;
        }
        sel[k] = best;
    }
    float wt[K], sum = 0.0f;
    for (int k = 0; k < K; k++) { wt[k] = l[sel[k]]; sum += wt[k]; }
    for (int k = 0; k < K; k++) {
        if constexpr (NORMALIZE) wt[k] = SIGMOID ? wt[k] / (sum + 1e-20f) : wt[k] / sum;
        if (scale != 0.0f && scale != 1.0f) wt[k] = wt[k] * scale;
        sel_out[(size_t)t * K + k] = sel[k];
        wt_out[(size_t)t * K + k] = wt[k];
    }
}

/* The selected experts' SwiGLU for every (token, choice) p = tile.b.y:
 * act[p][n] = silu(x[t]·Wg[e][n]) · (x[t]·Wu[e][n]), e = sel[p], t = p / K; one
 * warp per row n, reading only the chosen experts' weights (from the device
 * array of expert pointers).  grid (ceil(I/8), T·K). */
template <int FMT, int H, int I, int K, int BN, int BK>
__device__ __forceinline__ void cu_moe_gate_up(const CuTile &tile, const float *x, const typename CuStore<FMT>::T *const *gate,
                                               const typename CuStore<FMT>::T *const *up, const float *const *gate_s,
                                               const float *const *up_s, const int *sel, float *act) {
    const int lane = threadIdx.x & 31, n = tile.b.x * CU_GEMV_WARPS + (threadIdx.x >> 5);
    if (n >= I) return;
    const int p = tile.b.y, e = sel[p];
    const float *xt = x + (size_t)(p / K) * H;
    const float g = cu_row_dot<FMT, H, BN, BK>(gate[e], gate_s ? gate_s[e] : nullptr, n, xt, lane);
    const float u = cu_row_dot<FMT, H, BN, BK>(up[e], up_s ? up_s[e] : nullptr, n, xt, lane);
    if (lane == 0) act[(size_t)p * I + n] = cu_act<CU_ACT_SILU>(g) * u;
}

/* y[t][n] = Σ_k wt[t][k] · (act[t·K+k] · Wd[sel[t][k]][n]), the K choices summed
 * in order; overwrites y.  grid (ceil(H/8), T). */
template <int FMT, int H, int I, int K, int BN, int BK>
__device__ __forceinline__ void cu_moe_down(const CuTile &tile, const float *act, const typename CuStore<FMT>::T *const *down, const float *const *down_s,
                                            const int *sel, const float *wt, float *y) {
    const int lane = threadIdx.x & 31, n = tile.b.x * CU_GEMV_WARPS + (threadIdx.x >> 5);
    if (n >= H) return;
    const int t = tile.b.y;
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        const int p = t * K + k, e = sel[p];
        acc += cu_row_dot<FMT, I, BN, BK>(down[e], down_s ? down_s[e] : nullptr, n, act + (size_t)p * I, lane) * wt[p];
    }
    if (lane == 0) y[(size_t)t * H + n] = acc;
}

/* ── grouped experts in prefill (the expert-group pass) ───────────────────────
 * The (token, choice) pairs p = t·K + k of a prefill chunk, grouped by expert:
 * each expert then runs one matrix-matrix product over its tokens, reading
 * its weights once per 64-row tile instead of once per token. */

/* Counting sort of the pairs by expert (one thread, T·K ≤ TMAX·K pairs): perm
 * lists the pairs expert by expert, in pair order; offsets[e] … offsets[e+1]
 * are expert e's; tiles[e] is the first 64-row tile of expert e (tiles[E]: all). */
template <int E, int K>
__device__ __forceinline__ void cu_moe_group(const int *sel, int T, int *perm, int *offsets, int *tiles) {
    if (threadIdx.x != 0) return;
    for (int e = 0; e <= E; e++) offsets[e] = 0;
    for (int p = 0; p < T * K; p++) offsets[sel[p] + 1]++;
    for (int e = 0; e < E; e++) offsets[e + 1] += offsets[e];
    tiles[0] = 0;
    for (int e = 0; e < E; e++) tiles[e + 1] = tiles[e] + (offsets[e + 1] - offsets[e] + CU_GEMM_TILE - 1) / CU_GEMM_TILE;
    int fill[E];
    for (int e = 0; e < E; e++) fill[e] = offsets[e];
    for (int p = 0; p < T * K; p++) perm[fill[sel[p]]++] = p;
}

/* One 64-row × 64-output tile of an expert's product (tile.b.y: the tile among
 * all experts' tiles; tile.b.x: the outputs).  Rows are the expert's pairs p;
 * their input is x[p / K] (BY_PAIR false: the token's hidden state) or x[p]
 * (BY_PAIR true: the pair's own activation).  out[p][n] = silu(x·Wg[n]) ·
 * (x·Wu[n]) when GLU, else x·W[n].  f32 FMAs as cu_gemm.  grid (ceil(NOUT/64),
 * T·K/64 + E): tiles past the last expert's leave at once. */
template <int FMT, int NOUT, int KIN, int E, int K, bool GLU, bool BY_PAIR, int BN, int BK>
__device__ __forceinline__ void cu_moe_grouped(const CuTile &tile, const float *x, const typename CuStore<FMT>::T *const *W,
                                               const typename CuStore<FMT>::T *const *Wu, const float *const *Ws,
                                               const float *const *Wus, const int *perm, const int *offsets, const int *tiles,
                                               float *out) {
    typedef typename CuStore<FMT>::T ST;
    const int j = tile.b.y;
    if (j >= tiles[E]) return;   /* the whole block */
    int e = 0;
    while (tiles[e + 1] <= j) e++;
    const int r0 = offsets[e] + (j - tiles[e]) * CU_GEMM_TILE, rows = offsets[e + 1] - r0 < CU_GEMM_TILE ? offsets[e + 1] - r0 : CU_GEMM_TILE;
    const ST *w = W[e], *wu = GLU ? Wu[e] : nullptr;
    const float *ws = Ws ? Ws[e] : nullptr, *wus = GLU && Wus ? Wus[e] : nullptr;
    __shared__ float xs[CU_GEMM_BK][CU_GEMM_TILE + 4];
    __shared__ float wsh[CU_GEMM_BK][CU_GEMM_TILE + 4];
    __shared__ float ush[GLU ? CU_GEMM_BK : 1][CU_GEMM_TILE + 4];
    __shared__ int prow[CU_GEMM_TILE];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16, n0 = tile.b.x * CU_GEMM_TILE;
    if (tid < CU_GEMM_TILE) prow[tid] = tid < rows ? perm[r0 + tid] : -1;
    __syncthreads();
    float acc[4][4] = {{0}}, acc_up[GLU ? 4 : 1][GLU ? 4 : 1] = {{0}};
    for (int k0 = 0; k0 < KIN; k0 += CU_GEMM_BK) {
        for (int r = 0; r < 4; r++) {
            const int idx = tid + 256 * r, row = idx / CU_GEMM_BK, kk = idx % CU_GEMM_BK, k = k0 + kk, n = n0 + row, p = prow[row];
            const bool in = n < NOUT && k < KIN;
            xs[kk][row] = p >= 0 && k < KIN ? x[(size_t)(BY_PAIR ? p : p / K) * KIN + k] : 0.0f;
            wsh[kk][row] = in ? cu_ld<FMT>(w, (size_t)n * KIN + k) * cu_wscale<FMT, KIN, BN, BK>(ws, n, k) : 0.0f;
            if constexpr (GLU) ush[kk][row] = in ? cu_ld<FMT>(wu, (size_t)n * KIN + k) * cu_wscale<FMT, KIN, BN, BK>(wus, n, k) : 0.0f;
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < CU_GEMM_BK; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) a[i] = xs[kk][ty * 4 + i];
            for (int q = 0; q < 4; q++) b[q] = wsh[kk][tx * 4 + q];
            for (int i = 0; i < 4; i++)
                for (int q = 0; q < 4; q++) acc[i][q] = fmaf(a[i], b[q], acc[i][q]);
            if constexpr (GLU) {
                for (int q = 0; q < 4; q++) b[q] = ush[kk][tx * 4 + q];
                for (int i = 0; i < 4; i++)
                    for (int q = 0; q < 4; q++) acc_up[i][q] = fmaf(a[i], b[q], acc_up[i][q]);
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        const int p = prow[ty * 4 + i];
        if (p < 0) continue;
        for (int q = 0; q < 4; q++) {
            const int n = n0 + tx * 4 + q;
            if (n >= NOUT) break;
            float v = acc[i][q];
            if constexpr (GLU) v = cu_act<CU_ACT_SILU>(v) * acc_up[i][q];
            out[(size_t)p * NOUT + n] = v;
        }
    }
}

/* y[t][n] = Σ_k wt[t][k] · down[t·K + k][n], the K choices in order.  grid-stride over T·H. */
template <int H, int K>
__device__ __forceinline__ void cu_moe_combine(const CuTile &tile, const float *down, const float *wt, float *y, int T) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)T * H; i += (size_t)tile.g.x * blockDim.x) {
        const size_t t = i / H, n = i % H;
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += down[(t * K + k) * H + n] * wt[t * K + k];
        y[i] = acc;
    }
}

/* ── stacked experts (gpt-oss, Llama 4) ────────────────────────────────────
 * All experts of a layer in one tensor: [E][in][out] (x @ W, as HF stores
 * them) for f32/bf16/f16, or MXFP4 rows [E][out][in/32][16] with e8m0
 * exponents [E][out][in/32] (gpt-oss).  Semantics as rt_moe_stacked. */

enum { CU_ROUTE_TOPK_SOFTMAX = 0, CU_ROUTE_TOPK_SIGMOID_INPUT = 1 };
enum { CU_ACT_OAI = 2 };   /* gpt-oss: (clamp(up, ±limit) + 1) · g·σ(alpha·g), g = min(gate, limit) */

/* Top K of the router logits (+ bias; lowest index first on ties), then softmax over
 * those K (gpt-oss) or a sigmoid of each (Llama 4).  One thread, token tile.b.x. */
template <int E, int K, int ROUTE>
__device__ __forceinline__ void cu_moe_stacked_route(const CuTile &tile, const float *logits, const float *router_bias, int *sel_out, float *wt_out) {
    if (threadIdx.x != 0) return;
    const int t = tile.b.x;
    float l[E];   /* the router's logits + its bias (the C adds it in the projection's epilogue) */
    for (int e = 0; e < E; e++) l[e] = router_bias ? logits[(size_t)t * E + e] + router_bias[e] : logits[(size_t)t * E + e];
    int sel[K];
    float w[K];
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            bool taken = false;
            for (int j = 0; j < k; j++) taken |= sel[j] == e;
            if (!taken && (best < 0 || l[e] > l[best])) best = e;
        }
        sel[k] = best;
        w[k] = l[best];
    }
    if constexpr (ROUTE == CU_ROUTE_TOPK_SOFTMAX) {
        float m = w[0], sum = 0.0f;
        for (int k = 0; k < K; k++) { w[k] = expf(w[k] - m); sum += w[k]; }
        for (int k = 0; k < K; k++) w[k] /= sum;
    } else {
        for (int k = 0; k < K; k++) w[k] = 1.0f / (1.0f + expf(-w[k]));
    }
    for (int k = 0; k < K; k++) { sel_out[(size_t)t * K + k] = sel[k]; wt_out[(size_t)t * K + k] = w[k]; }
}

/* e2m1 value of a 4-bit code; 2^(s − 127) of an e8m0 exponent (as runtime/archc_kernels.h). */
__device__ __forceinline__ float cu_e2m1(unsigned q) {
    const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    const float v = mag[q & 7];
    return q & 8 ? -v : v;
}
__device__ __forceinline__ float cu_e8m0(uint8_t s) { return s == 0 ? ldexpf(1.0f, -127) : __uint_as_float((uint32_t)s << 23); }

/* One output of expert e's transposed linear for input row xin [KIN]:
 * Σ_k xin[k]·W[e][k][n] ([E][KIN][NOUT]) — by one thread (threads of a block
 * take neighbouring n: coalesced) — or, for MXFP4, Σ over the 32-value
 * blocks of row n ([E][NOUT][KIN/32][16]), one warp per row. */
template <int FMT, int KIN, int NOUT>
__device__ __forceinline__ float cu_stacked_col(const void *W, const uint8_t *scales, int e, int n, const float *xin) {
    typedef typename CuStore<FMT>::T ST;
    const ST *w = (const ST *)W + (size_t)e * KIN * NOUT + n;
    float acc = 0.0f;
    for (int k = 0; k < KIN; k++) acc += xin[k] * cu_ld<FMT>(w, (size_t)k * NOUT);
    return acc;
}
template <int KIN, int NOUT>
__device__ __forceinline__ float cu_mxfp4_row(const void *W, const uint8_t *scales, int e, int n, const float *xin, int lane) {
    constexpr int G = KIN / 32;
    const uint8_t *blocks = (const uint8_t *)W + ((size_t)e * NOUT + n) * G * 16, *sc = scales + ((size_t)e * NOUT + n) * G;
    float acc = 0.0f;
    for (int g = lane; g < G; g += 32) {
        const float m = cu_e8m0(sc[g]);
        const float *xg = xin + 32 * g;
        float part = 0.0f;
        for (int j = 0; j < 16; j++) {
            const uint8_t q = blocks[g * 16 + j];
            part += cu_e2m1(q & 15) * m * xg[2 * j] + cu_e2m1(q >> 4) * m * xg[2 * j + 1];
        }
        acc += part;
    }
    return cu_warp_sum(acc);
}

/* For (token, choice) p = tile.b.y: gu = xin·W_gu[e] (+ b_gu[e]), xin = x[t]
 * (× the routing weight for Llama 4), then h[p][i] from the gate/up pair
 * (interleaved columns or halves) through ACT.  Non-MXFP4: a thread per
 * output i (blocks of 256); MXFP4: a warp per i (8 a block). */
template <int FMT, int H, int I, int K, int ROUTE, int ACT, bool INTERLEAVED, bool MX>
__device__ __forceinline__ void cu_moe_stacked_gate_up(const CuTile &tile, const float *x, const void *gate_up, const uint8_t *scales, const float *bias,
                                                       const int *sel, const float *wt, float *h, float limit, float alpha) {
    const int p = tile.b.y, t = p / K, e = sel[p];
    __shared__ float xin[H];
    const float in_scale = ROUTE == CU_ROUTE_TOPK_SIGMOID_INPUT ? wt[p] : 1.0f;
    for (int k = threadIdx.x; k < H; k += blockDim.x) xin[k] = ROUTE == CU_ROUTE_TOPK_SIGMOID_INPUT ? x[(size_t)t * H + k] * in_scale : x[(size_t)t * H + k];
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const int i = MX ? tile.b.x * CU_GEMV_WARPS + (threadIdx.x >> 5) : tile.b.x * blockDim.x + threadIdx.x;
    if (i >= I) return;
    const int cg = INTERLEAVED ? 2 * i : i, cu = INTERLEAVED ? 2 * i + 1 : I + i;
    float g, u;
    if constexpr (MX) {
        g = cu_mxfp4_row<H, 2 * I>(gate_up, scales, e, cg, xin, lane);
        u = cu_mxfp4_row<H, 2 * I>(gate_up, scales, e, cu, xin, lane);
    } else {
        g = cu_stacked_col<FMT, H, 2 * I>(gate_up, scales, e, cg, xin);
        u = cu_stacked_col<FMT, H, 2 * I>(gate_up, scales, e, cu, xin);
    }
    if (MX && lane != 0) return;
    if (bias) { g += bias[(size_t)e * 2 * I + cg]; u += bias[(size_t)e * 2 * I + cu]; }
    float v;
    if constexpr (ACT == CU_ACT_OAI) {
        g = g < limit ? g : limit;
        u = u < -limit ? -limit : u > limit ? limit : u;
        v = (u + 1.0f) * (g * (1.0f / (1.0f + expf(-(g * alpha)))));
    } else {
        v = u * cu_act<CU_ACT_SILU>(g);
    }
    h[(size_t)p * I + i] = v;
}

/* y[t][n] = Σ_k w_k · (h[t·K+k]·W_d[e] + b_d[e])[n] (gpt-oss; Llama 4: w_k = 1),
 * the K choices summed in order; overwrites y.  grid (…, T). */
template <int FMT, int H, int I, int K, int ROUTE, bool MX>
__device__ __forceinline__ void cu_moe_stacked_down(const CuTile &tile, const float *h, const void *down, const uint8_t *scales, const float *bias,
                                                    const int *sel, const float *wt, float *y) {
    const int t = tile.b.y, lane = threadIdx.x & 31;
    const int n = MX ? tile.b.x * CU_GEMV_WARPS + (threadIdx.x >> 5) : tile.b.x * blockDim.x + threadIdx.x;
    if (n >= H) return;
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        const int p = t * K + k, e = sel[p];
        float v;
        if constexpr (MX) v = cu_mxfp4_row<I, H>(down, scales, e, n, h + (size_t)p * I, lane);
        else v = cu_stacked_col<FMT, I, H>(down, scales, e, n, h + (size_t)p * I);
        if (bias) v += bias[(size_t)e * H + n];
        acc += ROUTE == CU_ROUTE_TOPK_SOFTMAX ? v * wt[p] : v;
    }
    if (!MX || lane == 0) y[(size_t)t * H + n] = acc;
}

/* ── greedy sampling on the device ────────────────────────────────────────── */

/* *best = the first index of the largest of logits[0 … n) (the runtime's
 * sampler_argmax: ties go to the lower id).  One block of 1024 threads. */
__device__ __forceinline__ void cu_argmax(const float *logits, int n, int *best) {
    __shared__ float bv[32];
    __shared__ int bi[32];
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (logits[i] > v || idx == 0x7fffffff) { v = logits[i]; idx = i; }
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) { bv[warp] = v; bi[warp] = idx; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < nw; w++)
            if (bv[w] > v || (bv[w] == v && bi[w] < idx)) { v = bv[w]; idx = bi[w]; }
        *best = idx == 0x7fffffff ? 0 : idx;
    }
}
__global__ void cu_argmax_kernel(const float *logits, int n, int *best) { cu_argmax(logits, n, best); }

/* ── persistent decode (the decode-persistent pass) ─────────────────────────
 * The whole decode step as one kernel: a list of instructions, built at load
 * time from the model's decode steps (the emitted .cu prints it as a table),
 * each one kernel body over a grid of tiles with its operands in slots and the
 * earlier instructions it must wait for.  Every block walks the list; it runs
 * tiles blockIdx.x, blockIdx.x + gridDim.x, … of each instruction once the
 * instructions it depends on have finished all their tiles (counters in
 * global memory: done[i] = tiles of i completed), then adds its own count.
 * Independent instructions (q, k and v projections; a layer's attention and
 * the next norm's weights…) overlap; there is no barrier over the whole grid.
 *
 * Requirements on a GPU: all blocks resident at once (a cooperative launch of
 * at most the occupancy limit), and loads of activations that bypass L1
 * (built with -Xptxas -dlcm=cg: another SM may have rewritten a line this SM
 * cached earlier in the same launch).  On the CPU emulator the grid is one
 * block, which finds every dependency already done. */
union CuSlot { void *p; long long i; double f; };
enum { CU_INSTR_SLOTS = 16, CU_PERSISTENT_THREADS = 256 };
struct CuInstr {
    int op;                    /* which kernel body (the emitted decode_op's case) */
    unsigned grid[3];          /* its tiles                                        */
    int dep0, ndep;            /* it waits for instructions deps[dep0 … dep0+ndep) */
    CuSlot s[CU_INSTR_SLOTS];  /* its operands, in the kernel's parameter order    */
};

__device__ __forceinline__ unsigned cu_instr_tiles(const CuInstr &I) { return I.grid[0] * I.grid[1] * I.grid[2]; }

template <void (*OP)(int, const CuTile &, const CuSlot *)>
__device__ __forceinline__ void cu_persistent(const CuInstr *prog, int n, const int *deps, unsigned *done) {
    for (int i = 0; i < n; i++) {
        const CuInstr &I = prog[i];
        const unsigned tiles = cu_instr_tiles(I);
        if (blockIdx.x >= tiles) continue;   /* nothing of this one for this block */
        if (threadIdx.x == 0) {
            for (int d = I.dep0; d < I.dep0 + I.ndep; d++) {
                const int j = deps[d];
                const unsigned want = cu_instr_tiles(prog[j]);
#ifdef ARCHC_CUDA_EMU   /* one block: every earlier instruction is complete */
                if (atomicAdd(&done[j], 0u) < want) rt_die("decode-persistent: instruction %d runs before %d finished", i, j);
#else
                while (atomicAdd(&done[j], 0u) < want) __nanosleep(32);
#endif
            }
            __threadfence();
        }
        __syncthreads();
        unsigned mine = 0;
        for (unsigned v = blockIdx.x; v < tiles; v += gridDim.x, mine++) {
            CuTile t;
            t.g.x = I.grid[0]; t.g.y = I.grid[1]; t.g.z = I.grid[2];
            t.b.x = v % I.grid[0]; t.b.y = (v / I.grid[0]) % I.grid[1]; t.b.z = v / (I.grid[0] * I.grid[1]);
            OP(I.op, t, I.s);
            __syncthreads();   /* the tile's writes done; shared memory free for the next */
        }
        if (threadIdx.x == 0) {
            __threadfence();
            atomicAdd(&done[i], mine);
        }
    }
}

/* dst[0 … n) = src[0 … n) (the final hidden states' copy in a persistent decode) */
__device__ __forceinline__ void cu_copy(const CuTile &tile, float *dst, const float *src, int n) {
    for (size_t i = tile.b.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)n; i += (size_t)tile.g.x * blockDim.x) dst[i] = src[i];
}

/* ── host side ────────────────────────────────────────────────────────────── */

/* Every CUDA call is checked; a failure ends the run with the call and its error. */
#define CU_CHECK(call)                                                                                  \
    do {                                                                                                \
        cudaError_t cu_err_ = (call);                                                                   \
        if (cu_err_ != cudaSuccess) rt_die("CUDA: %s: %s (%s:%d)", #call, cudaGetErrorString(cu_err_), __FILE__, __LINE__); \
    } while (0)

static cudaStream_t cu_stream;
static void **cu_allocs;                 /* every device allocation, freed by cu_release */
static int cu_n_allocs, cu_cap_allocs;
static char cu_device_name[320];

/* The device is usable, or one line in err saying why not.  Called before the
 * weights are read, so a machine without a GPU is refused at once. */
static int cu_probe(char *err, size_t errlen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(err, errlen, "no usable CUDA device (%s); this binary was built with --target=cuda",
                 e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
        return -1;
    }
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess || (e = cudaSetDevice(0)) != cudaSuccess) {
        snprintf(err, errlen, "CUDA device 0 cannot be used: %s", cudaGetErrorString(e));
        return -1;
    }
    snprintf(cu_device_name, sizeof cu_device_name, "cuda: %.200s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount);
    return 0;
}

static void *cu_malloc(size_t bytes) {
    void *p = NULL;
    CU_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    if (cu_n_allocs == cu_cap_allocs) {
        cu_cap_allocs = cu_cap_allocs ? 2 * cu_cap_allocs : 256;
        cu_allocs = (void **)realloc(cu_allocs, sizeof(void *) * (size_t)cu_cap_allocs);
        if (!cu_allocs) rt_die("out of memory");
    }
    cu_allocs[cu_n_allocs++] = p;
    return p;
}
/* n zeroed floats on the device. */
static float *cu_floats(size_t n) {
    float *p = (float *)cu_malloc(sizeof(float) * n);
    CU_CHECK(cudaMemset(p, 0, sizeof(float) * n));
    return p;
}
static void *cu_upload(const void *host, size_t bytes) {
    void *p = cu_malloc(bytes);
    CU_CHECK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
    return p;
}

/* Copy every bound weight to the device, in the format it is stored in (the
 * loader's f32 copies of 1-D vectors stay f32), and point its slot there. */
static void cu_upload_weights(StExpect *table, int n) {
    for (int i = 0; i < n; i++) {
        if (!table[i].slot || !*table[i].slot) continue;   /* an absent optional tensor */
        size_t count = 1;
        for (int d = 0; d < table[i].ndim; d++) count *= (size_t)table[i].shape[d];
        const size_t elt = (table[i].flags & ST_WIDEN_TO_F32) ? sizeof(float) : st_dtype_size(table[i].dtype);
        *table[i].slot = cu_upload(*table[i].slot, count * elt);
    }
}

/* decode-persistent, host side: one instruction (operands: cu_p pointers, cu_i
 * integers, cu_f floats, in the op's parameter order), the grid (every block
 * resident: at most two per SM, as occupancy allows; one on the emulator),
 * and the launch (cooperative on a GPU: refused rather than deadlocked if the
 * blocks cannot all be resident). */
static inline CuSlot cu_p(const void *p) { CuSlot s; s.p = (void *)p; return s; }
static inline CuSlot cu_i(long long i) { CuSlot s; s.i = i; return s; }
static inline CuSlot cu_f(double f) { CuSlot s; s.f = f; return s; }
static void cu_instr(CuInstr *I, int op, dim3 grid, int dep0, int ndep, std::initializer_list<CuSlot> slots) {
    memset(I, 0, sizeof *I);
    I->op = op;
    I->grid[0] = grid.x; I->grid[1] = grid.y; I->grid[2] = grid.z;
    I->dep0 = dep0;
    I->ndep = ndep;
    int k = 0;
    for (const CuSlot &s : slots) if (k < CU_INSTR_SLOTS) I->s[k++] = s;
}
template <typename K> static int cu_persistent_blocks(K kernel) {
#ifdef ARCHC_CUDA_EMU
    (void)kernel;
    return 1;
#else
    int dev = 0, per_sm = 0;
    cudaDeviceProp prop;
    CU_CHECK(cudaGetDevice(&dev));
    CU_CHECK(cudaGetDeviceProperties(&prop, dev));
    CU_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, CU_PERSISTENT_THREADS, 0));
    if (per_sm < 1) rt_die("decode-persistent: the kernel cannot run on this GPU (no block fits an SM)");
    return prop.multiProcessorCount * (per_sm < 2 ? per_sm : 2);
#endif
}
template <typename K>
static void cu_launch_persistent(K kernel, int blocks, const CuInstr *prog, int n, const int *deps, unsigned *done) {
#ifdef ARCHC_CUDA_EMU
    CU_LAUNCH(kernel, dim3(blocks), dim3(CU_PERSISTENT_THREADS), 0, cu_stream, prog, n, deps, done);
#else
    void *args[] = {(void *)&prog, (void *)&n, (void *)&deps, (void *)&done};
    CU_CHECK(cudaLaunchCooperativeKernel((const void *)kernel, dim3(blocks), dim3(CU_PERSISTENT_THREADS), args, 0, cu_stream));
#endif
}

static void cu_release(void) {
    for (int i = 0; i < cu_n_allocs; i++) cudaFree(cu_allocs[i]);
    free(cu_allocs);
    cu_allocs = NULL;
    cu_n_allocs = cu_cap_allocs = 0;
}

/* multi-head latent attention (DeepSeek MLA): codegen/emit_cuda_mla.c's kernels */
#include "archc_cuda_mla.cuh"

#endif
