/*
 * codegen/program.c — build the lowered program (codegen/program.h) from the
 * graph after passes: activation views, kernel signatures (deduplicated by
 * name) and the step lists of prefill, decode and MTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "program.h"

/* ── activation views ────────────────────────────────────────────────────── */

static void build_views(Program *p) {
    const Graph *g = p->g;
    p->views = calloc((size_t)g->n_vals, sizeof(View));
    int64_t next = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->out < 0 || n->op == OP_LOGITS || n->op == OP_INPUT) continue;
        const Value *v = &g->vals[n->out];
        if (g->memplanned) p->views[n->out].offset = v->offset;
        else { p->views[n->out].offset = next; next += (int64_t)v->width * g->tmax; }
    }
    p->arena_floats = g->memplanned ? g->arena_floats : next;
    /* name = role; values of one role that live at different offsets are
     * numbered in order of first appearance of their offset (x, x_2, x_3 …) */
    for (int v = 0; v < g->n_vals; v++) {
        const Value *val = &g->vals[v];
        View *vw = p->views;
        vw[v].width = val->width;
#define SAME_ROLE(u) (g->vals[u].producer >= 0 && !strcmp(g->vals[u].role, val->role))
        int first = v;  /* first value of this role at this offset */
        for (int u = 0; u < v; u++)
            if (SAME_ROLE(u) && vw[u].offset == vw[v].offset) { first = u; break; }
        int rank = 1;   /* 1 + offsets of this role that appeared before */
        for (int u = 0; u < first; u++) {
            if (!SAME_ROLE(u) || vw[u].offset == vw[v].offset) continue;
            int earlier = 0;  /* count each offset once: at its first appearance */
            for (int w = 0; w < u && !earlier; w++) earlier = SAME_ROLE(w) && vw[w].offset == vw[u].offset;
            if (!earlier) rank++;
        }
#undef SAME_ROLE
        if (rank == 1) snprintf(vw[v].name, sizeof vw[v].name, "%s", val->role);
        else snprintf(vw[v].name, sizeof vw[v].name, "%s_%d", val->role, rank);
    }
}

/* The views an entry point names: one per distinct name among the values its
 * nodes produce (a name always denotes one offset). */
static int build_decls(Program *p, Phase ph) {
    const Graph *g = p->g;
    int *d = calloc((size_t)g->n_vals + 1, sizeof(int)), nd = 0;
    for (int v = 0; v < g->n_vals; v++) {
        if (g->vals[v].producer < 0 || g->vals[v].is_int || g->nodes[g->vals[v].producer].op == OP_LOGITS) continue;
        if (g->nodes[g->vals[v].producer].mtp != (ph == PH_MTP)) continue;
        int dup = 0;
        for (int k = 0; k < nd && !dup; k++) dup = !strcmp(p->views[d[k]].name, p->views[v].name);
        if (!dup) { d[nd++] = v; continue; }
        for (int u = 0; u < v; u++)
            if (g->vals[u].producer >= 0 && !strcmp(p->views[u].name, p->views[v].name) && p->views[u].offset != p->views[v].offset) {
                fprintf(stderr, "archc: internal error: value name %s used for two arena offsets\n", p->views[v].name);
                free(d);
                return -1;
            }
    }
    p->decl[ph] = d;
    p->n_decl[ph] = nd;
    return 0;
}

/* The buffers besides the arena: KV caches, RoPE tables in use. */
static void build_state(Program *p) {
    const Graph *g = p->g;
    p->n_caches = g->n_caches;
    p->caches = calloc((size_t)g->n_caches + 1, sizeof(Cache));
    for (int c = 0; c < g->n_caches; c++)
        p->caches[c] = (Cache){.rows = g->cache_rows[c], .k_width = g->cache_kv_width[c], .v_width = g->cache_v_width[c],
                               .ring = g->cache_rows[c] != 0};
    p->ropes = calloc((size_t)g->n_rope + 1, sizeof(Rope));
    for (int r = 0; r < g->n_rope; r++)
        if (g->rope[r].dims > 0)
            p->ropes[p->n_ropes++] = (Rope){.rope = r, .half = g->rope[r].dims / 2, .folded = g->rope[r].folded,
                                            .ntk = g->rope[r].kind == ROPE_DYNAMIC_NTK};
}

