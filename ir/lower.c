/*
 * ir/lower.c — ModelSpec → Graph.
 *
 * Lowering is deliberately naive: one node per LLM-level step, exactly in the
 * order of the Hugging Face forward pass, with no fusion.  Passes (passes/)
 * then rewrite the graph.  For one pre-norm dense layer the result is
 *
 *   %h  = rmsnorm(%x)              input_layernorm
 *   %q  = linear(%h)   (+ bias)    q_proj          %k, %v likewise
 *   %q' = rmsnorm(%q)              q_norm (per head or whole; Qwen3, OLMo 2, Gemma 3)
 *   %q''= rope(%q')                NoPE layers skip it
 *         kv_store(%k'', %v)       cache write
 *   %a  = attention(%q'')          causal / windowed / chunked, over the cache
 *   %o  = linear(%a)               o_proj
 *   %x' = add(%x, %o)              residual
 *   … the FFN likewise: rmsnorm, linear gate, linear up, glu, linear down, add
 *
 * Post-norm (OLMo 2) and sandwich (Gemma 3) layers put their norms around the
 * sublayer output instead.  MoE FFNs lower to one `moe` node and MLA attention
 * to its projections plus one `mla_attention` node: the IR expresses them even
 * where the C backend does not implement them yet.
 *
 * Weight names follow the checkpoint (HF names) so the runtime loader can check
 * every tensor by name, dtype and shape.
 */
#include <math.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include "ir.h"

typedef struct Lower {
    Graph *g;
    const ModelSpec *s;
    char lp[64];     /* "model.layers.N." */
    int layer;
    bool mtp;        /* lowering the multi-token-prediction module */
    SrcLoc loc;
} Lower;

/* A weight of the current layer (or outside the layers), by checkpoint name suffix and role. */
static int weight_fmt(Lower *L, const char *suffix, WeightRole role, int expert, int ndim, const int64_t *shape, WeightFormat fmt,
                      int flags) {
    char name[160];
    snprintf(name, sizeof name, "%s%s", L->layer >= 0 ? L->lp : "", suffix);
    int w = graph_add_weight(L->g, name, role, ndim, shape, fmt, flags | (L->mtp ? W_MTP : 0), L->layer);
    L->g->weights[w].expert = expert;
    return w;
}

static int weight(Lower *L, const char *suffix, WeightRole role, int ndim, int64_t d0, int64_t d1, int flags) {
    int64_t shape[2] = {d0, d1};
    return weight_fmt(L, suffix, role, -1, ndim, shape, L->s->weights.format, flags | (ndim == 1 ? W_VECTOR : 0));
}

/* One of a layer's stacked expert tensors, "<pre>.experts.<suffix>", of any rank and an explicit format. */
static int expert_tensor(Lower *L, const char *pre, const char *suffix, WeightRole role, int ndim, const int64_t *shape,
                         WeightFormat fmt, int flags) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.experts.%s", pre, suffix);
    return weight_fmt(L, nm, role, -1, ndim, shape, fmt, flags);
}

static Node *node(Lower *L, Op op, const char *note) {
    Node *n = graph_add_node(L->g, op, L->layer, L->loc);
    snprintf(n->note, sizeof n->note, "%s", note);
    n->mtp = L->mtp;
    return n;
}

static int out(Lower *L, Node *n, int width, const char *role) {
    /* graph_add_value may move g->nodes? no: values and nodes are separate arrays */
    int v = graph_add_value(L->g, width, role, L->layer);
    n->out = v;
    L->g->vals[v].producer = (int)(n - L->g->nodes);
    return v;
}

static int rmsnorm(Lower *L, int x, int width, int group, const char *wname, WeightRole role, const char *note) {
    int w = wname ? weight(L, wname, role, 1, group == width ? width : group, 0, 0) : -1;
    Node *n = node(L, OP_RMSNORM, note);
    n->in[0] = x;
    n->w[0] = w;
    n->n_in = width;
    n->group = group;
    n->eps = L->s->norm.eps;
    n->norm_kind = wname ? L->s->norm.kind : NORM_L2;
    return out(L, n, width, "h");
}

/* A linear over an existing weight (and bias) index: linear node, then a bias node. */
static int linear_w(Lower *L, int x, int n_in, int n_out, int w, int b, const char *role, const char *note) {
    Node *n = node(L, OP_LINEAR, note);
    n->in[0] = x;
    n->w[0] = w;
    n->n_in = n_in;
    n->n_out = n_out;
    int y = out(L, n, n_out, role);
    if (b >= 0) {
        Node *bn = node(L, OP_BIAS, note);
        bn->in[0] = y;
        bn->w[0] = b;
        bn->n_in = n_out;
        y = out(L, bn, n_out, role);
    }
    return y;
}

static int linear(Lower *L, int x, int n_in, int n_out, const char *wname, WeightRole wrole,
                  const char *bname, WeightRole brole, const char *role, const char *note) {
    int w = weight(L, wname, wrole, 2, n_out, n_in, 0);
    int b = bname ? weight(L, bname, brole, 1, n_out, 0, 0) : -1;
    return linear_w(L, x, n_in, n_out, w, b, role, note);
}

/* A view of rows [row0, row0 + rows) of weight `base` (no copy: a pointer into it). */
static int weight_view(Lower *L, int base, WeightRole role, int64_t row0, int64_t rows) {
    Weight b = L->g->weights[base];
    int64_t shape[2] = {rows, b.ndim > 1 ? b.shape[1] : 0};
    int w = graph_add_weight(L->g, b.name, role, b.ndim, shape, b.fmt, b.flags, L->layer);
    L->g->weights[w].alias = base;
    L->g->weights[w].view_offset = row0 * (b.ndim > 1 ? b.shape[1] : 1);
    return w;
}

