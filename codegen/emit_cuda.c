/*
 * codegen/emit_cuda.c — the CUDA backend: one readable .cu per model.
 *
 * A second printer of the lowered program (codegen/program.h); the file reads
 * like the C backend's, top to bottom:
 *
 *   1. header comment and constants, the weight struct and the loader's table
 *      (printed by codegen/emit_c.c for both backends)
 *   2. kernels: per distinct signature a __global__ kernel whose body is one
 *      call of a template of runtime/cuda/archc_cuda.cuh with this model's
 *      literals, and a host launcher with the C kernel's parameters (so a step
 *      prints as the same call in both backends)
 *   3. state on the device: the activation arena, KV caches, RoPE tables, the
 *      scratch buffer, the logits and the call's tokens and position
 *   4. model_init: copies the weights to the device in their stored format
 *   5. forward_prefill / forward_decode: the program's steps as launches on one
 *      stream; decode is captured once as a CUDA graph and replayed (the
 *      position is read by the kernels through a device pointer)
 *   6. model_forward (host ↔ device copies), greedy decode on the device, the
 *      RtModel descriptor and main().
 *
 * Scope (issue 9): the dense families with f32, bf16 and f16 weights.  MoE,
 * MLA, quantised and fp8/MXFP4 weights, attention soft-caps and the MTP module
 * are refused with a message (issue 10).
 */
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "emit_cuda.h"
#include "program.h"
#include "archc_rt.h"

static int unsupported(const Graph *g, const char *what) {
    fprintf(stderr, "%s: error: not yet supported by the CUDA backend: %s\n", g->model.file, what);
    return -1;
}

static int cuda_check(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op == OP_MOE && n->moe.stacked) {
            const MoeAttrs *m = &n->moe;
            int oai = n->act == ACT_SWIGLU_OAI && m->gate_up_interleaved && m->softmax_after_topk && m->score == ROUTER_SOFTMAX;
            int l4 = n->act == ACT_SWIGLU && !m->gate_up_interleaved && m->scale_input && m->score == ROUTER_SIGMOID && !m->bias;
            if (!oai && !l4) return unsupported(g, "this stacked-expert MoE (gpt-oss and Llama 4 run)");
            if (g->weights[n->w[1]].fmt == WFMT_MXFP4 && (n->n_in % 32 || m->intermediate % 32))
                return unsupported(g, "MXFP4 experts whose hidden or intermediate size is not a multiple of 32");
            WeightFormat ef = g->weights[n->w[1]].fmt;
            if (ef != WFMT_F32 && ef != WFMT_BF16 && ef != WFMT_F16 && ef != WFMT_MXFP4)
                return unsupported(g, "stacked experts quantised by archc quantize to int8, int4 or fp8 (gpt-oss and Llama 4 run in f32, bf16, f16 or MXFP4)");
            int sw = n->w[2] >= 0 ? program_weight(g, n->layer, WR_SHARED_GATE) : -1;
            if (sw >= 0 && g->weights[sw].fmt != g->weights[n->w[0]].fmt)
                return unsupported(g, "a Llama 4 shared expert quantised by archc quantize (it runs in the router's format)");
        }
        if (n->op == OP_MLA_ATTENTION && cuda_mla_check(g, n) != 0) return -1;
        if (n->op == OP_ATTENTION && n->softcap != 0)
            return unsupported(g, "attention logit soft-capping");
        if (n->op == OP_GLU && n->act == ACT_SWIGLU_OAI) return unsupported(g, "gpt-oss clamped SwiGLU (issue 10)");
        if (n->op == OP_ATTENTION && n->w[0] >= 0 && g->weights[n->w[0]].fmt != WFMT_F32 && !(g->weights[n->w[0]].flags & W_VECTOR))
            return unsupported(g, "attention sinks stored as a matrix");
    }
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->flags & W_VECTOR) continue;
        int stacked_mx = (w->fmt == WFMT_MXFP4 || w->fmt == WFMT_U8) &&
                         (w->role == WR_EXPERTS_GATE_UP || w->role == WR_EXPERTS_DOWN || w->role == WR_EXPERTS_GATE_UP_SCALES ||
                          w->role == WR_EXPERTS_DOWN_SCALES);   /* gpt-oss's MXFP4 experts and their exponents */
        if (w->fmt != WFMT_F32 && w->fmt != WFMT_BF16 && w->fmt != WFMT_F16 && w->fmt != WFMT_FP8_E4M3 && !stacked_mx) {
            char what[600];
            snprintf(what, sizeof what, "weights in format %s ('%s'): f32, bf16, f16, fp8 and MXFP4 experts run on the GPU; archc quantize's int8, int4 and dense MXFP4 do not yet",
                     fmt_short(w->fmt), w->name);
            return unsupported(g, what);
        }
    }
    return 0;
}

/* ── kernels ─────────────────────────────────────────────────────────────── */

static const Node *knode(const Emitter *e, const Kernel *k) { return &e->g->nodes[k->node]; }

static const char *cu_fmt(WeightFormat f) {
    return f == WFMT_F32 ? "CU_F32" : f == WFMT_BF16 ? "CU_BF16" : f == WFMT_FP8_E4M3 ? "CU_FP8" : "CU_F16";
}
static const char *norm_kind(NormKind k) { return k == NORM_L2 ? "CU_NORM_L2" : k == NORM_RMS_GEMMA ? "CU_NORM_GEMMA" : "CU_NORM_RMS"; }
static const char *act_kind(ActKind a) { return a == ACT_GEGLU_TANH ? "CU_ACT_GELU_TANH" : "CU_ACT_SILU"; }
static const char *rope_layout(const Emitter *e, const Node *n) {
    return n->rope >= 0 && e->g->rope[n->rope].layout == ROPE_LAYOUT_INTERLEAVED ? "CU_ROPE_INTERLEAVED" : "CU_ROPE_HALF";
}

/* The __global__ kernel (its body one template call) and its host launcher.
 * `params` is the launcher's parameter list, `kparams` the kernel's (without
 * T), `body` the template call, `grid`/`block` the launch shape (may use T),
 * `args` the kernel's arguments. */
static int cur_kernel;   /* the program kernel being printed (emit_kernels) */

static void kernel_pair(Emitter *e, const char *name, const char *params, const char *kparams, const char *body, const char *grid,
                        const char *block, const char *args) {
    cuda_op_register(cur_kernel, params, name, kparams, body, grid, args);
    out(e, "__global__ void %s_kernel(%s) {\n    %s;\n}\n", name, kparams, body);
    out(e, "static void %s(%s) {\n    CU_LAUNCH(%s_kernel, %s, %s, 0, cu_stream, %s);\n}\n\n", name, params, name, grid, block, args);
}

static void emit_embed(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const Weight *w = &e->g->weights[n->w[0]];
    float sc = (float)n->scale;
    /* f32(sqrt(hidden)) whatever the checkpoint's dtype, as the C backend (emit_embed_kernel) */
    char params[256], kp[256], body[256];
    out(e, "/* x[t] = embed[token[t]]%s, widened to f32 */\n", n->scale != 0 ? " × scale" : "");
    snprintf(params, sizeof params, "const int *tokens, const %s *E, float *x, int T", fmt_ctype(w->fmt));
    snprintf(kp, sizeof kp, "const int *tokens, const %s *E, float *x", fmt_ctype(w->fmt));
    snprintf(body, sizeof body, "cu_embed<%s, %d>(cu_grid_tile(), tokens, E, x, %s)", cu_fmt(w->fmt), n->n_out, flit(n->scale != 0 ? sc : 0.0f));
    kernel_pair(e, k->name, params, kp, body, "dim3(T)", "dim3(256)", "tokens, E, x");
}

static void emit_rmsnorm(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    int groups = n->n_in / n->group;
    char body[256];
    out(e, "/* %s over %s%d values, eps = %g: y = %s */\n", n->norm_kind == NORM_L2 ? "L2 norm" : "RMSNorm",
        groups > 1 ? "each head of " : "", n->group, n->eps,
        n->norm_kind == NORM_L2 ? "x / rms(x)" : n->norm_kind == NORM_RMS_GEMMA ? "(1 + w) ⊙ x / rms(x)" : "w ⊙ x / rms(x)");
    snprintf(body, sizeof body, "cu_rmsnorm<%d, %d, %s>(cu_grid_tile(), x, w, y, %s)", n->n_in, n->group, norm_kind(n->norm_kind), flit((float)n->eps));
    char grid[64];
    snprintf(grid, sizeof grid, "dim3(T, %d)", groups);
    kernel_pair(e, k->name, "const float *x, const float *w, float *y, int T", "const float *x, const float *w, float *y", body, grid,
                n->group <= 32 ? "dim3(32)" : "dim3(128)", "x, w, y");
}

