/*
 * codegen/emit_cuda_mla.c — the CUDA printer's MLA kernels (multi-head latent
 * attention: DeepSeek-V2/V3, Kimi K2).
 *
 * The lowered program (codegen/program.c, steps_mla) has two steps per MLA
 * layer, printed as in the C backend (codegen/emit_c.c):
 *   KK_MLA_STORE      (ckv, kv_norm, cache, cos, sin, T, pos): RMSNorm the latent,
 *                     rotate k_pe, write cache rows [c | k_pe];
 *   KK_MLA_ATTENTION  (q, kv_b, [kv_b_scale], cache, cos, sin, q_rot, out, T, pos,
 *                     absorbed): rotate q_pe into the scratch, then attention over
 *                     the latent cache, absorbed (decode with mla-absorb) or
 *                     materialised (prefill; decode with the pass off).
 * Each prints a comment stating the math, the __global__ kernels calling the
 * templates of runtime/cuda/archc_cuda_mla.cuh with this model's literals, and
 * a host launcher with the C kernel's parameters (pos a device pointer).
 */
#include <string.h>
#include "emit_cuda.h"

static int refuse(const Graph *g, const char *what) {
    fprintf(stderr, "%s: error: not yet supported by the CUDA backend: multi-head latent attention %s (issue 10); emit C with -o FILE.c\n",
            g->model.file, what);
    return -1;
}

enum { MLA_QT = 16, MLA_SMEM = 48 * 1024 };   /* CU_MLA_QT; the static shared memory of a block */

/* The largest key tile (≤ 8) of cu_mla_materialised whose shared memory fits
 * (cu_mla_tile_floats), or 0. */
static int mla_key_tile(const Node *n) {
    int r = n->latent, dn = n->nope_dim, dr = n->rot_dims, dv = n->v_dim;
    for (int kt = 8; kt >= 1; kt /= 2)
        if ((long)sizeof(float) * (MLA_QT * (dn + dr) + kt * (r + dr) + kt * (dn + dv) + MLA_QT * kt) <= MLA_SMEM) return kt;
    return 0;
}

int cuda_mla_check(const Graph *g, const Node *n) {
    if (n->window || n->rope < 0) return refuse(g, "with a sliding window or without RoPE");
    if (n->softcap != 0) return refuse(g, "with a logit soft-cap");
    const Weight *w = &g->weights[n->w[1]];
    if (w->fmt != WFMT_F32 && w->fmt != WFMT_BF16 && w->fmt != WFMT_F16 && !is_fp8(w))
        return refuse(g, "with kv_b_proj in a format other than f32, bf16, f16 or fp8 e4m3");
    if (n->rot_dims % 2) return refuse(g, "with an odd qk_rope_head_dim");
    /* cu_mla_absorbed keeps q_cat, the 8 warps' partial latents and ō in shared memory */
    long absorbed = (long)sizeof(float) * ((n->latent + n->rot_dims) + 16 + 8L * n->latent + n->latent);
    if (absorbed > MLA_SMEM || !mla_key_tile(n)) return refuse(g, "with a latent this wide (the kernels' shared memory is 48 KB)");
    return 0;
}

static const Node *mla_node(const Emitter *e, const Kernel *k) { return &e->g->nodes[k->node]; }

static const char *mla_layout(const Emitter *e, const Node *n) {
    return e->g->rope[n->rope].layout == ROPE_LAYOUT_INTERLEAVED ? "CU_ROPE_INTERLEAVED" : "CU_ROPE_HALF";
}

static const char *mla_fmt(const Weight *w) {
    return is_fp8(w) ? "CU_FP8" : w->fmt == WFMT_F32 ? "CU_F32" : w->fmt == WFMT_BF16 ? "CU_BF16" : "CU_F16";
}

/* The __global__ kernel (its body one template call) and its host launcher, as
 * emit_cuda.c's kernel_pair: `params` the launcher's parameters, `kparams` the
 * kernel's, `body` the template call, `grid`/`block` the launch shape, `args`
 * the kernel's arguments. */
static void mla_kernel_pair(Emitter *e, const char *name, const char *params, const char *kparams, const char *body, const char *grid,
                            const char *block, const char *args) {
    out(e, "__global__ void %s_kernel(%s) {\n    %s;\n}\n", name, kparams, body);
    out(e, "static void %s(%s) {\n    CU_LAUNCH(%s_kernel, %s, %s, 0, cu_stream, %s);\n}\n\n", name, params, name, grid, block, args);
}

void cuda_emit_mla_store(Emitter *e, const Kernel *k) {
    const Node *n = mla_node(e, k);
    int r = n->latent, dr = n->rot_dims;
    out(e, "/* MLA cache write.  For each token the %d latent values of kv_a_proj_with_mqa are\n"
           " * RMS-normalised (kv_a_layernorm, eps %g) and its %d k_pe values rotated (RoPE, %s);\n"
           " * cache row pos+t = [c (%d) | k_pe (%d)], shared by every head. */\n",
        r, n->eps, dr, e->g->rope[n->rope].layout == ROPE_LAYOUT_INTERLEAVED ? "interleaved pairs" : "rotate_half", r, dr);
    char body[256];
    snprintf(body, sizeof body, "cu_mla_store<%d, %d, %s>(ckv, kv_norm, cache, cos_t, sin_t, pos, %s)", r, dr, mla_layout(e, n),
             flit((float)n->eps));
    mla_kernel_pair(e, k->name,
                    "const float *ckv, const float *kv_norm, float *cache, const float *cos_t, const float *sin_t,\n"
                    "        int T, const int *pos",
                    "const float *ckv, const float *kv_norm, float *cache, const float *cos_t, const float *sin_t, const int *pos", body,
                    "dim3(T)", "dim3(CU_MLA_THREADS)", "ckv, kv_norm, cache, cos_t, sin_t, pos");
}