/* ── weight layout ───────────────────────────────────────────────────────── */

static void build_weights(Program *p) {
    const Graph *g = p->g;
    bool seen[WR_COUNT] = {false};
    p->layer_slots = calloc(WR_COUNT, sizeof(LayerSlot));
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        int slots = weight_fp8(w) ? 2 : 1;
        if (w->expert >= 0) p->n_expert_slots += slots;
        else if (w->alias < 0) p->n_listed += slots;
        if (w->layer < 0 || seen[w->role]) continue;
        seen[w->role] = true;
        p->layer_slots[p->n_layer_slots++] =
            (LayerSlot){.role = w->role, .weight = i, .experts = w->expert >= 0 ? graph_layer_moe(g, w->layer)->moe.experts : 0};
    }
    /* one group per MoE variant whose experts have matrices of their own */
    int n_variants = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_MOE && g->nodes[i].variant >= n_variants) n_variants = g->nodes[i].variant + 1;
    p->expert_groups = calloc((size_t)n_variants + 1, sizeof(ExpertGroup));
    for (int v = 0; v < n_variants; v++) {
        ExpertGroup eg = {.node = -1, .layers = calloc((size_t)(g->model.n_layers + g->model.mtp_depth) + 1, sizeof(int))};
        for (int i = 0; i < g->n_nodes; i++) {
            const Node *n = &g->nodes[i];
            if (n->op != OP_MOE || n->variant != v) continue;
            if (eg.node < 0) eg.node = i;
            eg.layers[eg.n_layers++] = n->layer;
        }
        if (eg.node < 0 || g->weights[g->nodes[eg.node].w[1]].expert < 0) { free(eg.layers); continue; }
        p->expert_groups[p->n_expert_groups++] = eg;
    }
}

/* ── kernel signatures ───────────────────────────────────────────────────── */

/* A number as part of a C identifier: 1e-06 → "1em06", 0.25 → "0p25". */
static void ident_num(char *out, size_t cap, const char *fmt, double v) {
    snprintf(out, cap, fmt, v);
    for (char *p = out; *p; p++) {
        if (*p == '-') *p = 'm';
        else if (*p == '.' || *p == '+') *p = 'p';
    }
}

#define APPEND(sig, cap, ...) snprintf((sig) + strlen(sig), (cap) - strlen(sig), __VA_ARGS__)

static void linear_sig(const Graph *g, const Node *n, const Kernel *k, char *sig, size_t cap) {
    int glu = n->op == OP_LINEAR_GLU;
    snprintf(sig, cap, "%s%s_%s_%dx%d%s%s", k->gemv ? "gemv" : "gemm", glu ? (n->act == ACT_GEGLU_TANH ? "_geglu" : "_swiglu") : "",
             wfmt_name(g->weights[n->w[0]].fmt), n->n_out, n->n_in, k->bias ? "_bias" : "", k->residual ? "_res" : "");
}

static void rmsnorm_sig(const Node *n, char *sig, size_t cap) {
    snprintf(sig, cap, "%s_%d%s", n->norm_kind == NORM_L2 ? "l2norm" : n->norm_kind == NORM_RMS_GEMMA ? "rmsnorm_gemma" : "rmsnorm",
             n->n_in, n->group != n->n_in ? "_per" : "");
    if (n->group != n->n_in) APPEND(sig, cap, "%d", n->group);
    char eps[32];
    ident_num(eps, sizeof eps, "%g", n->eps);
    APPEND(sig, cap, "_eps%s", eps);
}

static void moe_sig(const Graph *g, const Node *n, char *sig, size_t cap) {
    const MoeAttrs *m = &n->moe;
    char groups[48] = "", scale[40] = "";
    if (m->groups > 1) snprintf(groups, sizeof groups, "_groups%dtop%d%s", m->groups, m->top_groups, m->group_max ? "max" : "");
    if (m->scale != 1) ident_num(scale, sizeof scale, "_x%.6g", m->scale);
    snprintf(sig, cap, "moe_%s_%s_%dx%d_%dx%d%s%s%s%s%s", wfmt_name(g->weights[n->w[1]].fmt),
             m->score == ROUTER_SIGMOID ? "sigmoid" : "softmax", m->experts, m->top_k, n->n_in, m->intermediate,
             groups, m->normalize ? "_norm" : "", scale, m->shared ? "_shared" : "", n->grouped ? "_grouped" : "");
}