static void emit_linear(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const Weight *w = &g->weights[n->w[0]];
    int glu = n->op == OP_LINEAR_GLU, bias = k->bias, gemv = k->gemv, residual = k->residual;
    const char *T = gemv ? "1" : "T", *ct = fmt_ctype(w->fmt);
    if (glu)
        out(e, "/* y[%s][%d] = %s(x·Wgᵀ%s) ⊙ (x·Wuᵀ%s); x [%s][%d] f32, Wg/Wu [%d][%d] %s%s */\n", T, n->n_out,
            n->act == ACT_GEGLU_TANH ? "gelu_tanh" : "silu", bias ? " + bg" : "", bias ? " + bu" : "", T, n->n_in, n->n_out, n->n_in,
            fmt_short(w->fmt), gemv ? " (decode: a warp per output row)" : " (prefill: 64×64 tiles)");
    else
        out(e, "/* y[%s][%d] = %sx·Wᵀ%s; x [%s][%d] f32, W [%d][%d] %s%s */\n", T, n->n_out, residual ? "res + " : "", bias ? " + b" : "", T,
            n->n_in, n->n_out, n->n_in, fmt_short(w->fmt), gemv ? " (decode: a warp per output row)" : " (prefill: 64×64 tiles)");
    int fp8 = is_fp8(w);
    char params[600], kp[700], args[256], body[600], epi[96] = "", grid[96];
    int np = snprintf(params, sizeof params, "const float *x, const %s *W%s", ct, fp8 ? ", const float *Ws" : "");
    int na = snprintf(args, sizeof args, "x, W%s", fp8 ? ", Ws" : "");
    if (glu) {
        np += snprintf(params + np, sizeof params - np, ", const %s *Wu%s", ct, fp8 ? ", const float *Wus" : "");
        na += snprintf(args + na, sizeof args - na, ", Wu%s", fp8 ? ", Wus" : "");
    }
    if (bias) {
        np += snprintf(params + np, sizeof params - np, glu ? ", const float *bg, const float *bu" : ", const float *b");
        na += snprintf(args + na, sizeof args - na, glu ? ", bg, bu" : ", b");
    }
    if (residual) { np += snprintf(params + np, sizeof params - np, ", const float *res"); na += snprintf(args + na, sizeof args - na, ", res"); }
    np += snprintf(params + np, sizeof params - np, ", float *y");
    na += snprintf(args + na, sizeof args - na, ", y");
    snprintf(kp, sizeof kp, "%s%s", params, gemv ? "" : ", int T");
    if (!gemv) {
        snprintf(params + np, sizeof params - np, ", int T");
        snprintf(args + na, sizeof args - na, ", T");
    }
    if (bias) strcat(epi, "CU_EPI_BIAS | ");
    if (residual) strcat(epi, "CU_EPI_RES | ");
    if (glu) strcat(epi, "CU_EPI_GLU | ");
    if (*epi) epi[strlen(epi) - 3] = 0; else strcpy(epi, "0");
    char blocks[32] = "1, 1";
    if (fp8) snprintf(blocks, sizeof blocks, "%d, %d", block_n(g), block_k(g));
    snprintf(body, sizeof body, "cu_%s<%s, %d, %d, %s, %s, %s>(cu_grid_tile(), x, W, %s, %s, %s, %s, %s, %s, y%s)", gemv ? "gemv" : "gemm", cu_fmt(w->fmt),
             n->n_out, n->n_in, epi, glu ? act_kind(n->act) : "0", blocks, fp8 ? "Ws" : "nullptr", glu ? "Wu" : "nullptr",
             glu && fp8 ? "Wus" : "nullptr", bias ? (glu ? "bg" : "b") : "nullptr", bias && glu ? "bu" : "nullptr", residual ? "res" : "nullptr",
             gemv ? "" : ", T");
    if (gemv) snprintf(grid, sizeof grid, "dim3(%d)", (n->n_out + 7) / 8);
    else snprintf(grid, sizeof grid, "dim3(%d, (T + CU_GEMM_TILE - 1) / CU_GEMM_TILE)", (n->n_out + 63) / 64);
    if (gemv || w->fmt != WFMT_BF16) {
        kernel_pair(e, k->name, params, kp, body, grid, "dim3(256)", args);
        return;
    }
    /* bf16 prefill: the exact f32 kernel, and tensor cores for --precision bf16 */
    char tc[600];
    snprintf(tc, sizeof tc, "cu_gemm_tc<%d, %d, %s, %s>(cu_grid_tile(), x, W, %s, %s, %s, %s, y, T)", n->n_out, n->n_in, epi,
             glu ? act_kind(n->act) : "0", glu ? "Wu" : "nullptr", bias ? (glu ? "bg" : "b") : "nullptr", bias && glu ? "bu" : "nullptr",
             residual ? "res" : "nullptr");
    cuda_op_register(cur_kernel, params, k->name, kp, body, grid, args);
    out(e, "__global__ void %s_kernel(%s) {\n    %s;\n}\n", k->name, kp, body);
    out(e, "__global__ void %s_tc_kernel(%s) {\n    %s;\n}\n", k->name, kp, tc);
    out(e, "static void %s(%s) {\n", k->name, params);
    out(e, "    if (rt_precision == RT_PRECISION_BF16)   /* --precision bf16: x rounded to bf16, tensor cores */\n"
           "        CU_LAUNCH(%s_tc_kernel, %s, dim3(CU_TC_THREADS), 0, cu_stream, %s);\n", k->name, grid, args);
    out(e, "    else\n        CU_LAUNCH(%s_kernel, %s, dim3(256), 0, cu_stream, %s);\n}\n\n", k->name, grid, args);
}

static void emit_elementwise(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    char body[160];
    const char *params, *kp, *args;
    switch (k->kind) {
    case KK_BIAS:
        out(e, "/* y = x + b */\n");
        snprintf(body, sizeof body, "cu_bias<%d>(cu_grid_tile(), x, b, y, T)", n->n_in);
        params = "const float *x, const float *b, float *y, int T"; args = "x, b, y, T";
        break;
    case KK_ADD:
        out(e, "/* y = a + b */\n");
        snprintf(body, sizeof body, "cu_add<%d>(cu_grid_tile(), a, b, y, T)", n->n_in);
        params = "const float *a, const float *b, float *y, int T"; args = "a, b, y, T";
        break;
    case KK_CONCAT: {
        int a = e->g->vals[n->in[0]].width, b = e->g->vals[n->in[1]].width;
        out(e, "/* y[t] = [a[t] | b[t]] */\n");
        snprintf(body, sizeof body, "cu_concat<%d, %d>(cu_grid_tile(), a, b, y, T)", a, b);
        params = "const float *a, const float *b, float *y, int T"; args = "a, b, y, T";
        char grid[96];
        snprintf(grid, sizeof grid, "dim3(cu_blocks((size_t)T * %d))", a + b);
        kernel_pair(e, k->name, params, params, body, grid, "dim3(256)", args);
        return;
    }
    default:  /* KK_GLU */
        out(e, "/* y = %s(gate) ⊙ up */\n", n->act == ACT_GEGLU_TANH ? "gelu_tanh" : "silu");
        snprintf(body, sizeof body, "cu_glu<%d, %s>(cu_grid_tile(), gate, up, y, T)", n->n_in, act_kind(n->act));
        params = "const float *gate, const float *up, float *y, int T"; args = "gate, up, y, T";
        break;
    }
    kp = params;
    char grid[96];
    snprintf(grid, sizeof grid, "dim3(cu_blocks((size_t)T * %d))", n->n_in);
    kernel_pair(e, k->name, params, kp, body, grid, "dim3(256)", args);
}

static void emit_rope(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    char body[256];
    out(e, "/* RoPE on %d heads of %d (first %d dims rotated), cos/sin per token [T][%d] */\n", n->heads, n->head_dim, n->rot_dims,
        n->rot_dims / 2);
    snprintf(body, sizeof body, "cu_rope<%d, %d, %d, %s>(cu_grid_tile(), x, y, cos_t, sin_t)", n->heads, n->head_dim, n->rot_dims, rope_layout(e, n));
    kernel_pair(e, k->name, "const float *x, float *y, const float *cos_t, const float *sin_t, int T",
                "const float *x, float *y, const float *cos_t, const float *sin_t", body, "dim3(T)", "dim3(CU_QK_THREADS)",
                "x, y, cos_t, sin_t");
}

static void emit_kv_store(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    char body[160];
    if (n->ring) out(e, "/* write T rows of k and v for positions pos … pos+T-1 into a ring of %d rows (swa-tile) */\n", n->ring);
    else out(e, "/* append T rows of k and v to the cache at positions pos … pos+T-1 */\n");
    snprintf(body, sizeof body, "cu_kv_store<%d, %d>(cu_grid_tile(), k, v, k_cache, v_cache, pos)", n->kv_heads * n->head_dim, n->ring);
    kernel_pair(e, k->name, "const float *k, const float *v, float *k_cache, float *v_cache, int T, const int *pos",
                "const float *k, const float *v, float *k_cache, float *v_cache, const int *pos", body, "dim3(T)", "dim3(256)",
                "k, v, k_cache, v_cache, pos");
}

static void emit_qk(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    int d = n->head_dim;
    out(e, "/* qknorm-fuse: for each token, %s%s write k and v into the KV cache at its position%s.\n"
           " * q: %d heads × %d, k/v: %d heads × %d. */\n",
        n->qk_norm == QKNORM_HEAD ? "RMSNorm each q/k head, " : n->qk_norm == QKNORM_WHOLE ? "RMSNorm the whole q and k projections, " : "",
        n->rope >= 0 ? "rotate q and k (RoPE)," : "(NoPE layer: no rotation)", n->ring ? " (a ring: swa-tile)" : "", n->heads, d, n->kv_heads, d);
    char body[512];
    snprintf(body, sizeof body,
             "cu_qk_norm_rope_store<%d, %d, %d, %d, %s, %s, %s, %s, %d>(cu_grid_tile(), q, k, v, q_norm, k_norm, q_out, k_cache, v_cache,\n"
             "        cos_t, sin_t, pos, %s)",
             n->heads, n->kv_heads, d, n->rope >= 0 ? n->rot_dims : 0, rope_layout(e, n),
             n->qk_norm == QKNORM_HEAD ? "CU_QKNORM_HEAD" : n->qk_norm == QKNORM_WHOLE ? "CU_QKNORM_WHOLE" : "CU_QKNORM_NONE",
             norm_kind(n->norm_kind), n->rope >= 0 ? "true" : "false", n->ring, flit((float)n->eps));
    kernel_pair(e, k->name,
                "const float *q, const float *k, const float *v, const float *q_norm, const float *k_norm,\n"
                "        float *q_out, float *k_cache, float *v_cache, const float *cos_t, const float *sin_t, int T, const int *pos",
                "const float *q, const float *k, const float *v, const float *q_norm, const float *k_norm,\n"
                "        float *q_out, float *k_cache, float *v_cache, const float *cos_t, const float *sin_t, const int *pos",
                body, "dim3(T, 2)", "dim3(CU_QK_THREADS)", "q, k, v, q_norm, k_norm, q_out, k_cache, v_cache, cos_t, sin_t, pos");
}