static int add(Lower *L, int a, int b, int width, const char *note) {
    Node *n = node(L, OP_ADD, note);
    n->in[0] = a;
    n->in[1] = b;
    n->n_in = width;
    return out(L, n, width, "x");
}

/* Which YAML variant a node's attributes came from (grouping and messages only). */
static void set_variant(Node *n, ptrdiff_t index, const char *name, SrcLoc loc) {
    n->variant = (int)index;
    snprintf(n->variant_name, sizeof n->variant_name, "%s", name);
    n->variant_loc = loc;
}

/* Tag the q/k norm nodes so qknorm-fuse can recognise them. */
static void mark_qknorm(Lower *L, int q, int k, QkNormKind kind) {
    L->g->nodes[L->g->vals[q].producer].qk_norm = kind;
    L->g->nodes[L->g->vals[k].producer].qk_norm = kind;
}

/* ── attention ─────────────────────────────────────────────────────────────── */

static int lower_gqa(Lower *L, int h, const LayerSpec *ls, const AttnSpec *a) {
    const ModelSpec *s = L->s;
    int H = s->hidden, nh = a->heads, nkv = a->kv_heads, d = a->head_dim;
    int q, k, v;
    if (a->fused_qkv) {
        /* Qwen-1 c_attn: one [q | k | v] tensor (and bias); q, k, v are row views of it */
        int64_t rows = (int64_t)(nh + 2 * nkv) * d;
        int cw = weight(L, "attn.c_attn.weight", WR_C_ATTN, 2, rows, H, 0);
        int cb = a->q_bias ? weight(L, "attn.c_attn.bias", WR_C_ATTN_BIAS, 1, rows, 0, 0) : -1;
        int wq = weight_view(L, cw, WR_Q_PROJ, 0, (int64_t)nh * d), wk = weight_view(L, cw, WR_K_PROJ, (int64_t)nh * d, (int64_t)nkv * d);
        int wv = weight_view(L, cw, WR_V_PROJ, (int64_t)(nh + nkv) * d, (int64_t)nkv * d);
        int bq = -1, bk = -1, bv = -1;
        if (cb >= 0) {
            bq = weight_view(L, cb, WR_Q_BIAS, 0, (int64_t)nh * d);
            bk = weight_view(L, cb, WR_K_BIAS, (int64_t)nh * d, (int64_t)nkv * d);
            bv = weight_view(L, cb, WR_V_BIAS, (int64_t)(nh + nkv) * d, (int64_t)nkv * d);
        }
        q = linear_w(L, h, H, nh * d, wq, bq, "q", "c_attn (q rows)");
        k = linear_w(L, h, H, nkv * d, wk, bk, "k", "c_attn (k rows)");
        v = linear_w(L, h, H, nkv * d, wv, bv, "v", "c_attn (v rows)");
    } else {
        q = linear(L, h, H, nh * d, "self_attn.q_proj.weight", WR_Q_PROJ, a->q_bias ? "self_attn.q_proj.bias" : NULL, WR_Q_BIAS, "q", "q_proj");
        k = linear(L, h, H, nkv * d, "self_attn.k_proj.weight", WR_K_PROJ, a->k_bias ? "self_attn.k_proj.bias" : NULL, WR_K_BIAS, "k", "k_proj");
        v = linear(L, h, H, nkv * d, "self_attn.v_proj.weight", WR_V_PROJ, a->v_bias ? "self_attn.v_proj.bias" : NULL, WR_V_BIAS, "v", "v_proj");
    }
    if (a->qk_norm == QKNORM_HEAD) {
        q = rmsnorm(L, q, nh * d, d, "self_attn.q_norm.weight", WR_Q_NORM, "q_norm (per head)");
        k = rmsnorm(L, k, nkv * d, d, "self_attn.k_norm.weight", WR_K_NORM, "k_norm (per head)");
        mark_qknorm(L, q, k, QKNORM_HEAD);
    } else if (a->qk_norm == QKNORM_WHOLE) {
        q = rmsnorm(L, q, nh * d, nh * d, "self_attn.q_norm.weight", WR_Q_NORM, "q_norm (whole projection)");
        k = rmsnorm(L, k, nkv * d, nkv * d, "self_attn.k_norm.weight", WR_K_NORM, "k_norm (whole projection)");
        mark_qknorm(L, q, k, QKNORM_WHOLE);
    }
    if (a->qk_norm == QKNORM_HEAD || a->qk_norm == QKNORM_WHOLE) {
        snprintf(L->g->vals[q].role, sizeof L->g->vals[q].role, "q_normed");
        snprintf(L->g->vals[k].role, sizeof L->g->vals[k].role, "k_normed");
    }
    if (ls->rope >= 0) {
        const RopeSpec *r = &s->rope[ls->rope];
        int rot = r->dims ? r->dims : d;
        L->g->rope[ls->rope].dims = rot;
        for (int pass = 0; pass < 2; pass++) {
            Node *n = node(L, OP_ROPE, pass ? "rope k" : "rope q");
            n->in[0] = pass ? k : q;
            n->rope = ls->rope;
            n->heads = pass ? nkv : nh;
            n->head_dim = d;
            n->rot_dims = rot;
            int y = out(L, n, (pass ? nkv : nh) * d, pass ? "k_rot" : "q_rot");
            if (pass) k = y; else q = y;
        }
    }
    if (a->qk_norm == QKNORM_L2_AFTER && ls->rope >= 0) {  /* Llama 4: weightless, after RoPE, RoPE layers only */
        q = rmsnorm(L, q, nh * d, d, NULL, WR_NONE, "q L2 norm (after rope)");
        k = rmsnorm(L, k, nkv * d, d, NULL, WR_NONE, "k L2 norm (after rope)");
        snprintf(L->g->vals[q].role, sizeof L->g->vals[q].role, "q_l2");
        snprintf(L->g->vals[k].role, sizeof L->g->vals[k].role, "k_l2");
    }
    int cache = L->g->n_caches++;
    L->g->cache_kv_width[cache] = nkv * d;
    L->g->cache_v_width[cache] = nkv * d;
    Node *st = node(L, OP_KV_STORE, "kv cache write");
    st->in[0] = k;
    st->in[1] = v;
    st->cache = cache;
    st->kv_heads = nkv;
    st->head_dim = d;
    Node *at = node(L, OP_ATTENTION, ls->window ? "sliding-window attention" : ls->chunk ? "chunked attention" : "causal attention");
    at->in[0] = q;
    at->cache = cache;
    at->heads = nh;
    at->kv_heads = nkv;
    at->head_dim = d;
    at->v_dim = d;
    at->scale = a->scale != 0 ? a->scale : 1.0 / sqrt((double)d);
    at->window = ls->window;
    at->chunk = ls->chunk;
    at->softcap = a->softcap;
    if (a->logn) at->logn_seq = a->logn_seq_length;
    if (a->temperature_tuning && ls->rope < 0) {  /* Llama 4: NoPE layers scale q by a function of the position */
        at->temp_floor = a->floor_scale;
        at->temp_scale = a->attn_scale;
    }
    if (a->sinks) at->w[0] = weight(L, "self_attn.sinks", WR_SINKS, 1, nh, 0, 0);
    set_variant(at, a - s->attn, a->name, a->loc);
    int o = out(L, at, nh * d, "attn");
    if (a->fused_qkv) return linear(L, o, nh * d, H, "attn.c_proj.weight", WR_O_PROJ, NULL, WR_NONE, "o", "c_proj (o_proj)");
    return linear(L, o, nh * d, H, "self_attn.o_proj.weight", WR_O_PROJ, a->o_bias ? "self_attn.o_proj.bias" : NULL, WR_O_BIAS, "o", "o_proj");
}

