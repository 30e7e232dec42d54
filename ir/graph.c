/*
 * ir/graph.c — building, checking and printing the graph.
 *
 * graph_add_* append to the flat arrays (growing them as needed); nothing is ever
 * freed individually.  graph_verify checks the invariants every pass must keep:
 * topological order (inputs defined before use), widths consistent with op
 * attributes, weight shapes consistent with the dims the op will use.
 * graph_print writes one line per node in the form documented in docs/ir.md:
 *
 *   %12 = linear(%11) w=[model.layers.0.self_attn.q_proj.weight] [T,128] ; layer 0 q_proj, m.yaml:14:3
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

const OpInfo op_info[OP_COUNT] = {
#define OP(e, name, nin, elt, w) [e] = {name, nin, elt, w},
#include "ops.h"
#undef OP
};

const RoleInfo role_info[WR_COUNT] = {
#define ROLE(e, member, routed) [e] = {member, routed},
#include "roles.h"
#undef ROLE
};

static void *grow(void *p, int *cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(p, (size_t)n * elem);
    if (!q) { fprintf(stderr, "archc: out of memory\n"); exit(1); }
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *cap = n;
    return q;
}

void graph_init(Graph *g) {
    memset(g, 0, sizeof *g);
}

void graph_free(Graph *g) {
    free(g->nodes); free(g->vals); free(g->weights);
    memset(g, 0, sizeof *g);
}

int graph_add_value(Graph *g, int width, const char *role, int layer) {
    g->vals = grow(g->vals, &g->cap_vals, g->n_vals + 1, sizeof(Value));
    Value *v = &g->vals[g->n_vals];
    v->width = width;
    snprintf(v->role, sizeof v->role, "%s", role);
    v->producer = -1;
    v->layer = layer;
    v->offset = -1;
    return g->n_vals++;
}

Node *graph_add_node(Graph *g, Op op, int layer, SrcLoc loc) {
    g->nodes = grow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(Node));
    Node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->layer = layer;
    n->loc = loc;
    n->in[0] = n->in[1] = n->in[2] = -1;
    n->out = -1;
    for (int i = 0; i < 4; i++) n->w[i] = -1;
    n->rope = -1;
    n->cache = -1;
    n->variant = -1;
    return n;
}

int graph_add_weight(Graph *g, const char *name, WeightRole role, int ndim,
                     const int64_t *shape, WeightFormat fmt, int flags, int layer) {
    g->weights = grow(g->weights, &g->cap_weights, g->n_weights + 1, sizeof(Weight));
    Weight *w = &g->weights[g->n_weights];
    snprintf(w->name, sizeof w->name, "%s%s", g->model.weight_prefix, name);
    w->role = role;
    w->expert = -1;
    w->ndim = ndim;
    for (int i = 0; i < ndim; i++) w->shape[i] = shape[i];
    w->fmt = (flags & W_VECTOR) ? WFMT_F32 : fmt;
    w->flags = flags;
    w->alias = -1;
    w->layer = layer;
    return g->n_weights++;
}

void graph_compact(Graph *g) {
    int j = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead) g->nodes[j++] = g->nodes[i];
    g->n_nodes = j;
    for (int i = 0; i < g->n_vals; i++) g->vals[i].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].out >= 0) g->vals[g->nodes[i].out].producer = i;
}

void graph_liveness(Graph *g) {
    for (int i = 0; i < g->n_vals; i++) g->vals[i].last_use = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < 3; k++)
            if (g->nodes[i].in[k] >= 0) g->vals[g->nodes[i].in[k]].last_use = i;
}

size_t wfmt_bytes(WeightFormat f) {
    switch (f) {
    case WFMT_F32: return 4;
    case WFMT_BF16: case WFMT_F16: return 2;
    case WFMT_FP8_E4M3: return 1;
    case WFMT_MXFP4: return 1; /* per stored byte (two e2m1 values); the scales are a WFMT_U8 tensor */
    case WFMT_U8: return 1;
    case WFMT_I8: return 1;
    case WFMT_I4: case WFMT_MXFP4_DENSE: return 1; /* per stored byte (two values): see weight_stored_bytes */
    }
    return 4;
}

bool weight_block_scaled(const Weight *w) {
    if (w->flags & W_VECTOR || w->ndim != 2) return false;
    return w->fmt == WFMT_FP8_E4M3 || w->fmt == WFMT_I8 || w->fmt == WFMT_I4 || w->fmt == WFMT_MXFP4;
}

const char *weight_scale_suffix(const Weight *w) {
    return w->fmt == WFMT_FP8_E4M3 ? "_scale_inv" : w->fmt == WFMT_MXFP4 ? "_scales" : "_scale";
}