/* Keys per block of the decode attention: small for short contexts (so the
 * tests' contexts span several blocks), 256 for long ones. */
static int att_split_keys(int rows) { return rows <= 4096 ? 32 : 256; }

/* Floats of the decode attention's parts: the largest over the attention kernels. */
static long long att_part_floats(const Emitter *e) {
    long long most = 0;
    for (int i = 0; i < e->p->n_kernels; i++) {
        const Kernel *k = &e->p->kernels[i];
        if (k->kind != KK_ATTENTION) continue;
        const Node *n = &e->g->nodes[k->node];
        int rows = n->window ? n->window : n->chunk ? n->chunk : e->g->model.max_context, keys = att_split_keys(rows);
        long long f = (long long)n->heads * ((rows + keys - 1) / keys) * (n->head_dim + 2);
        if (f > most) most = f;
    }
    return most;
}

static void emit_attention(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    int sinks = n->w[0] >= 0;
    out(e, "/* %s attention: %d query heads, %d kv heads (%d per group), head_dim %d, scale %.9g%s */\n",
        n->window ? "sliding-window" : n->chunk ? "chunked" : "causal", n->heads, n->kv_heads, n->heads / n->kv_heads, n->head_dim, n->scale,
        sinks ? ", with sinks" : "");
    if (n->window) out(e, "/* each query sees the %d most recent keys, itself included */\n", n->window);
    if (n->chunk) out(e, "/* each query sees the keys of its own %d-token chunk up to itself */\n", n->chunk);
    if (n->logn_seq > 0)
        out(e, "/* LogN (Qwen-1): q at position p is scaled by ln(p + 1) / ln(%d) once p + 1 > %d */\n", n->logn_seq, n->logn_seq);
    if (n->temp_floor > 0)
        out(e, "/* temperature tuning: q at position p is scaled by 1 + %g·log1p(floor((p + 1) / %g)) */\n", n->temp_scale, n->temp_floor);
    /* decode spreads the keys over S blocks per head (flash-decoding): KEYS per block */
    int rows = n->window ? n->window : n->chunk ? n->chunk : e->g->model.max_context, keys = att_split_keys(rows);
    int S = (rows + keys - 1) / keys;
    const char *nm = k->name, *sk = sinks ? "sinks" : "nullptr";
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%d, %d, %d, %d, %d, %d, %s, %s, %s", n->heads, n->kv_heads, n->head_dim, n->window, n->chunk, n->ring,
             sinks ? "true" : "false", n->temp_floor > 0 ? "true" : "false", n->logn_seq > 0 ? "true" : "false");
    const char *kp = sinks ? "const float *q, const float *k_cache, const float *v_cache, const float *sinks, float *out, float *part, const int *pos"
                           : "const float *q, const float *k_cache, const float *v_cache, float *out, float *part, const int *pos";
    char body[2][512], merge[256], name[2][192], params[256], grid[64], args[160];
    for (int split = 0; split < 2; split++) {
        snprintf(body[split], sizeof body[split], "cu_attention<%s, %d>(cu_grid_tile(), q, k_cache, v_cache, %s, out, part, pos, %s,\n        %s, %s, %d)",
                 tmpl, split ? keys : 0, sk, flit((float)n->scale), flit((float)n->temp_floor), flit((float)n->temp_scale), n->logn_seq);
        snprintf(name[split], sizeof name[split], "%s%s", nm, split ? "_split" : "");
        out(e, "__global__ void %s_kernel(%s) {\n    %s;\n}\n", name[split], kp, body[split]);
    }
    snprintf(merge, sizeof merge, "cu_attention_merge<%d, %d, %d, %s>(cu_grid_tile(), part, sinks, out)", n->heads, n->head_dim, S,
             sinks ? "true" : "false");
    out(e, "__global__ void %s_merge_kernel(const float *part, const float *sinks, float *out) {\n    %s;\n}\n", nm, merge);
    /* decode's two launches, for the persistent decode's instruction list */
    snprintf(params, sizeof params, "const float *q, const float *k_cache, const float *v_cache, %sfloat *out, int T, const int *pos",
             sinks ? "const float *sinks, " : "");
    snprintf(grid, sizeof grid, "dim3(1, %d, %d)", n->heads, S);
    snprintf(args, sizeof args, "q, k_cache, v_cache, %sout, d_att_part, pos", sinks ? "sinks, " : "");
    cuda_op_register(cur_kernel, params, name[1], kp, body[1], grid, args);
    snprintf(name[0], sizeof name[0], "%s_merge", nm);
    snprintf(grid, sizeof grid, "dim3(%d)", n->heads);
    snprintf(args, sizeof args, "d_att_part, %s, out", sk);
    cuda_op_register(cur_kernel, params, name[0], "const float *part, const float *sinks, float *out", merge, grid, args);
    out(e, "static void %s(%s) {\n", nm, params);
    out(e, "    if (T == 1) {   /* decode: %d blocks of %d keys per head, then their merge */\n", S, keys);
    out(e, "        CU_LAUNCH(%s_split_kernel, dim3(1, %d, %d), dim3(32 * CU_ATT_WARPS), 0, cu_stream, q, k_cache, v_cache, %sout, d_att_part, pos);\n",
        nm, n->heads, S, sinks ? "sinks, " : "");
    out(e, "        CU_LAUNCH(%s_merge_kernel, dim3(%d), dim3(128), 0, cu_stream, d_att_part, %s, out);\n", nm, n->heads, sk);
    out(e, "    } else {\n");
    out(e, "        CU_LAUNCH(%s_kernel, dim3(T, %d), dim3(32 * CU_ATT_WARPS), 0, cu_stream, q, k_cache, v_cache, %sout, nullptr, pos);\n", nm,
        n->heads, sinks ? "sinks, " : "");
    out(e, "    }\n}\n\n");
}

/* A mixture-of-experts layer: five launches (router logits, routing, the chosen
 * experts' SwiGLU, their weighted down projections, the shared expert) on
 * buffers allocated at load time (NAME_logits, _sel, _wt, _act, _act_shared). */