static int lower_mla(Lower *L, int h, const LayerSpec *ls, const AttnSpec *a) {
    const ModelSpec *s = L->s;
    int H = s->hidden, nh = a->heads;
    int qk = a->qk_nope_dim + a->qk_rope_dim;
    int q;
    /* attention_bias puts biases on q_a_proj, kv_a_proj_with_mqa and o_proj only */
    if (a->q_lora_rank > 0) {
        int qa = linear(L, h, H, a->q_lora_rank, "self_attn.q_a_proj.weight", WR_Q_A_PROJ, a->q_bias ? "self_attn.q_a_proj.bias" : NULL,
                        WR_Q_A_BIAS, "q_lat", "q_a_proj");
        qa = rmsnorm(L, qa, a->q_lora_rank, a->q_lora_rank, "self_attn.q_a_layernorm.weight", WR_Q_A_NORM, "q_a_layernorm (eps 1e-6)");
        L->g->nodes[L->g->vals[qa].producer].eps = 1e-6;  /* built without the config eps in HF */
        q = linear(L, qa, a->q_lora_rank, nh * qk, "self_attn.q_b_proj.weight", WR_Q_B_PROJ, NULL, WR_NONE, "q", "q_b_proj");
    } else {
        q = linear(L, h, H, nh * qk, "self_attn.q_proj.weight", WR_Q_PROJ, NULL, WR_NONE, "q", "q_proj");
    }
    int ckv = linear(L, h, H, a->kv_lora_rank + a->qk_rope_dim, "self_attn.kv_a_proj_with_mqa.weight", WR_KV_A_PROJ,
                     a->k_bias ? "self_attn.kv_a_proj_with_mqa.bias" : NULL, WR_KV_A_BIAS, "ckv", "kv_a_proj_with_mqa (latent c_kv | k_pe)");
    int cache = L->g->n_caches++;
    L->g->cache_kv_width[cache] = a->kv_lora_rank + a->qk_rope_dim; /* latent cache: c_kv | k_pe */
    L->g->cache_v_width[cache] = 0;
    Node *at = node(L, OP_MLA_ATTENTION, "multi-head latent attention");
    at->in[0] = q;
    at->in[1] = ckv;
    at->w[0] = weight(L, "self_attn.kv_a_layernorm.weight", WR_KV_A_NORM, 1, a->kv_lora_rank, 0, 0);
    at->w[1] = weight(L, "self_attn.kv_b_proj.weight", WR_KV_B_PROJ, 2, (int64_t)nh * (a->qk_nope_dim + a->v_dim), a->kv_lora_rank, 0);
    at->cache = cache;
    at->heads = nh;
    at->kv_heads = 1;
    at->head_dim = qk;
    at->v_dim = a->v_dim;
    at->rope = ls->rope;
    at->rot_dims = a->qk_rope_dim;
    if (ls->rope >= 0) L->g->rope[ls->rope].dims = a->qk_rope_dim;
    at->scale = a->scale != 0 ? a->scale : 1.0 / sqrt((double)qk);
    at->eps = 1e-6;  /* kv_a_layernorm: always 1e-6 in HF, whatever rms_norm_eps says */
    at->window = ls->window;
    at->softcap = a->softcap;
    at->latent = a->kv_lora_rank;
    at->nope_dim = a->qk_nope_dim;
    set_variant(at, a - s->attn, a->name, a->loc);
    int o = out(L, at, nh * a->v_dim, "attn");
    return linear(L, o, nh * a->v_dim, H, "self_attn.o_proj.weight", WR_O_PROJ, a->o_bias ? "self_attn.o_proj.bias" : NULL, WR_O_BIAS,
                  "o", "o_proj");
}