static void moe_stacked_sig(const Graph *g, const Node *n, char *sig, size_t cap) {
    const MoeAttrs *m = &n->moe;
    snprintf(sig, cap, "moe_stacked_%s_%s_%dx%d_%dx%d%s%s%s", wfmt_name(g->weights[n->w[1]].fmt),
             n->act == ACT_SWIGLU_OAI ? "oai" : "llama4", m->experts, m->top_k, n->n_in, m->intermediate,
             m->bias ? "_bias" : "", m->shared ? "_shared" : "", n->grouped ? "_grouped" : "");
}

static void attention_sig(const Node *n, char *sig, size_t cap) {
    char sc[32], extra[64] = "";
    ident_num(sc, sizeof sc, "%.6g", n->scale);
    if (n->window) APPEND(extra, sizeof extra, "_window%d", n->window);
    if (n->chunk) APPEND(extra, sizeof extra, "_chunk%d", n->chunk);
    if (n->w[0] >= 0) APPEND(extra, sizeof extra, "_sinks");
    if (n->ring) APPEND(extra, sizeof extra, "_ring%d", n->ring);
    if (n->temp_floor > 0) APPEND(extra, sizeof extra, "_temptuned");
    if (n->logn_seq > 0) APPEND(extra, sizeof extra, "_logn%d", n->logn_seq);
    snprintf(sig, cap, "attention_%dx%dx%d%s_scale%s", n->heads, n->kv_heads, n->head_dim, extra, sc);
}

static void qk_fused_sig(const Graph *g, const Node *n, char *sig, size_t cap) {
    const char *nk = n->qk_norm == QKNORM_NONE ? "" : n->qk_norm == QKNORM_HEAD ? "_headnorm" : "_wholenorm";
    snprintf(sig, cap, "qk%s_rope%s_store_%dx%dx%d_rot%d", nk,
             n->rope >= 0 && g->rope[n->rope].layout == ROPE_LAYOUT_INTERLEAVED ? "_interleaved" : "", n->heads, n->kv_heads,
             n->head_dim, n->rope >= 0 ? n->rot_dims : 0);
    if (n->ring) APPEND(sig, cap, "_ring%d", n->ring);
    if (n->qk_norm != QKNORM_NONE) {
        char eps[32];
        ident_num(eps, sizeof eps, "%g", n->eps);
        APPEND(sig, cap, "_eps%s%s", eps, n->norm_kind == NORM_RMS_GEMMA ? "_gemma" : "");
    }
}

/* The signature of kernel k (kind, node and flags set). */
static void kernel_sig(const Graph *g, const Kernel *k, char *sig, size_t cap) {
    const Node *n = &g->nodes[k->node];
    char sc[32];
    switch (k->kind) {
    case KK_EMBED:
        snprintf(sig, cap, "embed_%s_%d%s", wfmt_name(g->weights[n->w[0]].fmt), n->n_out, n->scale != 0 ? "_scaled" : "");
        break;
    case KK_RMSNORM: rmsnorm_sig(n, sig, cap); break;
    case KK_LINEAR: linear_sig(g, n, k, sig, cap); break;
    case KK_BIAS: snprintf(sig, cap, "bias_%d", n->n_in); break;
    case KK_ADD: snprintf(sig, cap, "add_%d", n->n_in); break;
    case KK_GLU: snprintf(sig, cap, "%s_%d", n->act == ACT_GEGLU_TANH ? "geglu" : "swiglu", n->n_in); break;
    case KK_ROPE:
        snprintf(sig, cap, "rope%s_%dx%d_rot%d", g->rope[n->rope].layout == ROPE_LAYOUT_INTERLEAVED ? "_interleaved" : "",
                 n->heads, n->head_dim, n->rot_dims);
        break;
    case KK_CONCAT: snprintf(sig, cap, "concat_%d_%d", g->vals[n->in[0]].width, g->vals[n->in[1]].width); break;
    case KK_KV_STORE:
        snprintf(sig, cap, "kv_store_%d", n->kv_heads * n->head_dim);
        if (n->ring) APPEND(sig, cap, "_ring%d", n->ring);
        break;
    case KK_QK_ROPE_STORE: qk_fused_sig(g, n, sig, cap); break;
    case KK_MLA_STORE: snprintf(sig, cap, "mla_store_r%d_rope%d", n->latent, n->rot_dims); break;
    case KK_MLA_ATTENTION:
        ident_num(sc, sizeof sc, "%.6g", n->scale);
        snprintf(sig, cap, "mla_attention_%dx%d_%d_%d_r%d_%s_scale%s", n->heads, n->nope_dim, n->rot_dims, n->v_dim,
                 n->latent, wfmt_name(g->weights[n->w[1]].fmt), sc);
        break;
    case KK_MOE: moe_sig(g, n, sig, cap); break;
    case KK_MOE_STACKED: moe_stacked_sig(g, n, sig, cap); break;
    case KK_ATTENTION: attention_sig(n, sig, cap); break;
    }
}