static void emit_moe(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const MoeAttrs *f = &n->moe;
    const Weight *rw = &g->weights[n->w[0]], *ew = &g->weights[n->w[1]];
    const char *ct = fmt_ctype(ew->fmt), *rt = fmt_ctype(rw->fmt), *nm = k->name;
    int fp8 = is_fp8(ew), H = n->n_in, I = f->intermediate, E = f->experts, K = f->top_k, SI = f->shared_width;
    char blocks[32] = "1, 1";
    if (fp8) snprintf(blocks, sizeof blocks, "%d, %d", block_n(g), block_k(g));
    out(e, "/* mixture of experts: router %s over %d experts, top %d%s%s; each expert\n"
           " * down(silu(gate·x) ⊙ up·x) with hidden %d, expert width %d%s.  Only the chosen\n"
           " * experts' weights are read (one warp per row, per token and choice)%s. */\n",
        f->score == ROUTER_SIGMOID ? "sigmoid" : "softmax", E, K, f->normalize ? " renormalised" : "",
        f->groups > 1 ? ", group-limited" : "", H, I, SI ? "; plus the shared expert" : "",
        n->grouped ? ";\n * in prefill (expert-group) each expert runs one product over its tokens, 64 rows a tile" : "");
    out(e, "/* its buffers, allocated at load time: router logits [TMAX][%d], choices and weights [TMAX][%d],\n"
           " * the chosen experts' activations [TMAX·%d][%d]%s */\n", E, K, K, I, SI ? ", the shared expert's [TMAX][shared width]" : "");
    out(e, "static float *%s_logits, *%s_wt, *%s_act;\nstatic int *%s_sel;\n", nm, nm, nm, nm);
    if (SI) out(e, "static float *%s_act_shared;\n", nm);
    if (n->grouped) {
        out(e, "/* expert-group: the pairs sorted by expert [TMAX·%d], per expert its first pair and first tile [%d + 1],\n"
               " * the pairs' down projections [TMAX·%d][%d] */\n", K, E, K, H);
        out(e, "static int *%s_perm, *%s_offsets, *%s_tiles;\nstatic float *%s_down;\n", nm, nm, nm, nm);
    }
    out(e, "__global__ void %s_router_kernel(const float *x, const %s *router, float *logits, int T) {\n"
           "    if (T == 1) cu_gemv<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits);\n"
           "    else cu_gemm<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits, T);\n}\n",
        nm, rt, cu_fmt(rw->fmt), E, H, cu_fmt(rw->fmt), E, H);
    out(e, "__global__ void %s_route_kernel(const float *logits, const float *select_bias, int *sel, float *wt) {\n"
           "    cu_moe_route<%d, %d, %s, %d, %d, %s, %s>(cu_grid_tile(), logits, select_bias, sel, wt, %s);\n}\n",
        nm, E, K, f->score == ROUTER_SIGMOID ? "true" : "false", f->groups > 1 ? f->groups : 1, f->groups > 1 ? f->top_groups : 0,
        f->group_max ? "true" : "false", f->normalize ? "true" : "false", flit((float)f->scale));
    out(e, "__global__ void %s_gate_up_kernel(const float *x, const %s *const *gate, const %s *const *up, const float *const *gate_s,\n"
           "        const float *const *up_s, const int *sel, float *act) {\n"
           "    cu_moe_gate_up<%s, %d, %d, %d, %s>(cu_grid_tile(), x, gate, up, gate_s, up_s, sel, act);\n}\n", nm, ct, ct, cu_fmt(ew->fmt), H, I, K, blocks);
    out(e, "__global__ void %s_down_kernel(const float *act, const %s *const *down, const float *const *down_s, const int *sel,\n"
           "        const float *wt, float *y) {\n"
           "    cu_moe_down<%s, %d, %d, %d, %s>(cu_grid_tile(), act, down, down_s, sel, wt, y);\n}\n", nm, ct, cu_fmt(ew->fmt), H, I, K, blocks);
    if (n->grouped) {
        out(e, "__global__ void %s_group_kernel(const int *sel, int T, int *perm, int *offsets, int *tiles) {\n"
               "    cu_moe_group<%d, %d>(sel, T, perm, offsets, tiles);\n}\n", nm, E, K);
        out(e, "__global__ void %s_gate_up_grouped_kernel(const float *x, const %s *const *gate, const %s *const *up,\n"
               "        const float *const *gate_s, const float *const *up_s, const int *perm, const int *offsets, const int *tiles, float *act) {\n"
               "    cu_moe_grouped<%s, %d, %d, %d, %d, true, false, %s>(cu_grid_tile(), x, gate, up, gate_s, up_s, perm, offsets, tiles, act);\n}\n",
            nm, ct, ct, cu_fmt(ew->fmt), I, H, E, K, blocks);
        out(e, "__global__ void %s_down_grouped_kernel(const float *act, const %s *const *down, const float *const *down_s,\n"
               "        const int *perm, const int *offsets, const int *tiles, float *out) {\n"
               "    cu_moe_grouped<%s, %d, %d, %d, %d, false, true, %s>(cu_grid_tile(), act, down, nullptr, down_s, nullptr, perm, offsets, tiles,\n"
               "        out);\n}\n", nm, ct, cu_fmt(ew->fmt), H, I, E, K, blocks);
        out(e, "__global__ void %s_combine_kernel(const float *down, const float *wt, float *y, int T) {\n"
               "    cu_moe_combine<%d, %d>(cu_grid_tile(), down, wt, y, T);\n}\n", nm, H, K);
    }
    if (SI) {
        out(e, "__global__ void %s_shared_gate_up_kernel(const float *x, const %s *g, const float *gs, const %s *u, const float *us,\n"
               "        float *act, int T) {\n"
               "    if (T == 1) cu_gemv<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, %s>(cu_grid_tile(), x, g, gs, u, us, nullptr, nullptr, nullptr, act);\n"
               "    else cu_gemm<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, %s>(cu_grid_tile(), x, g, gs, u, us, nullptr, nullptr, nullptr, act, T);\n}\n",
            nm, ct, ct, cu_fmt(ew->fmt), SI, H, blocks, cu_fmt(ew->fmt), SI, H, blocks);
        out(e, "__global__ void %s_shared_down_kernel(const float *act, const %s *d, const float *ds, float *y, int T) {\n"
               "    if (T == 1) cu_gemv<%s, %d, %d, CU_EPI_RES, 0, %s>(cu_grid_tile(), act, d, ds, nullptr, nullptr, nullptr, nullptr, y, y);\n"
               "    else cu_gemm<%s, %d, %d, CU_EPI_RES, 0, %s>(cu_grid_tile(), act, d, ds, nullptr, nullptr, nullptr, nullptr, y, y, T);\n}\n",
            nm, ct, cu_fmt(ew->fmt), H, SI, blocks, cu_fmt(ew->fmt), H, SI, blocks);
    }
    char lp[900];
    snprintf(lp, sizeof lp, "const float *x, const %s *router, const %s *const *gate, const %s *const *up,\n"
             "        const %s *const *down, const float *select_bias, const %s *shared_gate, const %s *shared_up,\n"
             "        const %s *shared_down, %sfloat *y, int T", rt, ct, ct, ct, ct, ct, ct,
             fp8 ? "const float *const *gate_s, const float *const *up_s, const float *const *down_s,\n"
                   "        const float *shared_gate_s, const float *shared_up_s, const float *shared_down_s, " : "");
    {   /* decode's launches, for the persistent decode's instruction list (GEMV forms only) */
        char nmk[320], kp[700], body[700], grid[64], args[600];
        const char *gs = fp8 ? "gate_s" : "nullptr", *us = fp8 ? "up_s" : "nullptr", *ds = fp8 ? "down_s" : "nullptr";
        snprintf(nmk, sizeof nmk, "%s_router", nm);
        snprintf(kp, sizeof kp, "const float *x, const %s *router, float *logits", rt);
        snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits)",
                 cu_fmt(rw->fmt), E, H);
        snprintf(grid, sizeof grid, "dim3(%d)", (E + 7) / 8);
        snprintf(args, sizeof args, "x, router, %s_logits", nm);
        cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        snprintf(nmk, sizeof nmk, "%s_route", nm);
        snprintf(body, sizeof body, "cu_moe_route<%d, %d, %s, %d, %d, %s, %s>(cu_grid_tile(), logits, select_bias, sel, wt, %s)", E, K,
                 f->score == ROUTER_SIGMOID ? "true" : "false", f->groups > 1 ? f->groups : 1, f->groups > 1 ? f->top_groups : 0,
                 f->group_max ? "true" : "false", f->normalize ? "true" : "false", flit((float)f->scale));
        snprintf(args, sizeof args, "%s_logits, select_bias, %s_sel, %s_wt", nm, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, "const float *logits, const float *select_bias, int *sel, float *wt", body, "dim3(T)", args);
        snprintf(nmk, sizeof nmk, "%s_gate_up", nm);
        snprintf(kp, sizeof kp, "const float *x, const %s *const *gate, const %s *const *up, const float *const *gate_s, const float *const *up_s, "
                 "const int *sel, float *act", ct, ct);
        snprintf(body, sizeof body, "cu_moe_gate_up<%s, %d, %d, %d, %s>(cu_grid_tile(), x, gate, up, gate_s, up_s, sel, act)", cu_fmt(ew->fmt), H,
                 I, K, blocks);
        snprintf(grid, sizeof grid, "dim3(%d, T * %d)", (I + 7) / 8, K);
        snprintf(args, sizeof args, "x, gate, up, %s, %s, %s_sel, %s_act", gs, us, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        snprintf(nmk, sizeof nmk, "%s_down", nm);
        snprintf(kp, sizeof kp, "const float *act, const %s *const *down, const float *const *down_s, const int *sel, const float *wt, float *y", ct);
        snprintf(body, sizeof body, "cu_moe_down<%s, %d, %d, %d, %s>(cu_grid_tile(), act, down, down_s, sel, wt, y)", cu_fmt(ew->fmt), H, I, K,
                 blocks);
        snprintf(grid, sizeof grid, "dim3(%d, T)", (H + 7) / 8);
        snprintf(args, sizeof args, "%s_act, down, %s, %s_sel, %s_wt, y", nm, ds, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        if (SI) {
            snprintf(nmk, sizeof nmk, "%s_shared_gate_up", nm);
            snprintf(kp, sizeof kp, "const float *x, const %s *g, const float *gs, const %s *u, const float *us, float *act", ct, ct);
            snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, %s>(cu_grid_tile(), x, g, gs, u, us, nullptr, nullptr, nullptr, act)",
                     cu_fmt(ew->fmt), SI, H, blocks);
            snprintf(grid, sizeof grid, "dim3(%d)", (SI + 7) / 8);
            snprintf(args, sizeof args, "x, shared_gate, %s, shared_up, %s, %s_act_shared", fp8 ? "shared_gate_s" : "nullptr",
                     fp8 ? "shared_up_s" : "nullptr", nm);
            cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
            snprintf(nmk, sizeof nmk, "%s_shared_down", nm);
            snprintf(kp, sizeof kp, "const float *act, const %s *d, const float *ds, float *y", ct);
            snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, CU_EPI_RES, 0, %s>(cu_grid_tile(), act, d, ds, nullptr, nullptr, nullptr, nullptr, y, y)",
                     cu_fmt(ew->fmt), H, SI, blocks);
            snprintf(grid, sizeof grid, "dim3(%d)", (H + 7) / 8);
            snprintf(args, sizeof args, "%s_act_shared, shared_down, %s, y", nm, fp8 ? "shared_down_s" : "nullptr");
            cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        }
    }
    out(e, "static void %s(%s) {\n", nm, lp);
    if (!fp8) out(e, "    const float *const *gate_s = nullptr, *const *up_s = nullptr, *const *down_s = nullptr;\n");
    if (!SI) out(e, "    (void)shared_gate; (void)shared_up; (void)shared_down;\n");
    else if (!fp8) out(e, "    const float *shared_gate_s = nullptr, *shared_up_s = nullptr, *shared_down_s = nullptr;\n");
    out(e, "    const unsigned tiles = (unsigned)((T + CU_GEMM_TILE - 1) / CU_GEMM_TILE);\n");
    out(e, "    CU_LAUNCH(%s_router_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, x, router, %s_logits, T);\n",
        nm, (E + 7) / 8, (E + 63) / 64, nm);
    out(e, "    CU_LAUNCH(%s_route_kernel, dim3(T), dim3(1), 0, cu_stream, %s_logits, select_bias, %s_sel, %s_wt);\n", nm, nm, nm, nm);
    const char *ind = n->grouped ? "        " : "    ";
    if (n->grouped) {
        out(e, "    if (T > 1) {   /* prefill: each expert's tokens as one product (expert-group) */\n");
        out(e, "        const unsigned expert_tiles = (unsigned)((T * %d + CU_GEMM_TILE - 1) / CU_GEMM_TILE + %d);\n", K, E);
        out(e, "        CU_LAUNCH(%s_group_kernel, dim3(1), dim3(1), 0, cu_stream, %s_sel, T, %s_perm, %s_offsets, %s_tiles);\n", nm, nm, nm, nm, nm);
        out(e, "        CU_LAUNCH(%s_gate_up_grouped_kernel, dim3(%d, expert_tiles), dim3(256), 0, cu_stream, x, gate, up, gate_s, up_s,\n"
               "                  %s_perm, %s_offsets, %s_tiles, %s_act);\n", nm, (I + 63) / 64, nm, nm, nm, nm);
        out(e, "        CU_LAUNCH(%s_down_grouped_kernel, dim3(%d, expert_tiles), dim3(256), 0, cu_stream, %s_act, down, down_s,\n"
               "                  %s_perm, %s_offsets, %s_tiles, %s_down);\n", nm, (H + 63) / 64, nm, nm, nm, nm, nm);
        out(e, "        CU_LAUNCH(%s_combine_kernel, dim3(cu_blocks((size_t)T * %d)), dim3(256), 0, cu_stream, %s_down, %s_wt, y, T);\n", nm, H,
            nm, nm);
        out(e, "    } else {   /* decode: one warp per row of each chosen expert */\n");
    }
    out(e, "%sCU_LAUNCH(%s_gate_up_kernel, dim3(%d, T * %d), dim3(256), 0, cu_stream, x, gate, up, gate_s, up_s, %s_sel, %s_act);\n", ind, nm,
        (I + 7) / 8, K, nm, nm);
    out(e, "%sCU_LAUNCH(%s_down_kernel, dim3(%d, T), dim3(256), 0, cu_stream, %s_act, down, down_s, %s_sel, %s_wt, y);\n", ind, nm,
        (H + 7) / 8, nm, nm, nm);
    if (n->grouped) out(e, "    }\n");
    if (SI) {
        out(e, "    /* the shared expert, added after the routed sum as HF adds it */\n");
        out(e, "    CU_LAUNCH(%s_shared_gate_up_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, x, shared_gate,\n"
               "              shared_gate_s, shared_up, shared_up_s, %s_act_shared, T);\n", nm, (SI + 7) / 8, (SI + 63) / 64, nm);
        out(e, "    CU_LAUNCH(%s_shared_down_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, %s_act_shared, shared_down,\n"
               "              shared_down_s, y, T);\n", nm, (H + 7) / 8, (H + 63) / 64, nm);
    }
    out(e, "}\n\n");
}