int weight_scale_elem_bytes(const Weight *w) { return w->fmt == WFMT_MXFP4 ? 1 : w->flags & W_SCALE_F16 ? 2 : 4; }

int64_t weight_stored_bytes(const Weight *w) {
    int64_t n = 1;
    for (int d = 0; d < w->ndim; d++) n *= w->shape[d];
    if (w->flags & W_VECTOR) return n * 4;
    if (w->fmt == WFMT_I4 || (w->fmt == WFMT_MXFP4 && w->ndim == 2))   /* rows of whole blocks along the last dimension */
        return n / w->shape[w->ndim - 1] * ((w->shape[w->ndim - 1] + 31) / 32) * 16;
    return n * (int64_t)wfmt_bytes(w->fmt);
}

void graph_fp8_block(const Graph *g, int block[2]) {
    WeightFormat f = g->model.weight_format;
    if (f == WFMT_I8 || f == WFMT_I4 || f == WFMT_MXFP4_DENSE) { block[0] = 1; block[1] = 32; return; }
    block[0] = g->model.fp8_block[0] > 0 ? g->model.fp8_block[0] : 128;
    block[1] = g->model.fp8_block[1] > 0 ? g->model.fp8_block[1] : 128;
}

void graph_fp8_scale_shape(const Graph *g, const Weight *w, int64_t shape[2]) {
    int b[2];
    graph_fp8_block(g, b);
    shape[0] = (w->shape[0] + b[0] - 1) / b[0];
    shape[1] = (w->shape[1] + b[1] - 1) / b[1];
}

/* The moe node of a layer, or NULL. */
const Node *graph_layer_moe(const Graph *g, int layer) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_MOE && g->nodes[i].layer == layer) return &g->nodes[i];
    return NULL;
}

/* Whether weight i is also the lm_head (tied embeddings). */
static bool tied(const Graph *g, int i) {
    for (int k = 0; k < g->n_weights; k++)
        if (g->weights[k].alias == i && g->weights[k].role == WR_LM_HEAD) return true;
    return false;
}

static int64_t weight_bytes(const Graph *g, int per_token) {
    int64_t total = 0;
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->alias >= 0) continue;
        int64_t bytes = weight_stored_bytes(w);
        if (weight_block_scaled(w)) { /* + the block multipliers */
            int64_t sc[2];
            graph_fp8_scale_shape(g, w, sc);
            bytes += weight_scale_elem_bytes(w) * sc[0] * sc[1];
        }
        if (!per_token) { total += bytes; continue; }
        if (w->flags & W_MTP) continue;  /* the MTP draft module: only read with --mtp */
        if (w->role == WR_EMBED && !tied(g, i)) bytes /= w->shape[0];  /* one row per token */
        if (w->role >= 0 && role_info[w->role].routed) {
            /* routed experts: a decoded token reads top_k of them */
            const Node *moe = graph_layer_moe(g, w->layer);
            if (moe && moe->moe.experts > 0) bytes = bytes * moe->moe.top_k / moe->moe.experts;
        }
        total += bytes;
    }
    return total;
}

/* Bytes of weights a decode step reads: every weight once, except the embedding
 * table, of which one row is read (unless it doubles as lm_head), the routed
 * experts, of which top_k are read, and the MTP module. */
int64_t graph_weight_bytes(const Graph *g) { return weight_bytes(g, 1); }
/* Bytes of every weight once (about the checkpoint's size). */
int64_t graph_weight_bytes_all(const Graph *g) { return weight_bytes(g, 0); }

int64_t graph_kv_bytes(const Graph *g) {
    int64_t total = 0;
    for (int c = 0; c < g->n_caches; c++) {
        int64_t rows = g->cache_rows[c] ? g->cache_rows[c] : g->model.max_context;
        total += rows * (int64_t)(g->cache_kv_width[c] + g->cache_v_width[c]) * 4;
    }
    return total;
}

/* ── verifier ─────────────────────────────────────────────────────────────── */