/* The kernel of this kind for node i (and flags), added the first time its
 * signature is seen; returns its index. */
static int kernel_of(Program *p, KernelKind kind, int i, bool gemv, bool bias, bool residual) {
    Kernel k = {.kind = kind, .node = i, .gemv = gemv, .bias = bias, .residual = residual};
    kernel_sig(p->g, &k, k.name, sizeof k.name);
    for (int j = 0; j < p->n_kernels; j++)
        if (!strcmp(p->kernels[j].name, k.name)) return j;
    p->kernels = realloc(p->kernels, sizeof(Kernel) * (size_t)(p->n_kernels + 1));
    p->kernels[p->n_kernels] = k;
    return p->n_kernels++;
}

/* Kernel k needs `floats` of scratch per token row; the program's scratch
 * buffer is sized for the largest (kernels run one at a time). */
static void scratch(Program *p, int k, int floats) {
    p->kernels[k].scratch = floats;
    if (floats > p->scratch_floats) p->scratch_floats = floats;
}

/* ── steps ───────────────────────────────────────────────────────────────── */

int program_weight(const Graph *g, int layer, WeightRole role) {
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->layer == layer && w->role == role && w->expert < 0) return i;
    }
    return -1;
}

static Arg arg(ArgKind kind, int id) { return (Arg){.kind = kind, .id = id}; }
static Arg act(int v) { return arg(A_ACT, v); }
static Arg act_out(int v) { return (Arg){.kind = A_ACT, .id = v, .out = true}; }
static Arg cache_out(ArgKind kind, int c) { return (Arg){.kind = kind, .id = c, .out = true}; }
static Arg last_row(int v) { return (Arg){.kind = A_ACT, .id = v, .last_row = true}; }
static Arg weight(int w) { return w >= 0 ? arg(A_WEIGHT, w) : arg(A_NULL, P_WEIGHT); }
static Arg experts(int layer, WeightRole role, bool scale) {
    return (Arg){.kind = scale ? A_EXPERTS_SCALE : A_EXPERTS, .id = layer, .role = role};
}

/* The step list being appended to. */
typedef struct Builder {
    Program *p;
    Phase ph;
    int node;
} Builder;