/* Stacked experts (gpt-oss, Llama 4): router logits, top-k routing, the chosen
 * experts' gate/up and activation, their down projections summed, and Llama 4's
 * shared expert; buffers allocated at load time. */
static void emit_moe_stacked(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const MoeAttrs *f = &n->moe;
    const Weight *rw = &g->weights[n->w[0]], *ew = &g->weights[n->w[1]];
    const char *nm = k->name, *rf = cu_fmt(rw->fmt);
    int oai = n->act == ACT_SWIGLU_OAI, mx = ew->fmt == WFMT_MXFP4;
    int H = n->n_in, I = f->intermediate, E = f->experts, K = f->top_k, SI = f->shared_width;
    const char *ef = mx ? "CU_F32" : cu_fmt(ew->fmt), *route = oai ? "CU_ROUTE_TOPK_SOFTMAX" : "CU_ROUTE_TOPK_SIGMOID_INPUT";
    if (oai)
        out(e, "/* gpt-oss experts: router logits + bias, top %d, softmax over those %d weights the outputs;\n"
               " * each expert: gate|up columns interleaved, h = (clamp(up, ±%g) + 1) · g·σ(%g·g) with\n"
               " * g = min(gate, %g), plus biases; %d experts of width %d, weights %s%s. */\n",
            K, K, n->act_limit, n->act_alpha, n->act_limit, E, I, fmt_short(ew->fmt),
            mx ? " ([E][out][in/32] blocks of 32 e2m1 values, e8m0 exponents; a warp per output)" : " ([E][in][out]; a thread per output)");
    else
        out(e, "/* Llama 4 experts: top %d of the router logits, σ(logit) scales the expert's input;\n"
               " * each expert SwiGLU with gate|up halves; plus the shared expert (width %d);\n"
               " * %d experts of width %d, weights %s ([E][in][out]; a thread per output). */\n", K, SI, E, I, fmt_short(ew->fmt));
    out(e, "static float *%s_logits, *%s_wt, *%s_h;   /* [TMAX][%d], [TMAX][%d], [TMAX·%d][%d] (load time) */\nstatic int *%s_sel;\n", nm, nm, nm,
        E, K, K, I, nm);
    if (SI) out(e, "static float *%s_act_shared;   /* [TMAX][%d] */\n", nm, SI);
    out(e, "__global__ void %s_router_kernel(const float *x, const %s *router, float *logits, int T) {\n"
           "    if (T == 1) cu_gemv<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits);\n"
           "    else cu_gemm<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits, T);\n}\n",
        nm, fmt_ctype(rw->fmt), rf, E, H, rf, E, H);
    out(e, "__global__ void %s_route_kernel(const float *logits, const float *router_bias, int *sel, float *wt) {\n"
           "    cu_moe_stacked_route<%d, %d, %s>(cu_grid_tile(), logits, router_bias, sel, wt);\n}\n", nm, E, K, route);
    out(e, "__global__ void %s_gate_up_kernel(const float *x, const void *gate_up, const uint8_t *scales, const float *bias, const int *sel,\n"
           "        const float *wt, float *h) {\n"
           "    cu_moe_stacked_gate_up<%s, %d, %d, %d, %s, %s, %s, %s>(cu_grid_tile(), x, gate_up, scales, bias, sel, wt, h, %s, %s);\n}\n",
        nm, ef, H, I, K, route, oai ? "CU_ACT_OAI" : "CU_ACT_SILU", f->gate_up_interleaved ? "true" : "false", mx ? "true" : "false",
        flit((float)n->act_limit), flit((float)n->act_alpha));
    out(e, "__global__ void %s_down_kernel(const float *h, const void *down, const uint8_t *scales, const float *bias, const int *sel,\n"
           "        const float *wt, float *y) {\n"
           "    cu_moe_stacked_down<%s, %d, %d, %d, %s, %s>(cu_grid_tile(), h, down, scales, bias, sel, wt, y);\n}\n", nm, ef, H, I, K, route,
        mx ? "true" : "false");
    if (SI) {
        const char *sf = rf, *st = fmt_ctype(rw->fmt);
        out(e, "__global__ void %s_shared_gate_up_kernel(const float *x, const %s *g, const %s *u, float *act, int T) {\n"
               "    if (T == 1) cu_gemv<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, 1, 1>(cu_grid_tile(), x, g, nullptr, u, nullptr, nullptr, nullptr, nullptr, act);\n"
               "    else cu_gemm<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, 1, 1>(cu_grid_tile(), x, g, nullptr, u, nullptr, nullptr, nullptr, nullptr, act, T);\n}\n",
            nm, st, st, sf, SI, H, sf, SI, H);
        out(e, "__global__ void %s_shared_down_kernel(const float *act, const %s *d, float *y, int T) {\n"
               "    if (T == 1) cu_gemv<%s, %d, %d, CU_EPI_RES, 0, 1, 1>(cu_grid_tile(), act, d, nullptr, nullptr, nullptr, nullptr, nullptr, y, y);\n"
               "    else cu_gemm<%s, %d, %d, CU_EPI_RES, 0, 1, 1>(cu_grid_tile(), act, d, nullptr, nullptr, nullptr, nullptr, nullptr, y, y, T);\n}\n",
            nm, st, sf, H, SI, sf, H, SI);
    }
    const char *lp = "const float *x, const void *router, const float *router_bias, const void *gate_up, const void *down,\n"
                     "        const uint8_t *gate_up_scales, const uint8_t *down_scales, const float *gate_up_bias, const float *down_bias,\n"
                     "        const void *shared_gate, const void *shared_up, const void *shared_down,\n"
                     "        const float *shared_gate_scale, const float *shared_up_scale, const float *shared_down_scale, float *y, int T";
    {   /* decode's launches, for the persistent decode's instruction list (GEMV forms only) */
        char nmk[320], kp[700], body[700], grid[64], args[600];
        const char *rct = fmt_ctype(rw->fmt);
        snprintf(nmk, sizeof nmk, "%s_router", nm);
        snprintf(kp, sizeof kp, "const float *x, const %s *router, float *logits", rct);
        snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, 0, 0, 1, 1>(cu_grid_tile(), x, router, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, logits)",
                 rf, E, H);
        snprintf(grid, sizeof grid, "dim3(%d)", (E + 7) / 8);
        snprintf(args, sizeof args, "x, router, %s_logits", nm);
        cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        snprintf(nmk, sizeof nmk, "%s_route", nm);
        snprintf(body, sizeof body, "cu_moe_stacked_route<%d, %d, %s>(cu_grid_tile(), logits, router_bias, sel, wt)", E, K, route);
        snprintf(args, sizeof args, "%s_logits, router_bias, %s_sel, %s_wt", nm, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, "const float *logits, const float *router_bias, int *sel, float *wt", body, "dim3(T)", args);
        snprintf(nmk, sizeof nmk, "%s_gate_up", nm);
        snprintf(body, sizeof body, "cu_moe_stacked_gate_up<%s, %d, %d, %d, %s, %s, %s, %s>(cu_grid_tile(), x, gate_up, scales, bias, sel, wt, h, %s, %s)",
                 ef, H, I, K, route, oai ? "CU_ACT_OAI" : "CU_ACT_SILU", f->gate_up_interleaved ? "true" : "false", mx ? "true" : "false",
                 flit((float)n->act_limit), flit((float)n->act_alpha));
        snprintf(grid, sizeof grid, "dim3(%d, T * %d)", mx ? (I + 7) / 8 : (I + 255) / 256, K);
        snprintf(args, sizeof args, "x, gate_up, gate_up_scales, gate_up_bias, %s_sel, %s_wt, %s_h", nm, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, "const float *x, const void *gate_up, const uint8_t *scales, const float *bias, const int *sel, "
                         "const float *wt, float *h", body, grid, args);
        snprintf(nmk, sizeof nmk, "%s_down", nm);
        snprintf(body, sizeof body, "cu_moe_stacked_down<%s, %d, %d, %d, %s, %s>(cu_grid_tile(), h, down, scales, bias, sel, wt, y)", ef, H, I, K,
                 route, mx ? "true" : "false");
        snprintf(grid, sizeof grid, "dim3(%d, T)", mx ? (H + 7) / 8 : (H + 255) / 256);
        snprintf(args, sizeof args, "%s_h, down, down_scales, down_bias, %s_sel, %s_wt, y", nm, nm, nm);
        cuda_op_register(cur_kernel, lp, nmk, "const float *h, const void *down, const uint8_t *scales, const float *bias, const int *sel, "
                         "const float *wt, float *y", body, grid, args);
        if (SI) {
            const char *st = fmt_ctype(rw->fmt);
            snprintf(nmk, sizeof nmk, "%s_shared_gate_up", nm);
            snprintf(kp, sizeof kp, "const float *x, const %s *g, const %s *u, float *act", st, st);
            snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, CU_EPI_GLU, CU_ACT_SILU, 1, 1>(cu_grid_tile(), x, g, nullptr, u, nullptr, nullptr, nullptr, nullptr, act)",
                     rf, SI, H);
            snprintf(grid, sizeof grid, "dim3(%d)", (SI + 7) / 8);
            snprintf(args, sizeof args, "x, shared_gate, shared_up, %s_act_shared", nm);
            cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
            snprintf(nmk, sizeof nmk, "%s_shared_down", nm);
            snprintf(kp, sizeof kp, "const float *act, const %s *d, float *y", st);
            snprintf(body, sizeof body, "cu_gemv<%s, %d, %d, CU_EPI_RES, 0, 1, 1>(cu_grid_tile(), act, d, nullptr, nullptr, nullptr, nullptr, nullptr, y, y)",
                     rf, H, SI);
            snprintf(grid, sizeof grid, "dim3(%d)", (H + 7) / 8);
            snprintf(args, sizeof args, "%s_act_shared, shared_down, y", nm);
            cuda_op_register(cur_kernel, lp, nmk, kp, body, grid, args);
        }
    }
    out(e, "static void %s(%s) {\n", nm, lp);
    if (!SI) out(e, "    (void)shared_gate; (void)shared_up; (void)shared_down;\n");
    out(e, "    const unsigned tiles = (unsigned)((T + CU_GEMM_TILE - 1) / CU_GEMM_TILE);\n");
    out(e, "    CU_LAUNCH(%s_router_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, x, (const %s *)router,\n"
           "              %s_logits, T);\n", nm, (E + 7) / 8, (E + 63) / 64, fmt_ctype(rw->fmt), nm);
    out(e, "    CU_LAUNCH(%s_route_kernel, dim3(T), dim3(1), 0, cu_stream, %s_logits, router_bias, %s_sel, %s_wt);\n", nm, nm, nm, nm);
    out(e, "    CU_LAUNCH(%s_gate_up_kernel, dim3(%d, T * %d), dim3(256), 0, cu_stream, x, gate_up, gate_up_scales, gate_up_bias,\n"
           "              %s_sel, %s_wt, %s_h);\n", nm, mx ? (I + 7) / 8 : (I + 255) / 256, K, nm, nm, nm);
    out(e, "    CU_LAUNCH(%s_down_kernel, dim3(%d, T), dim3(256), 0, cu_stream, %s_h, down, down_scales, down_bias, %s_sel, %s_wt, y);\n", nm,
        mx ? (H + 7) / 8 : (H + 255) / 256, nm, nm, nm);
    if (SI) {
        const char *st = fmt_ctype(rw->fmt);
        out(e, "    /* the shared expert: y = shared(x) + routed */\n");
        out(e, "    CU_LAUNCH(%s_shared_gate_up_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, x,\n"
               "              (const %s *)shared_gate, (const %s *)shared_up, %s_act_shared, T);\n", nm, (SI + 7) / 8, (SI + 63) / 64, st, st, nm);
        out(e, "    CU_LAUNCH(%s_shared_down_kernel, T == 1 ? dim3(%d) : dim3(%d, tiles), dim3(256), 0, cu_stream, %s_act_shared,\n"
               "              (const %s *)shared_down, y, T);\n", nm, (H + 7) / 8, (H + 63) / 64, nm, st);
    }
    out(e, "}\n\n");
}