static int verr(const Graph *g, int i, const char *after, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "archc: internal error: graph invalid after %s: node %%%d (%s): ",
            after, i, op_info[g->nodes[i].op].name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

int graph_verify(const Graph *g, const char *after) {
    char *defined = calloc((size_t)g->n_vals + 1, 1);
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        const Node *n = &g->nodes[i];
        if (n->op < 0 || n->op >= OP_COUNT) { rc = verr(g, i, after, "bad op %d", n->op); break; }
        for (int k = 0; k < op_info[n->op].n_inputs; k++) {
            int v = n->in[k];
            if (n->op == OP_LINEAR && k == 1) continue;
            if (v < 0 || v >= g->n_vals) { rc = verr(g, i, after, "input %d missing", k); break; }
            if (!defined[v]) { rc = verr(g, i, after, "input %%v%d used before it is defined", v); break; }
        }
        if (rc) break;
        if (n->op == OP_LINEAR && n->residual) {
            int v = n->in[1];
            if (v < 0 || !defined[v]) { rc = verr(g, i, after, "residual input undefined"); break; }
            if (g->vals[v].width != n->n_out) { rc = verr(g, i, after, "residual width %d != %d", g->vals[v].width, n->n_out); break; }
        }
        for (int k = 0; k < 4; k++) {
            if (n->w[k] >= g->n_weights) { rc = verr(g, i, after, "weight %d out of range", k); break; }
        }
        if (rc) break;
        if ((n->op == OP_LINEAR || n->op == OP_LOGITS || n->op == OP_LINEAR_GLU) && n->w[0] >= 0) {
            const Weight *w = &g->weights[n->w[0]];
            if (w->ndim != 2 || w->shape[0] != n->n_out || w->shape[1] != n->n_in) {
                rc = verr(g, i, after, "weight %s shape does not match %dx%d", w->name, n->n_out, n->n_in);
                break;
            }
            if (g->vals[n->in[0]].width != n->n_in) {
                rc = verr(g, i, after, "input width %d != in features %d", g->vals[n->in[0]].width, n->n_in);
                break;
            }
        }
        if (n->op == OP_ADD && g->vals[n->in[0]].width != g->vals[n->in[1]].width) {
            rc = verr(g, i, after, "add of widths %d and %d", g->vals[n->in[0]].width, g->vals[n->in[1]].width);
            break;
        }
        if (n->out >= 0) {
            if (n->out >= g->n_vals) { rc = verr(g, i, after, "output out of range"); break; }
            if (defined[n->out]) { rc = verr(g, i, after, "value %%v%d defined twice", n->out); break; }
            defined[n->out] = 1;
        }
    }
    free(defined);
    return rc;
}

/* ── printing (archc --emit=ir) ──────────────────────────────────────────── */