static Step *step_new(Builder *b, StepKind kind) {
    Program *p = b->p;
    int n = p->n_steps[b->ph];
    if (n >= 16 && !(n & (n - 1)))  /* capacity doubles at each power of two */
        p->steps[b->ph] = realloc(p->steps[b->ph], sizeof(Step) * (size_t)n * 2);
    else if (!n)
        p->steps[b->ph] = malloc(sizeof(Step) * 16);
    Step *s = &p->steps[b->ph][p->n_steps[b->ph]++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = b->node;
    s->kernel = -1;
    return s;
}

static void push(Step *s, Arg a) {
    if (s->n_args == STEP_MAX_ARGS) { fprintf(stderr, "archc: internal error: too many kernel arguments\n"); abort(); }
    s->arg[s->n_args++] = a;
}

/* A call of kernel k; arguments are pushed after. */
static Step *call(Builder *b, int k) {
    Step *s = step_new(b, S_CALL);
    s->kernel = k;
    return s;
}

/* Tokens in this call: a literal 1 in decode. */
static Arg tokens_T(const Builder *b) { return b->ph == PH_DECODE ? arg(A_INT, 1) : arg(A_T, 0); }

/* A weight and, when fp8, its block multipliers. */
static void push_weight(const Graph *g, Step *s, int w) {
    push(s, weight(w));
    if (w >= 0 && weight_fp8(&g->weights[w])) push(s, arg(A_WEIGHT_SCALE, w));
}

static void steps_linear(Builder *b, const Node *n) {
    const Graph *g = b->p->g;
    int glu = n->op == OP_LINEAR_GLU, gemv = b->ph == PH_DECODE;
    int bias = glu ? n->w[2] >= 0 : n->w[1] >= 0;
    Step *s = call(b, kernel_of(b->p, KK_LINEAR, b->node, gemv, bias, n->residual));
    push(s, act(n->in[0]));
    push_weight(g, s, n->w[0]);
    if (glu) {
        push_weight(g, s, n->w[1]);
        if (n->w[2] >= 0) { push(s, weight(n->w[2])); push(s, weight(n->w[3])); }
    } else if (n->w[1] >= 0) push(s, weight(n->w[1]));
    if (n->residual) push(s, act(n->in[1]));
    push(s, act_out(n->out));
    if (!gemv) push(s, arg(A_T, 0));
}

/* Logits: the hidden_out copy, the vocabulary projection of every row or of
 * the last (prefill, by logits mode), the final soft-cap.  The MTP module
 * projects its last row only. */
static void steps_logits(Builder *b, const Node *n) {
    Program *p = b->p;
    int x = n->in[0];
    Step *s;
    if (b->ph == PH_MTP) {
        s = call(b, kernel_of(p, KK_LINEAR, b->node, true, false, false));
        push(s, last_row(x)); push_weight(p->g, s, n->w[0]); push(s, arg(A_LOGITS, 0));
        return;
    }
    s = step_new(b, S_COPY);
    s->guard = G_HIDDEN_OUT;
    s->width = n->n_in;
    push(s, arg(A_HIDDEN_OUT, 0)); push(s, act(x)); push(s, tokens_T(b));
    if (b->ph == PH_DECODE) {
        s = call(b, kernel_of(p, KK_LINEAR, b->node, true, false, false));
        push(s, act(x)); push_weight(p->g, s, n->w[0]); push(s, arg(A_LOGITS, 0));
    } else {
        s = call(b, kernel_of(p, KK_LINEAR, b->node, false, false, false));
        s->guard = G_LOGITS_ALL;
        push(s, act(x)); push_weight(p->g, s, n->w[0]); push(s, arg(A_LOGITS, 0)); push(s, arg(A_T, 0));
        s = call(b, kernel_of(p, KK_LINEAR, b->node, true, false, false));
        s->guard = G_LOGITS_LAST;
        push(s, last_row(x)); push_weight(p->g, s, n->w[0]); push(s, arg(A_LOGITS, 0));
    }
    if (n->softcap != 0) {
        s = step_new(b, S_SOFTCAP);
        s->guard = G_LOGITS;
        s->value = n->softcap;
        push(s, b->ph == PH_DECODE ? arg(A_INT, 1) : arg(A_LOGITS_ROWS, 0));
    }
}

static void steps_moe(Builder *b, const Node *n) {
    const Graph *g = b->p->g;
    int L = n->layer;
    Step *s;
    if (n->moe.stacked) {
        static const WeightRole roles[] = {WR_ROUTER, WR_ROUTER_BIAS, WR_EXPERTS_GATE_UP, WR_EXPERTS_DOWN, WR_EXPERTS_GATE_UP_SCALES,
                                           WR_EXPERTS_DOWN_SCALES, WR_EXPERTS_GATE_UP_BIAS, WR_EXPERTS_DOWN_BIAS, WR_SHARED_GATE,
                                           WR_SHARED_UP, WR_SHARED_DOWN};
        s = call(b, kernel_of(b->p, KK_MOE_STACKED, b->node, false, false, false));
        push(s, act(n->in[0]));
        for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) push(s, weight(program_weight(g, L, roles[r])));
        for (int k = 0; k < 3; k++) {   /* the shared expert's block multipliers (Llama 4 quantised) */
            static const WeightRole sh[] = {WR_SHARED_GATE, WR_SHARED_UP, WR_SHARED_DOWN};
            int w = program_weight(g, L, sh[k]);
            push(s, w >= 0 && weight_fp8(&g->weights[w]) ? arg(A_WEIGHT_SCALE, w) : arg(A_NULL, P_WEIGHT_SCALE));
        }
    } else {
        static const WeightRole ex[] = {WR_EXPERTS_GATE, WR_EXPERTS_UP, WR_EXPERTS_DOWN};
        static const WeightRole sh[] = {WR_SHARED_GATE, WR_SHARED_UP, WR_SHARED_DOWN};
        s = call(b, kernel_of(b->p, KK_MOE, b->node, false, false, false));
        push(s, act(n->in[0]));
        push(s, weight(n->w[0]));
        for (int k = 0; k < 3; k++) push(s, experts(L, ex[k], false));
        push(s, weight(n->w[3]));
        for (int k = 0; k < 3; k++) push(s, weight(n->w[2] >= 0 ? program_weight(g, L, sh[k]) : -1));
        if (weight_fp8(&g->weights[n->w[1]])) {
            for (int k = 0; k < 3; k++) push(s, experts(L, ex[k], true));
            for (int k = 0; k < 3; k++) {
                int w = n->w[2] >= 0 ? program_weight(g, L, sh[k]) : -1;
                push(s, w >= 0 ? arg(A_WEIGHT_SCALE, w) : arg(A_NULL, P_WEIGHT_SCALE));
            }
        }
    }
    push(s, act_out(n->out));
    push(s, tokens_T(b));
}