/* ── feed-forward ─────────────────────────────────────────────────────────── */

static int lower_dense_ffn(Lower *L, int h, const FfnSpec *f, const char *prefix) {
    const ModelSpec *s = L->s;
    int H = s->hidden, I = f->intermediate;
    char wn[3][96], bn[3][96];
    const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
    if (s->weights.names == NAMES_QWEN1) {  /* Qwen-1: silu on w2 (the gate), w1 is up */
        proj[0] = "w2";
        proj[1] = "w1";
        proj[2] = "c_proj";
    }
    for (int i = 0; i < 3; i++) {
        snprintf(wn[i], sizeof wn[i], "%s.%s.weight", prefix, proj[i]);
        snprintf(bn[i], sizeof bn[i], "%s.%s.bias", prefix, proj[i]);
    }
    int gate = linear(L, h, H, I, wn[0], WR_GATE_PROJ, f->bias ? bn[0] : NULL, WR_GATE_BIAS, "gate", "gate_proj");
    int up = linear(L, h, H, I, wn[1], WR_UP_PROJ, f->bias ? bn[1] : NULL, WR_UP_BIAS, "up", "up_proj");
    Node *n = node(L, OP_GLU, f->act == ACT_GEGLU_TANH ? "gelu_tanh(gate) * up" : "silu(gate) * up");
    n->in[0] = gate;
    n->in[1] = up;
    n->n_in = I;
    n->act = f->act;
    n->act_limit = f->act_limit;
    n->act_alpha = f->act_alpha;
    int act = out(L, n, I, "act");
    return linear(L, act, I, H, wn[2], WR_DOWN_PROJ, f->bias ? bn[2] : NULL, WR_DOWN_BIAS, "ffn", "down_proj");
}

static MoeAttrs moe_attrs(const FfnSpec *f, bool stacked) {
    const RouterSpec *r = &f->router;
    MoeAttrs m = {
        .experts = f->experts, .top_k = f->top_k, .intermediate = f->intermediate, .shared = f->shared,
        .shared_width = f->shared ? (f->shared_intermediate ? f->shared_intermediate : f->shared * f->intermediate) : 0,
        .stacked = stacked, .bias = f->bias, .gate_up_interleaved = f->gate_up_interleaved,
        .score = r->score, .router_bias = r->bias, .select_bias = r->select_bias, .softmax_after_topk = r->softmax_after_topk,
        .groups = r->groups, .top_groups = r->top_groups, .group_max = r->group_max, .normalize = r->normalize,
        .scale = r->scale != 0 ? r->scale : 1.0, .scale_input = r->scale_input,
    };
    return m;
}

/* Whether `archc quantize --keep` left the tensor unquantised: the pattern
 * matches its name (fnmatch) or is a substring of it (frontend/quantize.c
 * applies the same test). */
static bool kept_by_pattern(const WeightsSpec *ws, const char *name) {
    for (int k = 0; k < ws->n_keep; k++)
        if (fnmatch(ws->keep[k], name, 0) == 0 || strstr(name, ws->keep[k])) return true;
    return false;
}

/* One stacked expert matrix of a layer (gpt-oss, Llama 4), "<pre>.experts.<name>",
 * out × in per expert, and its scales; the first one's index.  Formats:
 *   float (the checkpoint's, or kept): HF's [E, in, out] layout;
 *   MXFP4 (gpt-oss's checkpoints; archc quantize --format mxfp4): NAME_blocks
 *       [E, out, in/32, 16] with e8m0 exponents NAME_scales [E, out, in/32];
 *   archc quantize's int8 / int4 / fp8: output-major [E, out, in] (int4: two
 *       values a byte) with f32 scales NAME_scale [E, out, ⌈in/32⌉], or for fp8
 *       NAME_scale_inv [E, ⌈out/128⌉, ⌈in/128⌉] (128 × 128 blocks per expert).
 * With archc quantize's formats the experts are quantised like the 2-D
 * projections unless --keep kept them (then the kept float format, bf16 with
 * fp8); frontend/quantize.c decides the same by name. */
static int stacked_matrix(Lower *L, const char *pre, const char *name, WeightRole role, WeightRole scale_role, int E, int64_t n_out,
                          int64_t n_in) {
    const WeightsSpec *ws = &L->s->weights;
    WeightFormat f = ws->format;
    if (f == WFMT_I8 || f == WFMT_I4 || f == WFMT_FP8_E4M3 || f == WFMT_MXFP4_DENSE) {
        char full[200];
        snprintf(full, sizeof full, "%s%s%s.experts.%s", L->g->model.weight_prefix, L->lp, pre, name);
        if (kept_by_pattern(ws, full)) f = f == WFMT_FP8_E4M3 ? WFMT_BF16 : ws->kept;
        else if (f == WFMT_MXFP4_DENSE) f = WFMT_MXFP4;
    }
    char nm[64], sn[64];
    if (f == WFMT_MXFP4) {
        int64_t sh[4] = {E, n_out, n_in / 32, 16}, ss[3] = {E, n_out, n_in / 32};
        snprintf(nm, sizeof nm, "%s_blocks", name);
        snprintf(sn, sizeof sn, "%s_scales", name);
        int w = expert_tensor(L, pre, nm, role, 4, sh, WFMT_MXFP4, 0);
        expert_tensor(L, pre, sn, scale_role, 3, ss, WFMT_U8, 0);
        return w;
    }
    if (f == WFMT_I8 || f == WFMT_I4 || f == WFMT_FP8_E4M3) {
        int64_t sh[3] = {E, n_out, n_in}, ss[3] = {E, n_out, (n_in + 31) / 32};
        if (f == WFMT_FP8_E4M3) { ss[1] = (n_out + 127) / 128; ss[2] = (n_in + 127) / 128; }
        snprintf(sn, sizeof sn, "%s_%s", name, f == WFMT_FP8_E4M3 ? "scale_inv" : "scale");
        int w = expert_tensor(L, pre, name, role, 3, sh, f, 0);
        int f16 = f != WFMT_FP8_E4M3 && ws->scale_f16;   /* int8 / int4: weights: {scale: f16}; the
                                                            weight's W_SCALE_F16 comes with every other matrix's */
        expert_tensor(L, pre, sn, scale_role, 3, ss, f16 ? WFMT_F16 : WFMT_F32, 0);
        return w;
    }
    int64_t sh[3] = {E, n_in, n_out};
    return expert_tensor(L, pre, name, role, 3, sh, f, 0);
}