static void emit_kernels(Emitter *e) {
    out(e, "/* ── kernels ───────────────────────────────────────────────────────────────\n"
           " * Each: a __global__ kernel with this model's literals (the template's source\n"
           " * is in runtime/cuda/archc_cuda.cuh), and the host function that launches it\n"
           " * on cu_stream with the parameters of the C backend's kernel. */\n\n");
    if (att_part_floats(e))
        out(e, "static float *d_att_part;   /* decode attention: per head and block of keys (m, l, acc[head_dim]) */\n\n");
    bool softcap = false;
    for (int ph = 0; ph < PH_COUNT; ph++)
        for (int i = 0; i < e->p->n_steps[ph]; i++) softcap |= e->p->steps[ph][i].kind == S_SOFTCAP;
    cuda_ops_reset(e->p->n_kernels);
    for (int i = 0; i < e->p->n_kernels; i++) {
        const Kernel *k = &e->p->kernels[i];
        cur_kernel = i;
        switch (k->kind) {
        case KK_EMBED: emit_embed(e, k); break;
        case KK_RMSNORM: emit_rmsnorm(e, k); break;
        case KK_LINEAR: emit_linear(e, k); break;
        case KK_BIAS: case KK_ADD: case KK_GLU: case KK_CONCAT: emit_elementwise(e, k); break;
        case KK_ROPE: emit_rope(e, k); break;
        case KK_KV_STORE: emit_kv_store(e, k); break;
        case KK_QK_ROPE_STORE: emit_qk(e, k); break;
        case KK_ATTENTION: emit_attention(e, k); break;
        case KK_MOE: emit_moe(e, k); break;
        case KK_MOE_STACKED: emit_moe_stacked(e, k); break;
        case KK_MLA_STORE: cuda_emit_mla_store(e, k); break;
        case KK_MLA_ATTENTION: cuda_emit_mla_attention(e, k); break;
        default: break;   /* refused by cuda_check */
        }
    }
    if (softcap)
        out(e, "/* final logit soft-cap: logits ← cap·tanh(logits / cap) */\n"
               "__global__ void softcap_kernel(float *logits, int rows, float cap) { cu_softcap<VOCAB>(cu_grid_tile(), logits, rows, cap); }\n\n");
    out(e, "/* cos/sin of this call's positions for one RoPE table (runtime/rope.c's rule) */\n"
           "__global__ void rope_angles_kernel(const float *inv_freq, int half, float mscale, const int *pos, int T, float *cos_t,\n"
           "        float *sin_t) {\n    cu_rope_angles(inv_freq, half, mscale, pos, T, cos_t, sin_t);\n}\n\n");
    cuda_emit_persistent_kernel(e);
}

/* ── forward ─────────────────────────────────────────────────────────────── */

/* The layer slot of a routed-expert role (its first weight gives the format). */
static const LayerSlot *expert_slot(const Program *p, WeightRole role) {
    for (int i = 0; i < p->n_layer_slots; i++)
        if (p->layer_slots[i].role == role && p->layer_slots[i].experts) return &p->layer_slots[i];
    return &p->layer_slots[0];   /* not reached: a routed-expert operand has its slot */
}

/* The text of an operand: activations are views of the device arena, the
 * entry point's own arguments live on the device (d_tokens, d_pos, d_logits,
 * d_hidden_out).  One of 8 rotating buffers. */
const char *cuda_arg_text(const Emitter *e, Arg a) {
    static char buf[8][160];
    static int k;
    const char *common = arg_text_common(e, a);
    if (common) return common;
    k = (k + 1) & 7;
    char *b = buf[k];
    const Graph *g = e->g;
    switch (a.kind) {
    case A_NULL: return "nullptr";
    case A_EXPERTS: {   /* the layer's device array of expert pointers */
        const Weight *w = &g->weights[expert_slot(e->p, a.role)->weight];
        snprintf(b, 160, "(const %s *const *)dx_%s[%d]", fmt_ctype(w->fmt), role_info[a.role].member, a.id);
        return b;
    }
    case A_EXPERTS_SCALE: snprintf(b, 160, "(const float *const *)dx_%s_scale[%d]", role_info[a.role].member, a.id); return b;
    case A_TOKENS: return "d_tokens";
    case A_LOGITS: return "d_logits";
    case A_HIDDEN_OUT: return "d_hidden_out";
    case A_HIDDEN_IN: return "d_hidden_in";
    case A_POS: return "d_pos";
    case A_SCRATCH: return "d_scratch";
    default: return "?";
    }
}

/* Guards: prefill's logits mode is known on the host; the final hidden states
 * are always copied to d_hidden_out (T rows: cheap), so a captured decode
 * step serves callers that want them and callers that do not. */
static const char *guard_text(Phase ph, Guard gd) {
    switch (gd) {
    case G_LOGITS_ALL: return "if (logits_mode == 2) ";
    case G_LOGITS_LAST: return "else if (logits_mode == 1) ";
    case G_LOGITS: return ph == PH_PREFILL ? "if (logits_mode) " : "";
    default: return "";
    }
}

static void emit_step(Emitter *e, Phase ph, const Step *s) {
    const Graph *g = e->g;
    out(e, "    %s", guard_text(ph, s->guard));
    switch (s->kind) {
    case S_CALL: {
        const Kernel *k = &e->p->kernels[s->kernel];
        out(e, "%s(", k->name);
        for (int i = 0; i < s->n_args; i++)
            out(e, "%s%s", i ? (k->kind == KK_QK_ROPE_STORE && i == 5 ? ",\n        " : ", ") : "", cuda_arg_text(e, s->arg[i]));
        out(e, ");");
        if (s->remark) out(e, "  /* %s */", s->remark);
        out(e, "\n");
        break;
    }
    case S_COPY:
        out(e, "CU_CHECK(cudaMemcpyAsync(%s, %s, sizeof(float) * %s * %d, cudaMemcpyDeviceToDevice, cu_stream));\n", cuda_arg_text(e, s->arg[0]),
            cuda_arg_text(e, s->arg[1]), cuda_arg_text(e, s->arg[2]), s->width);
        break;
    case S_SOFTCAP:
        out(e, "CU_LAUNCH(softcap_kernel, dim3(cu_blocks((size_t)%s * VOCAB)), dim3(256), 0, cu_stream, d_logits, %s, %s);  /* final soft-cap */\n",
            cuda_arg_text(e, s->arg[0]), cuda_arg_text(e, s->arg[0]), flit((float)s->value));
        break;
    case S_ROPE_ANGLES: {
        const RopeTable *t = &g->rope[s->id];
        out(e, "CU_LAUNCH(rope_angles_kernel, dim3(1), dim3(256), 0, cu_stream, d_rope_inv_freq_%s, %d, rope_mscale_%s, d_pos, %s,\n"
               "        rope_cos_%s, rope_sin_%s);\n", t->name, t->dims / 2, t->name, cuda_arg_text(e, s->arg[0]), t->name, t->name);
        break;
    }
    }
}