/* MLA: the latent cache write, then attention over it (absorbed in decode and
 * for a single MTP position when mla-absorb marked the node; prefill
 * materialises K/V). */
static void steps_mla(Builder *b, const Node *n) {
    const Graph *g = b->p->g;
    Step *s = call(b, kernel_of(b->p, KK_MLA_STORE, b->node, false, false, false));
    push(s, act(n->in[1])); push(s, weight(n->w[0])); push(s, cache_out(A_K_CACHE, n->cache));
    push(s, arg(A_ROPE_COS, n->rope)); push(s, arg(A_ROPE_SIN, n->rope)); push(s, tokens_T(b)); push(s, arg(A_POS, 0));
    int absorbed = (b->ph == PH_DECODE || b->ph == PH_MTP) && n->absorbed;
    int k = kernel_of(b->p, KK_MLA_ATTENTION, b->node, false, false, false);
    scratch(b->p, k, n->heads * (n->nope_dim + n->rot_dims));  /* the queries with q_pe rotated */
    s = call(b, k);
    push(s, act(n->in[0]));
    push_weight(g, s, n->w[1]);
    push(s, arg(A_K_CACHE, n->cache)); push(s, arg(A_ROPE_COS, n->rope)); push(s, arg(A_ROPE_SIN, n->rope));
    push(s, arg(A_SCRATCH, 0)); push(s, act_out(n->out)); push(s, tokens_T(b)); push(s, arg(A_POS, 0));
    push(s, !absorbed ? arg(A_INT, 0) : b->ph == PH_MTP ? arg(A_T_IS_1, 0) : arg(A_INT, 1));
    s->remark = absorbed ? "absorbed: attends over the latent cache (mla-absorb)" : "materialised K/V";
}

static void steps_qk_rope_store(Builder *b, const Node *n) {
    Step *s = call(b, kernel_of(b->p, KK_QK_ROPE_STORE, b->node, false, false, false));
    for (int k = 0; k < 3; k++) push(s, act(n->in[k]));
    push(s, weight(n->w[0])); push(s, weight(n->w[1]));
    push(s, act_out(n->out)); push(s, cache_out(A_K_CACHE, n->cache)); push(s, cache_out(A_V_CACHE, n->cache));
    push(s, n->rope >= 0 ? arg(A_ROPE_COS, n->rope) : arg(A_NULL, P_ROPE));
    push(s, n->rope >= 0 ? arg(A_ROPE_SIN, n->rope) : arg(A_NULL, P_ROPE));
    push(s, tokens_T(b)); push(s, arg(A_POS, 0));
}

