/*
 * runtime/cuda/archc_cuda_mla.cuh — multi-head latent attention (DeepSeek MLA) on the GPU.
 * Included at the end of runtime/cuda/archc_cuda.cuh; printed calls come from
 * codegen/emit_cuda_mla.c.
 *
 * The C backend's rt_mla_* (runtime/archc_kernels.h), with the same numerics
 * (f32 products and sums, accurate expf) and the same layout:
 *   cache row j  = [c_j (R) | k_pe_j (DR)]   the normalised latent and the rotated
 *                                             rope key, shared by every head
 *   q row        = per head [q_nope (DN) | q_pe (DR)]
 *   kv_b         = [H·(DN+DV)][R]: per head DN rows W_uk (latent → k_nope), then
 *                  DV rows W_uv (latent → v); fp8: times the block multiplier
 *                  w_scale[row / BN][col / BK] (DeepSeek's weight_scale_inv)
 *
 * Kernels (grid × block; T = tokens of the call):
 *   cu_mla_store         T × 256         RMSNorm c, rotate k_pe, write cache row pos+t
 *   cu_mla_q_rope        T × 256         q_rot = q with each head's q_pe rotated
 *   cu_mla_absorbed      (T, H) × 256    q̃ = W_ukᵀ q_nope; online softmax over the
 *                                         latent rows [c | k_pe] (8 warps split the
 *                                         keys); o = W_uv · ō.  Decode (mla-absorb).
 *   cu_mla_materialised  (H, ⌈T/16⌉) × 256  16 queries of one head: per tile of KT
 *                                         keys, K_nope and V are rebuilt from the
 *                                         latent in shared memory (no buffer of
 *                                         S × H × (DN+DV)), then an online softmax.
 *                                         Prefill (and decode without mla-absorb).
 * Both evaluations are exact up to rounding.  Positions are read through a device
 * pointer, so a captured decode graph replays at any position.
 */
#ifndef ARCHC_CUDA_MLA_CUH
#define ARCHC_CUDA_MLA_CUH

enum { CU_MLA_THREADS = 256, CU_MLA_WARPS = CU_MLA_THREADS / 32, CU_MLA_QT = 16 };

/* Element (row, i) of kv_b [rows][R] as f32 (fp8: times its block multiplier). */
template <int FMT, int R, int BN, int BK>
__device__ __forceinline__ float cu_mla_w(const typename CuStore<FMT>::T *W, const float *w_scale, int row, int i) {
    float v = cu_ld<FMT>(W, (size_t)row * R + i);
    if constexpr (FMT == CU_FP8) v *= w_scale[(size_t)(row / BN) * ((R + BK - 1) / BK) + i / BK];
    return v;
}

/* Cache write of token t = blockIdx.x: row pos+t = [RMSNorm(c) ⊙ kv_norm | RoPE(k_pe)]
 * from ckv [T][R+DR] (kv_a_proj_with_mqa's output).  grid T. */
template <int R, int DR, int LAYOUT>
__device__ __forceinline__ void cu_mla_store(const float *ckv, const float *kv_norm, float *cache, const float *cos_t, const float *sin_t,
                                             const int *pos_p, float eps) {
    constexpr int CW = R + DR;
    const int t = blockIdx.x;
    const float *src = ckv + (size_t)t * CW;
    float *dst = cache + (size_t)(*pos_p + t) * CW;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < R; i += blockDim.x) { const float v = src[i]; ss += v * v; }
    ss = cu_block_sum(ss);
    const float r = 1.0f / sqrtf(ss / R + eps);
    for (int i = threadIdx.x; i < R; i += blockDim.x) dst[i] = cu_norm_apply<CU_NORM_RMS>(src[i], r, kv_norm, i);
    const float *cs = cos_t + (size_t)t * (DR / 2), *sn = sin_t + (size_t)t * (DR / 2);
    for (int i = threadIdx.x; i < DR; i += blockDim.x)
        dst[R + i] = cu_rotate<DR, DR, LAYOUT>([&](int j) { return src[R + j]; }, i, cs, sn);
}

/* q_rot[t] = q[t] with the last DR values of each of the H heads rotated (q_nope
 * copied).  q_rot is another buffer (the scratch).  grid T. */
template <int H, int DN, int DR, int LAYOUT>
__device__ __forceinline__ void cu_mla_q_rope(const float *q, float *q_rot, const float *cos_t, const float *sin_t) {
    constexpr int QK = DN + DR;
    const int t = blockIdx.x;
    const float *src = q + (size_t)t * H * QK, *cs = cos_t + (size_t)t * (DR / 2), *sn = sin_t + (size_t)t * (DR / 2);
    for (int idx = threadIdx.x; idx < H * QK; idx += blockDim.x) {
        const int h = idx / QK, i = idx % QK;
        const float *qh = src + (size_t)h * QK;
        q_rot[(size_t)t * H * QK + idx] = i < DN ? qh[i] : cu_rotate<DR, DR, LAYOUT>([&](int j) { return qh[DN + j]; }, i - DN, cs, sn);
    }
}