void graph_print(const Graph *g, FILE *f) {
    const GraphModel *m = &g->model;
    fprintf(f, "; archc graph IR for %s (%s), %d layers, hidden %d, vocab %d\n",
            m->name, m->family, m->n_layers, m->hidden, m->vocab);
    fprintf(f, "; passes run:");
    for (int i = 0; i < g->n_passes_run; i++) fprintf(f, " %s", g->passes_run[i]);
    fprintf(f, "%s\n", g->n_passes_run ? "" : " (none)");
    fprintf(f, "; %d nodes, %d values, %d weights, %d KV caches, prefill chunk T<=%d",
            g->n_nodes, g->n_vals, g->n_weights, g->n_caches, g->tmax);
    if (g->memplanned) fprintf(f, ", activation arena %lld floats", (long long)g->arena_floats);
    fprintf(f, "\n; weight bytes per decoded token: %lld (all weights: %lld)\n", (long long)graph_weight_bytes(g),
            (long long)graph_weight_bytes_all(g));
    if (m->weight_format == WFMT_I8 || m->weight_format == WFMT_I4 || m->weight_format == WFMT_MXFP4_DENSE) {
        int nq = 0, nk = 0;
        for (int i = 0; i < g->n_weights; i++) {
            const Weight *w = &g->weights[i];
            if (w->flags & W_VECTOR || w->alias >= 0 || w->role == WR_EXPERTS_GATE_UP_SCALES || w->role == WR_EXPERTS_DOWN_SCALES) continue;
            bool stacked_q = w->ndim > 2 && (w->fmt == WFMT_I8 || w->fmt == WFMT_I4 || w->fmt == WFMT_MXFP4);   /* stacked experts */
            if (weight_block_scaled(w) || stacked_q) nq++; else nk++;
        }
        fprintf(f, "; weight format %s (archc quantize: blocks of 32 along the input, %s scales): %d matrices quantised, %d kept %s\n",
                wfmt_name(m->weight_format), m->weight_format == WFMT_MXFP4_DENSE ? "e8m0" : m->scale_f16 ? "f16" : "f32", nq, nk,
                wfmt_name(m->kept_format));
    }
    int64_t kv_row = 0;
    for (int c = 0; c < g->n_caches; c++) kv_row += (int64_t)(g->cache_kv_width[c] + g->cache_v_width[c]) * 4;
    fprintf(f, "; KV cache bytes (f32) at the full context of %d tokens: %lld (%lld per token of context without rings)\n",
            m->max_context, (long long)graph_kv_bytes(g), (long long)kv_row);
    for (int r = 0; r < g->n_rope; r++) {
        const RopeTable *t = &g->rope[r];
        fprintf(f, "; rope %s: %s theta=%g dims=%d", t->name, rope_kind_name(t->kind), t->params.theta, t->dims);
        if (t->folded) {
            fprintf(f, " folded mscale=%.9g inv_freq=[", t->mscale);
            for (int i = 0; i < t->dims / 2 && i < 4; i++) fprintf(f, "%s%.9g", i ? ", " : "", t->inv_freq[i]);
            fprintf(f, "%s]", t->dims / 2 > 4 ? ", …" : "");
        }
        fprintf(f, "\n");
    }
    int last_layer = -2;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->layer != last_layer) {
            if (n->layer >= 0) fprintf(f, "\n; ── layer %d\n", n->layer);
            else fprintf(f, "\n");
            last_layer = n->layer;
        }
        if (n->out >= 0) fprintf(f, "%%%d = ", n->out);
        else fprintf(f, "     ");
        fprintf(f, "%s(", op_info[n->op].name);
        int first = 1;
        for (int k = 0; k < 3; k++) {
            if (n->in[k] < 0) continue;
            fprintf(f, "%s%%%d", first ? "" : ", ", n->in[k]);
            first = 0;
        }
        fprintf(f, ")");
        int nw = 0;
        for (int k = 0; k < 4; k++) if (n->w[k] >= 0) nw++;
        if (nw) {
            fprintf(f, " w=[");
            int fw = 1;
            for (int k = 0; k < 4; k++) {
                if (n->w[k] < 0) continue;
                const Weight *w = &g->weights[n->w[k]];
                fprintf(f, "%s%s", fw ? "" : ", ", w->name);
                /* archc quantize formats: the matrix's storage format after its name */
                if (weight_block_scaled(w) && w->fmt != WFMT_FP8_E4M3) fprintf(f, ":%s", w->fmt == WFMT_MXFP4 ? "mxfp4" : wfmt_name(w->fmt));
                fw = 0;
            }
            fprintf(f, "]");
        }
        switch (n->op) {
        case OP_RMSNORM: fprintf(f, " eps=%g group=%d %s", n->eps, n->group, norm_kind_name(n->norm_kind)); break;
        case OP_LINEAR: fprintf(f, " %dx%d%s", n->n_out, n->n_in, n->residual ? " +residual" : ""); break;
        case OP_LINEAR_GLU: fprintf(f, " 2x%dx%d act=%s", n->n_out, n->n_in, act_kind_name(n->act)); break;
        case OP_ROPE: fprintf(f, " rope=%s heads=%d head_dim=%d rot=%d", g->rope[n->rope].name, n->heads, n->head_dim, n->rot_dims); break;
        case OP_KV_STORE: fprintf(f, " cache=%d", n->cache); break;
        case OP_ATTENTION: case OP_MLA_ATTENTION:
            fprintf(f, " cache=%d heads=%d kv_heads=%d head_dim=%d scale=%.9g", n->cache, n->heads, n->kv_heads, n->head_dim, n->scale);
            if (n->window) fprintf(f, " window=%d", n->window);
            if (n->chunk) fprintf(f, " chunk=%d", n->chunk);
            if (n->softcap) fprintf(f, " softcap=%g", n->softcap);
            if (n->ring) fprintf(f, " ring=%d", n->ring);
            if (n->op == OP_MLA_ATTENTION) fprintf(f, " v_dim=%d%s", n->v_dim, n->absorbed ? " absorbed(decode)" : "");
            break;
        case OP_QK_ROPE_STORE:
            fprintf(f, " cache=%d qk_norm=%d rope=%s heads=%d kv_heads=%d head_dim=%d", n->cache, (int)n->qk_norm,
                    n->rope >= 0 ? g->rope[n->rope].name : "none", n->heads, n->kv_heads, n->head_dim);
            break;
        case OP_GLU: fprintf(f, " act=%s", act_kind_name(n->act)); break;
        case OP_EMBED: if (n->scale != 0) fprintf(f, " scale=%.9g", n->scale); break;
        case OP_LOGITS: fprintf(f, " %s", n->all_rows ? "all rows" : "last row"); if (n->softcap) fprintf(f, " softcap=%g", n->softcap); break;
        case OP_MOE:
            fprintf(f, " experts=%d top_k=%d intermediate=%d shared=%d router=%s%s", n->moe.experts, n->moe.top_k,
                    n->moe.intermediate, n->moe.shared, n->moe.score == ROUTER_SIGMOID ? "sigmoid" : "softmax",
                    n->grouped ? " grouped" : "");
            break;
        default: break;
        }
        if (n->out >= 0) {
            const Value *v = &g->vals[n->out];
            fprintf(f, " [T,%d]", v->width);
            if (g->memplanned) fprintf(f, " @%lld", (long long)v->offset);
        }
        fprintf(f, " ; %s", n->note);
        if (n->loc.line) fprintf(f, ", %s:%d:%d", n->loc.file ? n->loc.file : "?", n->loc.line, n->loc.col);
        fprintf(f, "\n");
    }
}