static int lower_moe(Lower *L, int h, const FfnSpec *f) {
    const ModelSpec *s = L->s;
    int H = s->hidden, I = f->intermediate, E = f->experts;
    Node *n = node(L, OP_MOE, "mixture of experts");
    int idx = (int)(n - L->g->nodes);
    bool gpt_oss = !strcmp(s->family, "gpt_oss"), llama4 = !strcmp(s->family, "llama4_text");
    bool stacked = gpt_oss || llama4;
    const char *pre = llama4 ? "feed_forward" : "mlp";
    char nm[96];
    snprintf(nm, sizeof nm, "%s.%s.weight", pre, gpt_oss || llama4 ? "router" : "gate");
    int router = weight(L, nm, WR_ROUTER, 2, E, H, 0);
    int first = -1;
    if (stacked) {
        /* all experts in one tensor (stacked_matrix: the layouts) */
        first = stacked_matrix(L, pre, "gate_up_proj", WR_EXPERTS_GATE_UP, WR_EXPERTS_GATE_UP_SCALES, E, 2 * (int64_t)I, H);
        stacked_matrix(L, pre, "down_proj", WR_EXPERTS_DOWN, WR_EXPERTS_DOWN_SCALES, E, H, I);
        if (f->bias) {
            int64_t gub[2] = {E, 2 * (int64_t)I}, dnb[2] = {E, H};
            expert_tensor(L, pre, "gate_up_proj_bias", WR_EXPERTS_GATE_UP_BIAS, 2, gub, WFMT_F32, W_VECTOR);
            expert_tensor(L, pre, "down_proj_bias", WR_EXPERTS_DOWN_BIAS, 2, dnb, WFMT_F32, W_VECTOR);
        }
    } else {
        for (int e = 0; e < E; e++) {
            const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
            const WeightRole role[3] = {WR_EXPERTS_GATE, WR_EXPERTS_UP, WR_EXPERTS_DOWN};
            for (int k = 0; k < 3; k++) {
                snprintf(nm, sizeof nm, "mlp.experts.%d.%s.weight", e, proj[k]);
                int64_t shape[2] = {k == 2 ? H : I, k == 2 ? I : H};
                int w = weight_fmt(L, nm, role[k], e, 2, shape, s->weights.format, 0);
                if (first < 0) first = w;
            }
        }
    }
    int shared = -1;
    if (f->shared > 0) {
        int SI = f->shared_intermediate ? f->shared_intermediate : f->shared * I;
        const char *sp = llama4 ? "feed_forward.shared_expert" : "mlp.shared_experts";
        snprintf(nm, sizeof nm, "%s.gate_proj.weight", sp);
        shared = weight(L, nm, WR_SHARED_GATE, 2, SI, H, 0);
        snprintf(nm, sizeof nm, "%s.up_proj.weight", sp);
        weight(L, nm, WR_SHARED_UP, 2, SI, H, 0);
        snprintf(nm, sizeof nm, "%s.down_proj.weight", sp);
        weight(L, nm, WR_SHARED_DOWN, 2, H, SI, 0);
    }
    int bias = -1;
    if (f->router.select_bias) bias = weight(L, "mlp.gate.e_score_correction_bias", WR_ROUTER_SELECT_BIAS, 1, E, 0, 0);
    else if (f->router.bias) bias = weight(L, gpt_oss ? "mlp.router.bias" : "mlp.gate.bias", WR_ROUTER_BIAS, 1, E, 0, 0);
    n = &L->g->nodes[idx];
    n->in[0] = h;
    n->w[0] = router;
    n->w[1] = first;
    n->w[2] = shared;
    n->w[3] = bias;
    n->n_in = H;
    n->act = f->act;
    n->act_limit = f->act_limit;
    n->act_alpha = f->act_alpha;
    n->moe = moe_attrs(f, stacked);
    set_variant(n, f - s->ffn, f->name, f->loc);
    return out(L, n, H, "ffn");
}

/* ── the embedding and the vocabulary projection (main model and MTP module) ── */

static int embed(Lower *L, int ids, int w, const char *note) {
    Node *e = node(L, OP_EMBED, note);
    e->in[0] = ids;
    e->w[0] = w;
    e->n_out = L->s->hidden;
    e->scale = L->s->embed_scale;
    return out(L, e, L->s->hidden, "x");
}

static void logits(Lower *L, int x, int head, double softcap, const char *note) {
    Node *lg = node(L, OP_LOGITS, note);
    lg->in[0] = x;
    lg->w[0] = head;
    lg->n_in = L->s->hidden;
    lg->n_out = L->s->vocab;
    lg->softcap = softcap;
    out(L, lg, L->s->vocab, "logits");
}