/* A kernel with activation inputs, then optional extras, then the output and T. */
static Step *simple(Builder *b, KernelKind kind, int n_in, const Node *n) {
    Step *s = call(b, kernel_of(b->p, kind, b->node, false, false, false));
    for (int k = 0; k < n_in; k++) push(s, act(n->in[k]));
    return s;
}
static void finish(Builder *b, Step *s, const Node *n) { push(s, act_out(n->out)); push(s, tokens_T(b)); }

/* The steps of node b->node in entry point b->ph. */
static void steps_node(Builder *b) {
    const Node *n = &b->p->g->nodes[b->node];
    Step *s;
    switch (n->op) {
    case OP_INPUT: break;
    case OP_HIDDEN_IN:
        s = step_new(b, S_COPY);
        s->width = b->p->g->vals[n->out].width;
        push(s, act_out(n->out)); push(s, arg(A_HIDDEN_IN, 0)); push(s, arg(A_T, 0));
        break;
    case OP_EMBED:
        s = call(b, kernel_of(b->p, KK_EMBED, b->node, false, false, false));
        push(s, arg(A_TOKENS, 0)); push_weight(b->p->g, s, n->w[0]); finish(b, s, n);
        break;
    case OP_RMSNORM: s = simple(b, KK_RMSNORM, 1, n); push(s, weight(n->w[0])); finish(b, s, n); break;
    case OP_LINEAR: case OP_LINEAR_GLU: steps_linear(b, n); break;
    case OP_LOGITS: steps_logits(b, n); break;
    case OP_BIAS: s = simple(b, KK_BIAS, 1, n); push(s, weight(n->w[0])); finish(b, s, n); break;
    case OP_ADD: s = simple(b, KK_ADD, 2, n); finish(b, s, n); break;
    case OP_GLU: s = simple(b, KK_GLU, 2, n); finish(b, s, n); break;
    case OP_CONCAT: s = simple(b, KK_CONCAT, 2, n); finish(b, s, n); break;
    case OP_ROPE:
        s = simple(b, KK_ROPE, 1, n);
        push(s, act_out(n->out)); push(s, arg(A_ROPE_COS, n->rope)); push(s, arg(A_ROPE_SIN, n->rope)); push(s, tokens_T(b));
        break;
    case OP_KV_STORE:
        s = simple(b, KK_KV_STORE, 2, n);
        push(s, cache_out(A_K_CACHE, n->cache)); push(s, cache_out(A_V_CACHE, n->cache)); push(s, tokens_T(b)); push(s, arg(A_POS, 0));
        break;
    case OP_QK_ROPE_STORE: steps_qk_rope_store(b, n); break;
    case OP_MOE: steps_moe(b, n); break;
    case OP_MLA_ATTENTION: steps_mla(b, n); break;
    case OP_ATTENTION:
        s = simple(b, KK_ATTENTION, 1, n);
        push(s, arg(A_K_CACHE, n->cache)); push(s, arg(A_V_CACHE, n->cache));
        if (n->w[0] >= 0) push(s, weight(n->w[0]));
        finish(b, s, n);
        push(s, arg(A_POS, 0));
        break;
    default: break;
    }
}

/* ── kernel parameters ───────────────────────────────────────────────────── */

/* The formal parameter an operand fills; *null when it passes no tensor. */
static Param param_of(const Graph *g, Arg a, bool *null) {
    Param q = {.type = P_INT, .out = a.out};
    *null = a.kind == A_NULL;
    switch (a.kind) {
    case A_NULL: q.type = (ParamType)a.id; break;
    case A_ACT: case A_LOGITS: q.type = P_ACT; q.out = a.out || a.kind == A_LOGITS; break;
    case A_TOKENS: q.type = P_TOKENS; break;
    case A_WEIGHT: {
        const Weight *w = &g->weights[a.id];
        q.type = P_WEIGHT;
        q.fmt = (w->flags & W_VECTOR) ? WFMT_F32 : w->fmt;
        break;
    }
    case A_WEIGHT_SCALE: q.type = P_WEIGHT_SCALE; break;
    case A_EXPERTS: {
        int w = -1;
        for (int i = 0; i < g->n_weights && w < 0; i++)
            if (g->weights[i].layer == a.id && g->weights[i].role == a.role && g->weights[i].expert >= 0) w = i;
        q.type = P_EXPERTS;
        q.fmt = w >= 0 ? g->weights[w].fmt : WFMT_F32;
        break;
    }
    case A_EXPERTS_SCALE: q.type = P_EXPERTS_SCALE; break;
    case A_K_CACHE: case A_V_CACHE: q.type = P_CACHE; break;
    case A_ROPE_COS: case A_ROPE_SIN: q.type = P_ROPE; break;
    case A_SCRATCH: q.type = P_SCRATCH; q.out = true; break;
    default: break;  /* T, pos, literals: P_INT; NULL: decided by another call */
    }
    return q;
}