/* Absorbed MLA for query token t = blockIdx.x, head h = blockIdx.y (rt_mla_absorbed):
 *   1. q̃ = Σ_d q_nope[d] · W_uk[h][d][:]  (R values; thread i owns column i: the
 *      W_uk rows are read coalesced), q_cat = [q̃ | q_pe] in shared memory;
 *   2. score_j = q_cat · cache_j · scale for j ≤ pos+t, one dot product over the
 *      R+DR values of the latent row; each warp walks every 8th key with an
 *      online softmax (running max m, sum l, ō over the R latent values, lane c
 *      holding values c, c+32, …); the 8 partial results are merged;
 *   3. out[t][h][i] = W_uv[h][i] · ō, a warp per output value.
 * grid (T, H) × 256 threads. */
template <int FMT, int H, int R, int DN, int DR, int DV, int BN, int BK>
__device__ __forceinline__ void cu_mla_absorbed(const float *q_rot, const typename CuStore<FMT>::T *W, const float *w_scale,
                                                const float *cache, float *out, const int *pos_p, float scale) {
    constexpr int QK = DN + DR, CW = R + DR, CL = (CW + 31) / 32, NW = CU_MLA_WARPS;
    static_assert(sizeof(float) * (CW + 2 * NW + NW * R + R) <= 48 * 1024, "latent too wide for cu_mla_absorbed's shared memory");
    __shared__ float qc[CW], m_s[NW], l_s[NW], acc_s[NW][R], o_s[R];
    const int t = blockIdx.x, h = blockIdx.y, pos = *pos_p + t, base = h * (DN + DV);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *qh = q_rot + (size_t)t * H * QK + (size_t)h * QK;
    for (int i = threadIdx.x; i < R; i += blockDim.x) {
        float a = 0.0f;
        for (int d = 0; d < DN; d++) a += qh[d] * cu_mla_w<FMT, R, BN, BK>(W, w_scale, base + d, i);
        qc[i] = a;
    }
    for (int i = threadIdx.x; i < DR; i += blockDim.x) qc[R + i] = qh[DN + i];
    __syncthreads();
    float qv[CL], acc[CL];
    #pragma unroll
    for (int c = 0; c < CL; c++) {
        const int i = lane + 32 * c;
        qv[c] = i < CW ? qc[i] : 0.0f;
        acc[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = warp; j <= pos; j += NW) {
        const float *row = cache + (size_t)j * CW;
        float s = 0.0f;
        #pragma unroll
        for (int c = 0; c < CL; c++) {
            const int i = lane + 32 * c;
            if (i < CW) s += qv[c] * row[i];
        }
        s = cu_warp_sum(s) * scale;
        const float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p;
        #pragma unroll
        for (int c = 0; c < CL; c++) {
            const int i = lane + 32 * c;
            if (i < R) acc[c] = acc[c] * corr + p * row[i];
        }
        m = m_new;
    }
    if (lane == 0) { m_s[warp] = m; l_s[warp] = l; }
    #pragma unroll
    for (int c = 0; c < CL; c++) {
        const int i = lane + 32 * c;
        if (i < R) acc_s[warp][i] = acc[c];
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < NW; w++) M = fmaxf(M, m_s[w]);
    float L = 0.0f, e[NW];
    for (int w = 0; w < NW; w++) { e[w] = l_s[w] > 0.0f ? expf(m_s[w] - M) : 0.0f; L += l_s[w] * e[w]; }
    const float inv = 1.0f / L;
    for (int i = threadIdx.x; i < R; i += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < NW; w++) v += acc_s[w][i] * e[w];
        o_s[i] = v * inv;
    }
    __syncthreads();
    float *o = out + (size_t)t * H * DV + (size_t)h * DV;
    for (int i = warp; i < DV; i += NW) {
        float a = 0.0f;
        for (int k = lane; k < R; k += 32) a += cu_mla_w<FMT, R, BN, BK>(W, w_scale, base + DN + i, k) * o_s[k];
        a = cu_warp_sum(a);
        if (lane == 0) o[i] = a;
    }
}

/* Shared floats of cu_mla_materialised with a key tile of KT (the printer picks
 * the largest KT ≤ 8 that fits in 48 KB). */
__host__ __device__ constexpr int cu_mla_tile_floats(int R, int DN, int DR, int DV, int KT) {
    return CU_MLA_QT * (DN + DR) + KT * (R + DR) + KT * (DN + DV) + CU_MLA_QT * KT;
}

/* Materialised MLA (rt_mla_materialised) for head h = blockIdx.x and the 16
 * query tokens t0 = 16·blockIdx.y …: for each tile of KT cached keys up to the
 * last query's position,
 *   1. the latent rows [c | k_pe] of the tile → shared memory;
 *   2. K_nope | V of the tile = W_h · c (W_h = kv_b's DN+DV rows of head h; a warp
 *      per row, its lanes along the latent);
 *   3. scores (q_nope · k_nope + q_pe · k_pe) · scale, -inf past a query's position;
 *   4. online softmax per query: 256 / 16 threads per query, each holding some
 *      of its DV output values.
 * No buffer of S × H × (DN+DV) floats: K/V live one tile at a time, rebuilt per
 * block of 16 queries.  grid (H, ⌈T/16⌉) × 256 threads. */