void cuda_emit_mla_attention(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = mla_node(e, k);
    const Weight *w = &g->weights[n->w[1]];
    int r = n->latent, dr = n->rot_dims, dn = n->nope_dim, dv = n->v_dim, nh = n->heads, qk = dn + dr, fp8 = is_fp8(w);
    int bn = fp8 ? block_n(g) : 0, bk = fp8 ? block_k(g) : 0, kt = mla_key_tile(n);
    const char *name = k->name, *ct = fmt_ctype(w->fmt), *layout = mla_layout(e, n), *fmt = mla_fmt(w);
    char blocks[96] = "";
    if (fp8) snprintf(blocks, sizeof blocks, " × block multipliers kv_b_scale (blocks %d×%d)", bn, bk);
    out(e, "/* MLA attention: %d heads, q/k head = %d nope + %d rope, v head %d, latent %d, scale %.9g,\n"
           " * kv_b_proj [%d][%d] %s%s.\n"
           " * q_pe of each head is rotated into q_rot (the scratch), then attention runs\n"
           " *   absorbed (absorbed = 1: decode with mla-absorb): per (token, head) q̃ = W_ukᵀ q_nope\n"
           " *     (%d values), softmax((q̃·c_j + q_pe·k_pe_j) · scale) over the latent cache rows,\n"
           " *     ō = Σ_j p_j c_j, out = W_uv ō: the cache is read as %d floats a row;\n"
           " *   materialised (absorbed = 0: prefill, decode without mla-absorb): per head and\n"
           " *     16 queries, K_nope/V of each tile of %d keys rebuilt from the latent in shared\n"
           " *     memory (k = W_uk c, v = W_uv c), no S × heads buffer,\n"
           " *     then softmax(q_nope·k + q_pe·k_pe) · v with an online softmax.\n"
           " * Both exact up to rounding (rt_mla_* in archc_kernels.h; archc_cuda_mla.cuh). */\n",
        nh, dn, dr, dv, r, n->scale, nh * (dn + dv), r, fmt_short(w->fmt), blocks, r, r + dr, kt);
    char kp_w[160], a_w[64], body[512], grid[64];
    snprintf(kp_w, sizeof kp_w, "const %s *kv_b, %s", ct, fp8 ? "const float *kv_b_scale, " : "");
    snprintf(a_w, sizeof a_w, "kv_b, %s", fp8 ? "kv_b_scale, " : "");
    const char *scale_arg = fp8 ? "kv_b_scale" : "nullptr";

    /* q_rot = q with q_pe rotated */
    char qname[160], qbody[256], kpar[512], kargs[256];
    snprintf(qname, sizeof qname, "%s_q", name);
    snprintf(qbody, sizeof qbody, "cu_mla_q_rope<%d, %d, %d, %s>(q, q_rot, cos_t, sin_t)", nh, dn, dr, layout);
    out(e, "__global__ void %s_kernel(const float *q, float *q_rot, const float *cos_t, const float *sin_t) {\n    %s;\n}\n", qname, qbody);

    /* absorbed */
    snprintf(kpar, sizeof kpar, "const float *q_rot, %sconst float *cache, float *out, const int *pos", kp_w);
    snprintf(body, sizeof body, "cu_mla_absorbed<%s, %d, %d, %d, %d, %d, %d, %d>(q_rot, kv_b, %s, cache, out, pos, %s)", fmt, nh, r, dn,
             dr, dv, bn, bk, scale_arg, flit((float)n->scale));
    out(e, "__global__ void %s_absorbed_kernel(%s) {\n    %s;\n}\n", name, kpar, body);

    /* materialised */
    snprintf(kpar, sizeof kpar, "const float *q_rot, %sconst float *cache, float *out, const int *pos, int T", kp_w);
    snprintf(body, sizeof body, "cu_mla_materialised<%s, %d, %d, %d, %d, %d, %d, %d, %d>(q_rot, kv_b, %s, cache, out, pos, %s, T)", fmt,
             nh, r, dn, dr, dv, bn, bk, kt, scale_arg, flit((float)n->scale));
    out(e, "__global__ void %s_materialised_kernel(%s) {\n    %s;\n}\n", name, kpar, body);

    /* the launcher: the C kernel's parameters */
    out(e, "static void %s(const float *q, %sconst float *cache, const float *cos_t,\n"
           "        const float *sin_t, float *q_rot, float *out, int T, const int *pos, int absorbed) {\n", name, kp_w);
    out(e, "    /* q_rot: [T][%d] of the scratch buffer */\n", nh * qk);
    out(e, "    CU_LAUNCH(%s_kernel, dim3(T), dim3(CU_MLA_THREADS), 0, cu_stream, q, q_rot, cos_t, sin_t);\n", qname);
    snprintf(kargs, sizeof kargs, "q_rot, %scache, out, pos", a_w);
    snprintf(grid, sizeof grid, "dim3(T, %d)", nh);
    out(e, "    if (absorbed) {\n        CU_LAUNCH(%s_absorbed_kernel, %s, dim3(CU_MLA_THREADS), 0, cu_stream, %s);\n    } else {\n", name, grid, kargs);
    snprintf(grid, sizeof grid, "dim3(%d, (T + CU_MLA_QT - 1) / CU_MLA_QT)", nh);
    out(e, "        CU_LAUNCH(%s_materialised_kernel, %s, dim3(CU_MLA_THREADS), 0, cu_stream, %s, T);\n    }\n}\n\n", name, grid, kargs);
}