/* What the emitted comments say about a layer. */
static void copy_layer(const ModelSpec *s, int l, GraphLayer *gl) {
    const LayerSpec *ls = &s->layer[l];
    gl->mla = s->attn[ls->attn].kind == ATTN_MLA;
    gl->nope = ls->rope < 0;
    gl->norms = ls->norms;
    gl->window = ls->window;
    gl->loc = ls->loc;
    if (!gl->loc.file) gl->loc.file = s->file;
}

/* ── one decoder layer ───────────────────────────────────────────────────────── */

static int lower_layer(Lower *L, int x, int l) {
    const ModelSpec *s = L->s;
    const LayerSpec *ls = &s->layer[l];
    copy_layer(s, l, &L->g->layer[l]);
    const AttnSpec *a = &s->attn[ls->attn];
    const FfnSpec *f = &s->ffn[ls->ffn];
    int H = s->hidden;
    L->layer = l;
    L->loc = ls->loc;
    bool q1 = s->weights.names == NAMES_QWEN1;
    snprintf(L->lp, sizeof L->lp, q1 ? "transformer.h.%d." : "model.layers.%d.", l);

    /* attention sublayer */
    int h = x;
    if (ls->norms != NORMS_POST)
        h = rmsnorm(L, x, H, H, q1 ? "ln_1.weight" : "input_layernorm.weight", WR_INPUT_NORM, q1 ? "ln_1" : "input_layernorm");
    int o = a->kind == ATTN_MLA ? lower_mla(L, h, ls, a) : lower_gqa(L, h, ls, a);
    if (ls->norms != NORMS_PRE)
        o = rmsnorm(L, o, H, H, "post_attention_layernorm.weight", WR_POST_ATTN_NORM, "post_attention_layernorm (on the sublayer output)");
    x = add(L, x, o, H, "residual add (attention)");

    /* feed-forward sublayer */
    h = x;
    if (ls->norms == NORMS_PRE)
        h = rmsnorm(L, x, H, H, q1 ? "ln_2.weight" : "post_attention_layernorm.weight", WR_PRE_FFN_NORM,
                    q1 ? "ln_2 (pre-FFN norm)" : "post_attention_layernorm (pre-FFN norm)");
    else if (ls->norms == NORMS_SANDWICH)
        h = rmsnorm(L, x, H, H, "pre_feedforward_layernorm.weight", WR_PRE_FFN_NORM, "pre_feedforward_layernorm");
    int y = f->moe ? lower_moe(L, h, f) : lower_dense_ffn(L, h, f, !strcmp(s->family, "llama4_text") ? "feed_forward" : "mlp");
    if (ls->norms != NORMS_PRE)
        y = rmsnorm(L, y, H, H, "post_feedforward_layernorm.weight", WR_POST_FFN_NORM, "post_feedforward_layernorm (on the sublayer output)");
    return add(L, x, y, H, "residual add (FFN)");
}

/* ── multi-token prediction (DeepSeek-V3, GLM-4.5) ─────────────────────────────
 * The checkpoint's layer n_layers is one MTP module.  At position i it takes
 * the main model's final hidden state h_i (after model.norm) and the embedding
 * of the next token t_{i+1}, and predicts t_{i+2}:
 *   z = eh_proj · [RMSNorm(embed(t_{i+1}); enorm) | RMSNorm(h_i; hnorm)]
 *   z = decoder layer n_layers (z)           its own KV cache, same RoPE
 *   draft logits = shared_head.head · RMSNorm(z; shared_head.norm)
 * transformers ignores these tensors; the runtime uses the module to draft one
 * token per step for self-speculative decoding (see docs/runtime.md). */
static int lower_mtp(Lower *L) {
    const ModelSpec *s = L->s;
    int H = s->hidden;
    if (s->mtp_depth != 1) {
        fprintf(stderr, "%s: error: not yet supported: mtp depth %d (one MTP module is supported)\n", s->file, s->mtp_depth);
        return -1;
    }
    int l = s->n_layers;
    L->mtp = true;
    L->layer = l;
    L->loc = s->loc;
    snprintf(L->lp, sizeof L->lp, "model.layers.%d.", l);
    Node *in = node(L, OP_INPUT, "MTP: next token ids t_{i+1}");
    int ids = out(L, in, 1, "tokens");
    L->g->vals[ids].is_int = true;
    Node *hi = node(L, OP_HIDDEN_IN, "MTP: main model hidden h_i (after model.norm)");
    int hid = out(L, hi, H, "h_main");
    int emb = embed(L, ids, weight(L, "embed_tokens.weight", WR_MTP_EMBED, 2, s->vocab, H, 0), "MTP embed_tokens");
    emb = rmsnorm(L, emb, H, H, "enorm.weight", WR_ENORM, "enorm");
    hid = rmsnorm(L, hid, H, H, "hnorm.weight", WR_HNORM, "hnorm");
    Node *cat = node(L, OP_CONCAT, "[enorm(embedding) | hnorm(hidden)]");
    cat->in[0] = emb;
    cat->in[1] = hid;
    cat->n_in = H;
    int c = out(L, cat, 2 * H, "eh");
    int x = linear(L, c, 2 * H, H, "eh_proj.weight", WR_EH_PROJ, NULL, WR_NONE, "x", "eh_proj");
    x = lower_layer(L, x, l);
    if (x < 0) return -1;
    L->loc = s->loc;
    x = rmsnorm(L, x, H, H, "shared_head.norm.weight", WR_MTP_NORM, "shared_head.norm");
    logits(L, x, weight(L, "shared_head.head.weight", WR_MTP_HEAD, 2, s->vocab, H, 0), 0, "MTP shared_head.head (draft logits)");
    L->mtp = false;
    return 0;
}