/* Record the parameters of kernel k from its calls: every call must agree on
 * each parameter's type, format and direction; a NULL fits any tensor and
 * makes the parameter optional.  `known[i]`: some call passed a tensor or a value. */
static int unify_params(const Graph *g, Kernel *k, const Step *s, bool *known) {
    if (k->n_params && k->n_params != s->n_args) goto mismatch;
    for (int i = 0; i < s->n_args; i++) {
        bool null;
        Param q = param_of(g, s->arg[i], &null);
        Param *r = &k->param[i];
        if (null) {  /* the operand says which parameter it leaves empty */
            r->optional = true;
            if (!known[i]) r->type = q.type;
            else if (r->type != q.type) goto mismatch;
            continue;
        }
        if (!known[i]) { q.optional = r->optional; *r = q; known[i] = true; continue; }
        if (r->type != q.type || r->out != q.out || ((r->type == P_WEIGHT || r->type == P_EXPERTS) && r->fmt != q.fmt)) goto mismatch;
    }
    k->n_params = s->n_args;
    return 0;
mismatch:
    fprintf(stderr, "archc: internal error: the calls of kernel %s disagree on its parameters\n", k->name);
    return -1;
}

static int build_params(Program *p) {
    bool (*known)[STEP_MAX_ARGS] = calloc((size_t)p->n_kernels + 1, sizeof *known);
    int rc = 0;
    for (int ph = 0; ph < PH_COUNT && !rc; ph++)
        for (int i = 0; i < p->n_steps[ph] && !rc; i++) {
            const Step *s = &p->steps[ph][i];
            if (s->kind == S_CALL) rc = unify_params(p->g, &p->kernels[s->kernel], s, known[s->kernel]);
        }
    free(known);
    return rc;
}

/* Each entry point starts with the cos/sin of its positions for every RoPE table in use. */
static void steps_preamble(Builder *b) {
    b->node = -1;
    for (int r = 0; r < b->p->n_ropes; r++) {
        Step *s = step_new(b, S_ROPE_ANGLES);
        s->id = b->p->ropes[r].rope;
        push(s, tokens_T(b));
    }
}

int program_build(const Graph *g, Program *p) {
    memset(p, 0, sizeof *p);
    p->g = g;
    p->has_phase[PH_PREFILL] = p->has_phase[PH_DECODE] = true;
    for (int i = 0; i < g->n_nodes; i++) p->has_phase[PH_MTP] |= g->nodes[i].mtp;
    build_views(p);
    build_state(p);
    build_weights(p);
    for (int ph = 0; ph < PH_COUNT; ph++) {
        if (!p->has_phase[ph]) continue;
        if (build_decls(p, (Phase)ph) < 0) return -1;
        Builder b = {.p = p, .ph = (Phase)ph};
        steps_preamble(&b);
    }
    /* node by node, so that kernels are numbered in order of first use */
    for (int i = 0; i < g->n_nodes; i++)
        for (int ph = 0; ph < PH_COUNT; ph++) {
            if (!p->has_phase[ph] || g->nodes[i].mtp != (ph == PH_MTP)) continue;
            Builder b = {.p = p, .ph = (Phase)ph, .node = i};
            steps_node(&b);
        }
    return build_params(p);
}

void program_free(Program *p) {
    free(p->views);
    free(p->kernels);
    free(p->caches);
    free(p->layer_slots);
    for (int i = 0; i < p->n_expert_groups; i++) free(p->expert_groups[i].layers);
    free(p->expert_groups);
    free(p->ropes);
    for (int ph = 0; ph < PH_COUNT; ph++) { free(p->decl[ph]); free(p->steps[ph]); }
    memset(p, 0, sizeof *p);
}