template <int FMT, int H, int R, int DN, int DR, int DV, int BN, int BK, int KT>
__device__ __forceinline__ void cu_mla_materialised(const float *q_rot, const typename CuStore<FMT>::T *W, const float *w_scale,
                                                    const float *cache, float *out, const int *pos_p, float scale, int T) {
    constexpr int QT = CU_MLA_QT, QK = DN + DR, KVD = DN + DV, CW = R + DR, TPQ = CU_MLA_THREADS / QT, AL = (DV + TPQ - 1) / TPQ;
    static_assert(CU_MLA_THREADS % QT == 0 && QT * KT <= CU_MLA_THREADS, "cu_mla_materialised: tile shape");
    static_assert(sizeof(float) * cu_mla_tile_floats(R, DN, DR, DV, KT) <= 48 * 1024, "key tile too large for shared memory");
    __shared__ float qs[QT][QK], cs[KT][CW], kvs[KT][KVD], ss[QT][KT];
    const int h = blockIdx.x, t0 = blockIdx.y * QT, nq = T - t0 < QT ? T - t0 : QT, pos0 = *pos_p + t0;
    const int last = pos0 + nq - 1, base = h * KVD;   /* the last key any of these queries sees */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, qi = threadIdx.x / TPQ, sub = threadIdx.x % TPQ;
    for (int idx = threadIdx.x; idx < QT * QK; idx += blockDim.x) {
        const int a = idx / QK, i = idx % QK;
        qs[a][i] = a < nq ? q_rot[(size_t)(t0 + a) * H * QK + (size_t)h * QK + i] : 0.0f;
    }
    float acc[AL], m = -INFINITY, l = 0.0f;
    #pragma unroll
    for (int c = 0; c < AL; c++) acc[c] = 0.0f;
    for (int j0 = 0; j0 <= last; j0 += KT) {   /* `last` is the block's: every thread takes each tile */
        __syncthreads();   /* the previous tile is consumed (and qs is written, the first time) */
        for (int idx = threadIdx.x; idx < KT * CW; idx += blockDim.x) {
            const int kt = idx / CW, i = idx % CW, j = j0 + kt;
            cs[kt][i] = j <= last ? cache[(size_t)j * CW + i] : 0.0f;
        }
        __syncthreads();
        for (int e = warp; e < KVD; e += CU_MLA_WARPS) {
            float a[KT];
            #pragma unroll
            for (int kt = 0; kt < KT; kt++) a[kt] = 0.0f;
            for (int i = lane; i < R; i += 32) {
                const float w = cu_mla_w<FMT, R, BN, BK>(W, w_scale, base + e, i);
                #pragma unroll
                for (int kt = 0; kt < KT; kt++) a[kt] += w * cs[kt][i];
            }
            #pragma unroll
            for (int kt = 0; kt < KT; kt++) a[kt] = cu_warp_sum(a[kt]);
            if (lane == 0)
                for (int kt = 0; kt < KT; kt++) kvs[kt][e] = a[kt];
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < QT * KT; idx += blockDim.x) {
            const int a = idx / KT, kt = idx % KT;
            float s = -INFINITY;
            if (a < nq && j0 + kt <= pos0 + a) {
                float d1 = 0.0f, d2 = 0.0f;
                for (int d = 0; d < DN; d++) d1 += qs[a][d] * kvs[kt][d];
                for (int d = 0; d < DR; d++) d2 += qs[a][DN + d] * cs[kt][R + d];
                s = (d1 + d2) * scale;
            }
            ss[a][kt] = s;
        }
        __syncthreads();
        if (qi < nq) {
            float mt = -INFINITY;
            #pragma unroll
            for (int kt = 0; kt < KT; kt++) mt = fmaxf(mt, ss[qi][kt]);
            const float m_new = fmaxf(m, mt), corr = expf(m - m_new);   /* key 0 is in the first tile: m_new is finite */
            float p[KT], ps = 0.0f;
            #pragma unroll
            for (int kt = 0; kt < KT; kt++) { p[kt] = expf(ss[qi][kt] - m_new); ps += p[kt]; }
            l = l * corr + ps;
            #pragma unroll
            for (int c = 0; c < AL; c++) {
                const int i = sub + TPQ * c;
                if (i < DV) {
                    float v = acc[c] * corr;
                    for (int kt = 0; kt < KT; kt++) v += p[kt] * kvs[kt][DN + i];
                    acc[c] = v;
                }
            }
            m = m_new;
        }
    }
    if (qi < nq) {
        const float inv = 1.0f / l;
        float *o = out + (size_t)(t0 + qi) * H * DV + (size_t)h * DV;
        #pragma unroll
        for (int c = 0; c < AL; c++) {
            const int i = sub + TPQ * c;
            if (i < DV) o[i] = acc[c] * inv;
        }
    }
}

#endif