/* ── the model ─────────────────────────────────────────────────────────────── */

/* ── what the graph keeps of the description ───────────────────────────────── */

static void copy_model(const ModelSpec *s, GraphModel *m) {
    snprintf(m->name, sizeof m->name, "%s", s->name);
    snprintf(m->family, sizeof m->family, "%s", s->family);
    m->file = s->file;
    m->loc = s->loc;
    m->vocab = s->vocab;
    m->hidden = s->hidden;
    m->n_layers = s->n_layers;
    m->max_context = s->max_context;
    m->mtp_depth = s->mtp_depth;
    m->eos_token = s->eos_token;
    m->weight_format = s->weights.format;
    m->fp8_block[0] = s->weights.block[0];
    m->fp8_block[1] = s->weights.block[1];
    m->kept_format = s->weights.kept;
    m->scale_f16 = s->weights.scale_f16;
    snprintf(m->weight_prefix, sizeof m->weight_prefix, "%s", s->weights.prefix);
}

static void copy_rope(const RopeSpec *r, RopeTable *t) {
    snprintf(t->name, sizeof t->name, "%s", r->name);
    t->kind = r->kind;
    t->layout = r->layout;
    t->ntk_seq_length = r->ntk_seq_length;
    RtRopeParams *p = &t->params;
    switch (r->kind) {
    case ROPE_LINEAR: p->kind = RT_ROPE_LINEAR; break;
    case ROPE_LLAMA3: p->kind = RT_ROPE_LLAMA3; break;
    case ROPE_YARN: p->kind = RT_ROPE_YARN; break;
    default: p->kind = RT_ROPE_DEFAULT; break;  /* dynamic NTK: default with a scaled base, at run time */
    }
    p->theta = r->theta;
    p->factor = r->factor;
    p->original_max_position = r->original_max_position;
    p->low_freq_factor = r->low_freq_factor;
    p->high_freq_factor = r->high_freq_factor;
    p->beta_fast = r->beta_fast;
    p->beta_slow = r->beta_slow;
    p->truncate = r->truncate;
    p->has_attention_factor = r->has_attention_factor;
    p->attention_factor = r->attention_factor;
    p->has_mscale = r->has_mscale;
    p->mscale = r->mscale;
    p->has_mscale_all_dim = r->has_mscale_all_dim;
    p->mscale_all_dim = r->mscale_all_dim;
}