static void emit_forward(Emitter *e, Phase ph) {
    if (ph == PH_DECODE) {
        out(e, "/* One decode step of the token d_tokens[0] at position *d_pos (that many tokens\n"
               " * already cached): every linear is a GEMV that streams its weights once.\n"
               " * Launched once under stream capture (decode_graph), then replayed. */\n");
        out(e, "static void forward_decode(void) {\n");
    } else if (ph == PH_MTP) {
        out(e, "/* The multi-token-prediction module on T <= TMAX positions *d_pos …: d_hidden_in\n"
               " * [T][HIDDEN] holds the main model's final hidden states there and d_tokens the\n"
               " * tokens that followed them; d_logits receives the draft logits of the last\n"
               " * position ([VOCAB]). */\n");
        out(e, "static void forward_mtp(int T) {\n");
    } else {
        out(e, "/* Prefill of T <= TMAX tokens d_tokens at positions *d_pos …: logits_mode 0 none,\n"
               " * 1 the last token's ([VOCAB]), 2 every token's ([T][VOCAB]) into d_logits; the\n"
               " * final hidden states (after the final norm) into d_hidden_out. */\n");
        out(e, "static void forward_prefill(int T, int logits_mode) {\n");
    }
    emit_forward_body(e, ph, emit_step);
}

/* ── state, load time, dispatch ───────────────────────────────────────────── */

static void emit_state(Emitter *e) {
    const Program *p = e->p;
    out(e, "/* ── state (on the device) ──────────────────────────────────────────────── */\n\n");
    out(e, "static float *arena;                /* activation arena [ARENA_FLOATS]            */\n");
    out(e, "static float *k_cache[N_CACHES];    /* per attention layer [rows][kv width]       */\n");
    bool any_v = false;   /* MLA caches hold no V */
    for (int c = 0; c < p->n_caches; c++) any_v |= p->caches[c].v_width > 0;
    if (any_v) out(e, "static float *v_cache[N_CACHES];\n");
    if (p->scratch_floats) out(e, "static float *d_scratch;            /* kernels' scratch [TMAX][%lld] */\n", (long long)p->scratch_floats);
    out(e, "static float *d_logits;             /* [TMAX][VOCAB]                               */\n");
    out(e, "static float *d_hidden_out;         /* [TMAX][HIDDEN]: final hidden states         */\n");
    if (p->has_phase[PH_MTP]) out(e, "static float *d_hidden_in;          /* [TMAX][HIDDEN]: the MTP module's input hidden states */\n");
    out(e, "static int *d_io, *h_io;            /* [1 + TMAX]: the position, then the tokens (device; pinned host copy) */\n");
    out(e, "static int *d_pos, *d_tokens;       /* views of d_io                               */\n");
    out(e, "static int *d_best, *h_best;        /* greedy decode: the argmax id (device; pinned host copy) */\n");
    out(e, "static cudaGraphExec_t decode_graph; /* forward_decode, captured at the first decode step */\n\n");    cuda_emit_persistent_state(e);
    for (int i = 0; i < p->n_layer_slots; i++) {
        const LayerSlot *ls = &p->layer_slots[i];
        if (!ls->experts) continue;
        const Weight *w = &e->g->weights[ls->weight];
        out(e, "static const void **dx_%s[N_LAYERS + N_MTP_LAYERS];  /* per layer: its experts' device pointers, on the device */\n",
            role_info[ls->role].member);
        if (is_fp8(w)) out(e, "static const void **dx_%s_scale[N_LAYERS + N_MTP_LAYERS];\n", role_info[ls->role].member);
    }
    out(e, "\n");
    for (int r = 0; r < p->n_ropes; r++) emit_rope_state(e, &p->ropes[r]);
}

static void emit_init(Emitter *e) {
    const Graph *g = e->g;
    const Program *pr = e->p;
    out(e, "static int model_init(char *err, size_t errlen) {\n");
    out(e, "    if (cu_probe(err, errlen) != 0) return -1;\n");
    out(e, "    rt_isa_name = cu_device_name;\n");
    out(e, "    CU_CHECK(cudaStreamCreateWithFlags(&cu_stream, cudaStreamNonBlocking));\n");
    out(e, "    cu_upload_weights(weight_table, (int)(sizeof weight_table / sizeof weight_table[0]));  /* stored format */\n");
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->alias < 0) continue;
        if (w->view_offset)
            out(e, "    W.%s = W.%s + %lld;  /* rows of %s, no copy */\n", field(w), field(&g->weights[w->alias]), (long long)w->view_offset,
                cmt(g->weights[w->alias].name));
        else
            out(e, "    W.%s = W.%s;  /* %s */\n", field(w), field(&g->weights[w->alias]), w->layer >= 0 ? "same tensor, no copy" : "tied");
    }
    for (int v = 0; v < pr->n_expert_groups; v++)
        for (int li = 0; li < pr->expert_groups[v].n_layers; li++) {
            int L = pr->expert_groups[v].layers[li];
            for (int i = 0; i < pr->n_layer_slots; i++) {
                const LayerSlot *ls = &pr->layer_slots[i];
                if (!ls->experts) continue;
                const char *m = role_info[ls->role].member;
                out(e, "    dx_%s[%d] = (const void **)cu_upload(W.l[%d].%s, sizeof W.l[%d].%s);\n", m, L, L, m, L, m);
                if (is_fp8(&g->weights[ls->weight]))
                    out(e, "    dx_%s_scale[%d] = (const void **)cu_upload(W.l[%d].%s_scale, sizeof W.l[%d].%s_scale);\n", m, L, L, m, L, m);
            }
        }
    for (int i = 0; i < pr->n_kernels; i++) {
        const Kernel *k = &pr->kernels[i];
        if (k->kind != KK_MOE && k->kind != KK_MOE_STACKED) continue;
        const MoeAttrs *f = &g->nodes[k->node].moe;
        out(e, "    %s_logits = cu_floats((size_t)TMAX * %d);\n    %s_wt = cu_floats((size_t)TMAX * %d);\n", k->name, f->experts, k->name, f->top_k);
        out(e, "    %s_sel = (int *)cu_malloc(sizeof(int) * TMAX * %d);\n", k->name, f->top_k);
        out(e, "    %s_%s = cu_floats((size_t)TMAX * %d * %d);\n", k->name, k->kind == KK_MOE ? "act" : "h", f->top_k, f->intermediate);
        if (f->shared_width) out(e, "    %s_act_shared = cu_floats((size_t)TMAX * %d);\n", k->name, f->shared_width);
        if (k->kind == KK_MOE && g->nodes[k->node].grouped) {
            out(e, "    %s_perm = (int *)cu_malloc(sizeof(int) * TMAX * %d);\n", k->name, f->top_k);
            out(e, "    %s_offsets = (int *)cu_malloc(sizeof(int) * %d);\n    %s_tiles = (int *)cu_malloc(sizeof(int) * %d);\n", k->name,
                f->experts + 1, k->name, f->experts + 1);
            out(e, "    %s_down = cu_floats((size_t)TMAX * %d * %d);\n", k->name, f->top_k, g->nodes[k->node].n_in);
        }
    }
    out(e, "    arena = cu_floats(ARENA_FLOATS);\n");
    if (pr->scratch_floats) out(e, "    d_scratch = cu_floats((size_t)TMAX * %lld);\n", (long long)pr->scratch_floats);
    out(e, "    d_logits = cu_floats((size_t)TMAX * VOCAB);\n    d_hidden_out = cu_floats((size_t)TMAX * HIDDEN);\n");    if (att_part_floats(e)) out(e, "    d_att_part = cu_floats(%lld);\n", att_part_floats(e));    if (pr->has_phase[PH_MTP]) out(e, "    d_hidden_in = cu_floats((size_t)TMAX * HIDDEN);\n");
    out(e, "    d_io = (int *)cu_malloc(sizeof(int) * (1 + TMAX));\n    d_pos = d_io;\n    d_tokens = d_io + 1;\n");
    out(e, "    d_best = (int *)cu_malloc(sizeof(int));\n");
    out(e, "    CU_CHECK(cudaMallocHost((void **)&h_io, sizeof(int) * (1 + TMAX)));\n");
    out(e, "    CU_CHECK(cudaMallocHost((void **)&h_best, sizeof(int)));\n");
    for (int c = 0; c < pr->n_caches; c++) {
        const Cache *k = &pr->caches[c];
        char rows[32];
        if (k->rows) snprintf(rows, sizeof rows, "%d", k->rows);
        else snprintf(rows, sizeof rows, "MAX_CONTEXT");
        out(e, "    k_cache[%d] = cu_floats((size_t)%s * %d);%s\n", c, rows, k->k_width, k->ring ? "  /* ring: window + TMAX - 1 rows (swa-tile) */" : "");
        if (k->v_width) out(e, "    v_cache[%d] = cu_floats((size_t)%s * %d);\n", c, rows, k->v_width);
    }
    for (int r = 0; r < pr->n_ropes; r++) {
        const RopeTable *t = &g->rope[pr->ropes[r].rope];
        int half = pr->ropes[r].half;
        if (!pr->ropes[r].folded) {
            RtRopeParams p = t->params;
            p.dims = t->dims;
            out(e, "    {\n        RtRopeParams p = {(RtRopeKind)%d, %.17g, %d, %.17g, %d, %.17g, %.17g, %.17g, %.17g, %d, %d, %.17g, %d, %.17g, %d, %.17g};\n"
                   "        rt_rope_inv_freq(&p, rope_inv_freq_%s, &rope_mscale_%s);\n    }\n",
                (int)p.kind, p.theta, p.dims, p.factor, p.original_max_position, p.low_freq_factor, p.high_freq_factor, p.beta_fast, p.beta_slow,
                p.truncate, p.has_attention_factor, p.attention_factor, p.has_mscale, p.mscale, p.has_mscale_all_dim, p.mscale_all_dim,
                t->name, t->name);
        }
        out(e, "    d_rope_inv_freq_%s = (float *)cu_upload(rope_inv_freq_%s, sizeof(float) * %d);\n", t->name, t->name, half);
        out(e, "    rope_cos_%s = cu_floats((size_t)TMAX * %d);\n    rope_sin_%s = cu_floats((size_t)TMAX * %d);\n", t->name, half, t->name, half);
    }
    cuda_emit_persistent_init(e);
    out(e, "    CU_CHECK(cudaDeviceSynchronize());\n    return 0;\n}\n\n");
    out(e, "static void model_release(void) {\n"

           "    if (decode_graph) cudaGraphExecDestroy(decode_graph);\n"
           "    decode_graph = NULL;\n"
           "    if (h_io) cudaFreeHost(h_io);\n    if (h_best) cudaFreeHost(h_best);\n    h_io = h_best = NULL;\n"
           "    cu_release();\n    if (cu_stream) cudaStreamDestroy(cu_stream);\n    cu_stream = NULL;\n}\n\n");
}

static void emit_dispatch(Emitter *e) {
    const Program *p = e->p;
    out(e, "/* One decode step on the device: the position and the token go in, the graph\n"
           " * runs (captured at the first call; ARCHC_CUDA_GRAPH=0 launches directly). */\n");
    out(e, "static void decode_step(int token, int pos) {\n");
    out(e, "    h_io[0] = pos;\n    h_io[1] = token;\n");
    out(e, "    CU_CHECK(cudaMemcpyAsync(d_io, h_io, sizeof(int) * 2, cudaMemcpyHostToDevice, cu_stream));\n");
    cuda_emit_persistent_launch(e);
    out(e, "    static int use_graph = -1;\n");
    out(e, "    if (use_graph < 0) { const char *s = getenv(\"ARCHC_CUDA_GRAPH\"); use_graph = !(s && !strcmp(s, \"0\")); }\n");
    out(e, "    if (!use_graph) { forward_decode(); return; }\n");
    out(e, "    if (!decode_graph) {\n");
    out(e, "        cudaGraph_t graph;\n");
    out(e, "        CU_CHECK(cudaStreamBeginCapture(cu_stream, cudaStreamCaptureModeThreadLocal));\n");
    out(e, "        forward_decode();\n");
    out(e, "        CU_CHECK(cudaStreamEndCapture(cu_stream, &graph));\n");
    out(e, "        CU_CHECK(cudaGraphInstantiate(&decode_graph, graph, 0));\n");
    out(e, "        CU_CHECK(cudaGraphDestroy(graph));\n    }\n");
    out(e, "    CU_CHECK(cudaGraphLaunch(decode_graph, cu_stream));\n}\n\n");

    out(e, "/* Run n tokens at positions pos …: one decode step, or prefill in chunks of TMAX;\n"
           " * logits and hidden states are copied back to the host buffers. */\n");
    out(e, "static void model_forward(const int *tokens, int n, int pos, float *logits, int all_logits, float *hidden_out) {\n");
    for (int r = 0; r < p->n_ropes; r++)
        if (p->ropes[r].ntk)
            out(e, "    if (pos == 0) ntk_update_%s(n);  /* a cache-free pass chooses the NTK alpha */\n", e->g->rope[p->ropes[r].rope].name);
    out(e, "    if (n == 1 && !all_logits) {\n");
    out(e, "        decode_step(tokens[0], pos);\n");
    out(e, "        if (logits) CU_CHECK(cudaMemcpyAsync(logits, d_logits, sizeof(float) * VOCAB, cudaMemcpyDeviceToHost, cu_stream));\n");
    out(e, "        if (hidden_out) CU_CHECK(cudaMemcpyAsync(hidden_out, d_hidden_out, sizeof(float) * HIDDEN, cudaMemcpyDeviceToHost, cu_stream));\n");
    out(e, "        CU_CHECK(cudaStreamSynchronize(cu_stream));\n        return;\n    }\n");
    out(e, "    for (int i = 0; i < n; i += TMAX) {\n");
    out(e, "        int T = n - i < TMAX ? n - i : TMAX, last = i + T >= n;\n");
    out(e, "        int mode = all_logits ? 2 : last ? 1 : 0;\n");
    out(e, "        h_io[0] = pos + i;\n        memcpy(h_io + 1, tokens + i, sizeof(int) * T);\n");
    out(e, "        CU_CHECK(cudaMemcpyAsync(d_io, h_io, sizeof(int) * (1 + T), cudaMemcpyHostToDevice, cu_stream));\n");
    out(e, "        forward_prefill(T, mode);\n");
    out(e, "        if (mode) CU_CHECK(cudaMemcpyAsync(logits + (all_logits ? (size_t)i * VOCAB : 0), d_logits,\n"
           "                                    sizeof(float) * VOCAB * (mode == 2 ? T : 1), cudaMemcpyDeviceToHost, cu_stream));\n");
    out(e, "        if (hidden_out) CU_CHECK(cudaMemcpyAsync(hidden_out + (size_t)i * HIDDEN, d_hidden_out, sizeof(float) * HIDDEN * T,\n"
           "                                          cudaMemcpyDeviceToHost, cu_stream));\n");
    out(e, "        CU_CHECK(cudaStreamSynchronize(cu_stream));  /* h_io is reused by the next chunk */\n");
    out(e, "    }\n}\n\n");

    if (p->has_phase[PH_MTP]) {
        out(e, "/* The MTP module over n positions (in chunks of TMAX): draft logits of the last. */\n");
        out(e, "static void model_mtp(const float *hidden, const int *tokens, int n, int pos, float *logits) {\n");
        out(e, "    for (int i = 0; i < n; i += TMAX) {\n");
        out(e, "        int T = n - i < TMAX ? n - i : TMAX;\n");
        out(e, "        h_io[0] = pos + i;\n        memcpy(h_io + 1, tokens + i, sizeof(int) * T);\n");
        out(e, "        CU_CHECK(cudaMemcpyAsync(d_io, h_io, sizeof(int) * (1 + T), cudaMemcpyHostToDevice, cu_stream));\n");
        out(e, "        CU_CHECK(cudaMemcpyAsync(d_hidden_in, hidden + (size_t)i * HIDDEN, sizeof(float) * HIDDEN * T, cudaMemcpyHostToDevice,\n"
               "                                 cu_stream));\n");
        out(e, "        forward_mtp(T);\n");
        out(e, "        CU_CHECK(cudaStreamSynchronize(cu_stream));  /* h_io is reused by the next chunk */\n    }\n");
        out(e, "    CU_CHECK(cudaMemcpy(logits, d_logits, sizeof(float) * VOCAB, cudaMemcpyDeviceToHost));\n}\n\n");
    }
    out(e, "/* Greedy decode without the logits: one step, the argmax taken on the device\n"
           " * (ties to the lower id, as the runtime's sampler), one int copied back. */\n");
    out(e, "static int model_forward_greedy(int token, int pos) {\n");
    out(e, "    decode_step(token, pos);\n");
    out(e, "    CU_LAUNCH(cu_argmax_kernel, dim3(1), dim3(1024), 0, cu_stream, d_logits, VOCAB, d_best);\n");
    out(e, "    CU_CHECK(cudaMemcpyAsync(h_best, d_best, sizeof(int), cudaMemcpyDeviceToHost, cu_stream));\n");
    out(e, "    CU_CHECK(cudaStreamSynchronize(cu_stream));\n    return *h_best;\n}\n\n");
}

static void emit_descriptor(Emitter *e) {
    const GraphModel *s = &e->g->model;
    out(e, "static int model_probe(char *err, size_t errlen) { return cu_probe(err, errlen); }\n\n");
    out(e, "static RtModel archc_model;\n\n");
    out(e, "int main(int argc, char **argv) {\n");
    out(e, "    archc_model.name = \"%s\";\n    archc_model.source = \"%s\";\n", cstr(s->name), cstr(cmt(s->file)));
    out(e, "    archc_model.vocab = VOCAB;\n    archc_model.max_context = MAX_CONTEXT;\n    archc_model.eos_token = %d;\n", s->eos_token);
    out(e, "    archc_model.weight_bytes = %lldLL;\n", (long long)graph_weight_bytes(e->g));
    out(e, "    archc_model.weights = weight_table;\n    archc_model.n_weights = (int)(sizeof weight_table / sizeof weight_table[0]);\n");
    out(e, "    archc_model.init = model_init;\n    archc_model.forward = model_forward;\n    archc_model.release = model_release;\n");
    out(e, "    archc_model.hidden = HIDDEN;\n");
    out(e, "    archc_model.probe = model_probe;             /* refuse at once without a GPU */\n");
    out(e, "    archc_model.forward_greedy = model_forward_greedy;\n");
    if (e->p->has_phase[PH_MTP]) out(e, "    archc_model.mtp = model_mtp;\n");
    out(e, "    add_expert_weights();\n");
    out(e, "    return rt_main(argc, argv, &archc_model);\n}\n");
}

static const Printer cuda_printer = {emit_kernels, emit_state, emit_init, emit_forward, emit_dispatch, emit_descriptor};
static int cuda_emit(const Graph *g, FILE *f) { return print_program(g, f, true, &cuda_printer); }

const Backend backend_cuda = {"cuda", ".cu", cuda_check, cuda_emit};