int lower_model(const ModelSpec *s, Graph *g) {
    graph_init(g);
    copy_model(s, &g->model);
    /* Default prefill chunk: 128 tokens.  The prefill GEMM packs each weight
     * panel once per chunk (docs/kernels.md), so the chunk is the number of
     * tokens that share one pack; at 64 the packing was a quarter of the time. */
    g->tmax = s->max_context < 128 ? s->max_context : 128;
    for (int r = 0; r < s->n_rope; r++) copy_rope(&s->rope[r], &g->rope[r]);
    g->n_rope = s->n_rope;
    Lower L = {.g = g, .s = s, .layer = -1, .loc = s->loc};
    bool q1 = s->weights.names == NAMES_QWEN1;
    if (q1 && (s->n_attn != 1 || !s->attn[0].fused_qkv)) {
        fprintf(stderr, "%s: error: names: qwen1 expects one attention variant with fused_qkv: true (c_attn)\n", s->file);
        return -1;
    }
    int H = s->hidden;
    /* embedding */
    Node *in = graph_add_node(g, OP_INPUT, -1, s->loc);
    snprintf(in->note, sizeof in->note, "token ids");
    int ids = graph_add_value(g, 1, "tokens", -1);
    g->vals[ids].is_int = true;
    in->out = ids;
    int emb_w = weight(&L, q1 ? "transformer.wte.weight" : "model.embed_tokens.weight", WR_EMBED, 2, s->vocab, H, 0);
    int x = embed(&L, ids, emb_w, "embed_tokens");

    for (int l = 0; l < s->n_layers; l++) {
        x = lower_layer(&L, x, l);
        if (x < 0) return -1;
    }

    /* final norm and logits */
    L.layer = -1;
    L.loc = s->loc;
    x = rmsnorm(&L, x, H, H, q1 ? "transformer.ln_f.weight" : "model.norm.weight", WR_FINAL_NORM, q1 ? "ln_f (final norm)" : "final norm");
    int head;
    if (s->tie_embeddings) {
        head = weight(&L, q1 ? "transformer.wte.weight" : "model.embed_tokens.weight", WR_LM_HEAD, 2, s->vocab, H, 0);
        g->weights[head].alias = emb_w;
    } else {
        head = weight(&L, "lm_head.weight", WR_LM_HEAD, 2, s->vocab, H, 0);
    }
    logits(&L, x, head, s->final_softcap, s->tie_embeddings ? "lm_head (tied to embed_tokens)" : "lm_head");

    if (s->mtp_depth > 0 && lower_mtp(&L) != 0) return -1;

    /* Quantised checkpoints quantise the projections only: the embedding, the
     * lm_head and the MoE routers stay bf16 (DeepSeek-V3 FP8 layout). */
    /* gpt-oss MXFP4 checkpoints quantise the routed experts only */
    if (s->weights.format == WFMT_MXFP4)
        for (int i = 0; i < g->n_weights; i++) {
            Weight *w = &g->weights[i];
            if ((w->flags & W_VECTOR) || w->role == WR_EXPERTS_GATE_UP || w->role == WR_EXPERTS_DOWN || w->fmt == WFMT_U8) continue;
            w->fmt = WFMT_BF16;
        }
    /* archc quantize checkpoints (frontend/quantize.c decides the same by tensor name):
     * every 2-D projection quantised, MLA's kv_b_proj included (and the stacked
     * experts: stacked_matrix); the embedding, routers, Qwen-1's fused c_attn (row
     * views) and the MTP embedding/head stay in the kept float format */
    if (s->weights.format == WFMT_I8 || s->weights.format == WFMT_I4 || s->weights.format == WFMT_MXFP4_DENSE)
        for (int i = 0; i < g->n_weights; i++) {
            Weight *w = &g->weights[i];
            WeightRole r = w->role;
            if (w->flags & W_VECTOR) continue;
            if (w->ndim > 2 && (r == WR_EXPERTS_GATE_UP || r == WR_EXPERTS_DOWN || r == WR_EXPERTS_GATE_UP_SCALES || r == WR_EXPERTS_DOWN_SCALES))
                continue;   /* stacked experts: decided by stacked_matrix */
            int keep = kept_by_pattern(&s->weights, w->name);   /* archc quantize --keep */
            /* --quantize-embeddings: the embedding, a tied lm_head (the same tensor)
             * and the MTP module's embedding too */
            int embedding = r == WR_EMBED || r == WR_MTP_EMBED || (r == WR_LM_HEAD && w->alias >= 0 && !w->view_offset &&
                                                                     g->weights[w->alias].role == WR_EMBED);
            if (embedding && s->weights.quantize_embeddings && !keep && w->ndim == 2) {
                w->fmt = s->weights.format == WFMT_MXFP4_DENSE ? WFMT_MXFP4 : s->weights.format;
                continue;
            }
            if (keep || w->ndim != 2 || r == WR_EMBED || r == WR_ROUTER || r == WR_C_ATTN || r == WR_MTP_EMBED ||
                r == WR_MTP_HEAD || (r == WR_LM_HEAD && w->alias >= 0) || w->alias >= 0 || w->view_offset) {
                w->fmt = s->weights.kept;
                continue;
            }
            w->fmt = s->weights.format == WFMT_MXFP4_DENSE ? WFMT_MXFP4 : s->weights.format;
        }
    /* int8 / int4 with f16 block scales (weights: {scale: f16}): every matrix so
     * quantised, the stacked experts' 3-D ones included (their scale tensors
     * were declared f16 by stacked_matrix) */
    if (s->weights.scale_f16)
        for (int i = 0; i < g->n_weights; i++)
            if ((g->weights[i].fmt == WFMT_I8 || g->weights[i].fmt == WFMT_I4) && !(g->weights[i].flags & W_VECTOR))
                g->weights[i].flags |= W_SCALE_F16;
    /* fp8 (DeepSeek-V3's layout, and archc quantize --format fp8): the embedding,
     * lm_head, routers and the MTP embedding/head stay bf16, and so do Qwen-1's
     * fused c_attn (row views that need not start on a 128-row block) and the
     * matrices archc quantize --keep kept */
    if (s->weights.format == WFMT_FP8_E4M3)
        for (int i = 0; i < g->n_weights; i++) {
            Weight *w = &g->weights[i];
            WeightRole r = w->role;
            if (w->flags & W_VECTOR || w->ndim > 2) continue;   /* stacked experts: stacked_matrix */
            if (r == WR_EMBED || r == WR_LM_HEAD || r == WR_ROUTER || r == WR_MTP_EMBED || r == WR_MTP_HEAD || r == WR_C_ATTN ||
                (w->alias >= 0 && g->weights[w->alias].role == WR_C_ATTN) || kept_by_pattern(&s->weights, w->name))
                w->fmt = WFMT_BF16;
        }
    /* --keep may not split what one kernel reads in one format: a layer's gate and up
     * projections (fused GLU), or the routed and shared experts of an MoE layer */
    if (s->weights.n_keep)
        for (int i = 0; i < g->n_weights; i++) {
            const Weight *w = &g->weights[i];
            static const WeightRole same[][4] = {{WR_GATE_PROJ, WR_UP_PROJ, WR_NONE, WR_NONE},
                                                 {WR_EXPERTS_GATE, WR_EXPERTS_UP, WR_EXPERTS_DOWN, WR_SHARED_GATE},
                                                 {WR_EXPERTS_GATE, WR_SHARED_UP, WR_SHARED_DOWN, WR_NONE},
                                                 {WR_EXPERTS_GATE_UP, WR_EXPERTS_DOWN, WR_NONE, WR_NONE}};
            for (int gi = 0; gi < 4; gi++) {
                int in = 0;
                for (int k = 0; k < 4; k++) in |= same[gi][k] == w->role;
                /* stacked experts (3-D) and Llama 4's shared expert have formats of their own */
                int routed_shared = gi == 1 || gi == 2;
                if (!in || w->flags & W_VECTOR || (routed_shared && w->ndim > 2)) continue;
                for (int j = 0; j < g->n_weights; j++) {
                    const Weight *o = &g->weights[j];
                    int in2 = 0;
                    for (int k = 0; k < 4; k++) in2 |= same[gi][k] == o->role;
                    if (!in2 || o->layer != w->layer || o->flags & W_VECTOR || o->fmt == w->fmt || (routed_shared && o->ndim > 2)) continue;
                    WeightFormat kept = s->weights.format == WFMT_FP8_E4M3 ? WFMT_BF16 : s->weights.kept;
                    fprintf(stderr, "%s: error: not supported: weights.keep keeps %s but not %s (one kernel reads both in one format)\n",
                            s->file ? s->file : "(description)", o->fmt == kept ? o->name : w->name, o->fmt == kept ? w->name : o->name);
                    return -1;
                }
            }
        }
    return graph_verify(g, "lowering");
}
