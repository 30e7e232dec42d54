/*
 * codegen/emit_c.c — the C backend: one readable, fully specialised C file.
 *
 * The file is laid out top to bottom as a reader would want it:
 *
 *   1. a header comment (model, passes, how it was built)
 *   2. model constants
 *   3. the weights: a struct of named pointers into the mmap'd checkpoint, one
 *      comment with shape and format per field, and the table the loader checks
 *      (tensor name, dtype, shape → slot)
 *   4. kernels: one static function per distinct (op, shape, format) signature,
 *      every dimension a literal; emitted once, called from every layer
 *   5. state: KV caches, the activation arena, RoPE tables
 *   6. forward_prefill (T tokens, matrix-matrix kernels) and forward_decode
 *      (one token, GEMV kernels): straight-line, layer by layer, each call
 *      commented with its IR node, op and YAML line
 *   7. the RtModel descriptor and main()
 *
 * Kernels for matmuls and attention call the inline SIMD routines of
 * runtime/archc_kernels.h with literal dimensions; the rest are plain loops.
 *
 * What is printed comes from the lowered program (codegen/program.h): the
 * kernel table (names, dedup, order), the activation views and the step lists
 * of the forward functions.  This file decides only how they look in C.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "emit_common.h"
#include "program.h"
#include "archc_rt.h"

const char *fmt_ctype(WeightFormat f) {
    return f == WFMT_F32 ? "float" : f == WFMT_I8 ? "int8_t" : f == WFMT_FP8_E4M3 || f == WFMT_MXFP4 || f == WFMT_U8 || f == WFMT_I4 ? "uint8_t" : "uint16_t";
}
const char *fmt_rt(WeightFormat f) {
    return f == WFMT_F32 ? "RT_F32" : f == WFMT_BF16 ? "RT_BF16" : f == WFMT_FP8_E4M3 ? "RT_FP8" : f == WFMT_MXFP4 ? "RT_MXFP4"
         : f == WFMT_I8 ? "RT_I8" : f == WFMT_I4 ? "RT_I4" : "RT_F16";
}
const char *fmt_short(WeightFormat f) { return wfmt_name(f); }
const char *fmt_st(WeightFormat f) {
    return f == WFMT_F32 ? "ST_F32" : f == WFMT_BF16 ? "ST_BF16" : f == WFMT_FP8_E4M3 ? "ST_F8_E4M3" : f == WFMT_MXFP4 || f == WFMT_U8 || f == WFMT_I4 ? "ST_U8"
         : f == WFMT_I8 ? "ST_I8" : "ST_F16";
}
/* archc quantize's dense MXFP4 matrix: stored as NAME_blocks [N][K/32][16] with NAME_scales (docs/quantize.md) */
int is_mx_dense(const Weight *w) { return w->fmt == WFMT_MXFP4 && w->ndim == 2 && !(w->flags & W_VECTOR); }
/* The shape a matrix has in the checkpoint: int4 packs two values a byte, MXFP4 blocks of 32 in 16 bytes. */
int stored_shape(const Weight *w, int64_t *sh) {
    for (int d = 0; d < w->ndim; d++) sh[d] = w->shape[d];
    if (w->flags & W_VECTOR) return w->ndim;
    if (w->fmt == WFMT_I4) { sh[w->ndim - 1] = (w->shape[w->ndim - 1] + 31) / 32 * 16; return w->ndim; }   /* rows of whole blocks */
    if (is_mx_dense(w)) { sh[1] = (w->shape[1] + 31) / 32; sh[2] = 16; return 3; }
    return w->ndim;
}
const char *scale_st(const Weight *w) { return w->fmt == WFMT_MXFP4 ? "ST_U8" : w->flags & W_SCALE_F16 ? "ST_F16" : "ST_F32"; }
/* int8 / int4 with f16 block scales: the kernels read them through the same
 * scale pointers (RtLinear.scale_f16 says which); ", .scale_f16 = 1" or "" */
static const char *scale_f16_init(const Weight *w) { return w->flags & W_SCALE_F16 ? ", .scale_f16 = 1 /* f16 block scales */" : ""; }
int is_fp8(const Weight *w) { return weight_fp8(w); }

/* A float as a C literal that round-trips: 1 → "1.0f", 0.1 → "0.100000001f". */
const char *flit(float v) {
    static char buf[8][48];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%.9g", v);
    if (!strpbrk(buf[k], ".eEn")) strcat(buf[k], ".0");
    strcat(buf[k], "f");
    return buf[k];
}

/* ── text from the user (model name, file names, tensor names) ──────────────
 * Nothing a description, a config or a file name says is pasted into the
 * emitted C as it is: inside comments, "*" "/" and control characters are
 * neutralised (a name cannot end the comment and start code); inside string
 * literals every byte outside printable ASCII, and the quote, backslash and
 * '?' (trigraphs) characters, are written as escapes.  The frontend also
 * restricts what names may contain (frontend/parse.c); this is the second line.
 * Both return one of 8 rotating static buffers (enough for one out() call). */
static char *text_buf(void) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) & 7;
    return buf[k];
}

/* For use inside a comment. */
const char *cmt(const char *s) {
    char *b = text_buf();
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 4 < 1024; p++) {
        if (*p == '*' && p[1] == '/') { b[n++] = '*'; b[n++] = ' '; continue; }
        if (*p == '/' && p[1] == '*') { b[n++] = '/'; b[n++] = ' '; continue; }
        b[n++] = *p < 0x20 || *p == 0x7f || *p == '\\' ? '?' : (char)*p;
    }
    b[n] = 0;
    return b;
}

/* The body of a C string literal (without the quotes). */
const char *cstr(const char *s) {
    char *b = text_buf();
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 5 < 1024; p++) {
        if (*p == '"' || *p == '\\' || *p == '?') { b[n++] = '\\'; b[n++] = (char)*p; }
        else if (*p < 0x20 || *p >= 0x7f) n += (size_t)snprintf(b + n, 5, "\\%03o", *p);
        else b[n++] = (char)*p;
    }
    b[n] = 0;
    return b;
}

/* ── support check ────────────────────────────────────────────────────────── */

static int unsupported(const Graph *g, const char *what) {
    fprintf(stderr, "%s: error: not yet supported by the C backend: %s\n", g->model.file, what);
    return -1;
}

/* An attention node of the first variant with a soft-cap (the C backend has none), or NULL. */
static const Node *softcapped_attention(const Graph *g) {
    const Node *first = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if ((n->op == OP_ATTENTION || n->op == OP_MLA_ATTENTION) && n->softcap != 0 && (!first || n->variant < first->variant)) first = n;
    }
    return first;
}

static int c_check(const Graph *g) {
    const Node *sc = softcapped_attention(g);
    if (sc) {
        fprintf(stderr, "%s:%d:%d: error: attention '%s': softcap (attention logit soft-capping) is not yet supported by the C backend\n",
                sc->variant_loc.file, sc->variant_loc.line, sc->variant_loc.col, sc->variant_name);
        return -1;
    }

    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        const MoeAttrs *m = &n->moe;
        if (n->op == OP_MOE && n->moe.stacked) {
            int oai = n->act == ACT_SWIGLU_OAI && m->gate_up_interleaved && m->softmax_after_topk && m->score == ROUTER_SOFTMAX;
            int l4 = n->act == ACT_SWIGLU && !m->gate_up_interleaved && m->scale_input && m->score == ROUTER_SIGMOID && !m->bias;
            if (!oai && !l4)
                return unsupported(g, "this stacked-expert MoE (gpt-oss: clamped SwiGLU, interleaved gate/up, top-k then softmax; "
                                      "Llama 4: SwiGLU halves, sigmoid score on the input are supported)");
            if (g->model.weight_format == WFMT_MXFP4 && (g->model.hidden % 32 || m->intermediate % 32))
                return unsupported(g, "MXFP4 experts whose hidden or intermediate size is not a multiple of 32");
            continue;
        }
        if (n->op == OP_MOE) {
            int groups_ok = m->groups <= 1 || (m->experts % m->groups == 0 && m->groups <= 256);
            if (n->act != ACT_SWIGLU || m->bias || m->router_bias || m->softmax_after_topk || m->scale_input || !groups_ok ||
                (m->score == ROUTER_SOFTMAX && m->select_bias) || n->w[1] < 0)
                return unsupported(g, "this mixture-of-experts variant (softmax top-k (Qwen3-MoE) and sigmoid noaux_tc routing "
                                      "(DeepSeek-V3, GLM-4.5) with per-expert SwiGLU tensors and shared experts are supported; "
                                      "gpt-oss and Llama 4 experts come with issue 4)");
        }
        if (n->op == OP_MLA_ATTENTION && (n->window || n->rope < 0))
            return unsupported(g, "multi-head latent attention with a sliding window or without RoPE");
        if (n->op == OP_GLU && n->act == ACT_SWIGLU_OAI) return unsupported(g, "gpt-oss clamped SwiGLU");
    }
    return 0;
}

/* ── weights ─────────────────────────────────────────────────────────────── */

/* A weight's member of the weight struct: its role's name (ir/roles.h). */
const char *member(const Weight *w) { return role_info[w->role].member; }

/* A weight's C lvalue inside the weight struct W, with `suffix` after the member:
 * "embed", "l[3].q_proj", "l[3].experts_gate[5]"; suffix "_scale" names an fp8
 * weight's block multipliers ("l[3].experts_gate_scale[5]").  One of 8 rotating buffers. */
const char *field_with(const Weight *w, const char *suffix) {
    static char buf[8][96];
    static int k;
    k = (k + 1) & 7;
    char layer[24] = "", expert[24] = "";
    if (w->layer >= 0) snprintf(layer, sizeof layer, "l[%d].", w->layer);
    if (w->expert >= 0) snprintf(expert, sizeof expert, "[%d]", w->expert);
    snprintf(buf[k], sizeof buf[k], "%s%s%s%s", layer, member(w), suffix, expert);
    return buf[k];
}
const char *field(const Weight *w) { return field_with(w, ""); }
const char *scale_field(const Weight *w) { return field_with(w, "_scale"); }

const char *wtype(const Weight *w) { return (w->flags & W_VECTOR) ? "float" : fmt_ctype(w->fmt); }

int block_n(const Graph *g) { int b[2]; graph_fp8_block(g, b); return b[0]; }
int block_k(const Graph *g) { int b[2]; graph_fp8_block(g, b); return b[1]; }

/* "model.layers.7.mlp.experts.0.gate_proj.weight" → "model.layers.%d.mlp.experts.%d.gate_proj.weight"
 * (a printf format used by the generated loader: any '%' of the name itself is doubled). */
static void expert_pattern(const char *name, int layer, char *out_buf, size_t cap) {
    char lk[32];
    snprintf(lk, sizeof lk, "layers.%d.", layer);
    const char *a = strstr(name, lk), *b = strstr(name, "experts.0.");
    size_t n = 0;
    for (const char *p = name; *p && n + 4 < cap;) {
        if (a && b && b > a && p == a) { n += (size_t)snprintf(out_buf + n, cap - n, "layers.%%d."); p += strlen(lk); continue; }
        if (a && b && b > a && p == b) { n += (size_t)snprintf(out_buf + n, cap - n, "experts.%%d."); p += strlen("experts.0."); continue; }
        if (*p == '%') out_buf[n++] = '%';
        out_buf[n++] = *p++;
    }
    out_buf[n] = 0;
}

/* The weight-table entries of the routed experts, generated by a loop per MoE
 * variant over its layers and experts (DeepSeek-V3: 58 × 256 × 3 matrices, plus
 * their fp8 scales), so the file stays short. */
void emit_expert_table(Emitter *e) {
    const Graph *g = e->g;
    if (!e->p->n_expert_slots) {
        out(e, "static void add_expert_weights(void) {}  /* no routed experts */\n\n");
        return;
    }
    out(e, "/* Routed experts: one entry per (layer, expert, matrix), generated at start-up. */\n");
    out(e, "static int n_weights_added = N_WEIGHTS_LISTED;\n");
    out(e, "static void add_expert_weights(void) {\n");
    for (int v = 0; v < e->p->n_expert_groups; v++) {
        const ExpertGroup *eg = &e->p->expert_groups[v];
        const Node *tmpl = &g->nodes[eg->node];
        char layers[8192] = "";
        int nl = eg->n_layers;
        for (int i = 0; i < nl; i++) snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%d", i ? ", " : "", eg->layers[i]);
        const Weight *w0 = &g->weights[tmpl->w[1]];
        int fp8 = is_fp8(w0), experts = tmpl->moe.experts;
        out(e, "    {   /* ffn '%s': %d experts on %d layers */\n", tmpl->variant_name, experts, nl);
        out(e, "        static const int layers[] = {%s};\n", layers);
        out(e, "        static char names[%d][%d][%d][192];\n", nl, experts, fp8 ? 6 : 3);
        out(e, "        static const char *const pattern[%d] = {\n", fp8 ? 6 : 3);
        for (int k = 0; k < 3; k++) {
            char pat[256];
            expert_pattern(g->weights[tmpl->w[1] + k].name, tmpl->layer, pat, sizeof pat);
            out(e, "            \"%s%s\",\n", cstr(pat), is_mx_dense(w0) ? "_blocks" : "");
            if (fp8) out(e, "            \"%s%s\",\n", cstr(pat), weight_scale_suffix(w0));
        }
        out(e, "        };\n");
        int nd0 = 2;
        {
            int64_t sh[4];
            nd0 = stored_shape(w0, sh);
        }
        out(e, "        static const int64_t shape[%d][%d] = {", fp8 ? 6 : 3, nd0);
        for (int k = 0; k < 3; k++) {
            const Weight *wk = &g->weights[tmpl->w[1] + k];
            int64_t sh[4];
            stored_shape(wk, sh);
            out(e, "%s{%lld, %lld", k ? ", " : "", (long long)sh[0], (long long)sh[1]);
            if (nd0 == 3) out(e, ", %lld", (long long)sh[2]);
            out(e, "}");
            int64_t sc[2];
            graph_fp8_scale_shape(g, wk, sc);
            if (fp8) out(e, nd0 == 3 ? ", {%lld, %lld, 0}" : ", {%lld, %lld}", (long long)sc[0], (long long)sc[1]);
        }
        out(e, "};\n");
        out(e, "        for (int i = 0; i < %d; i++)\n            for (int x = 0; x < %d; x++) {\n", nl, experts);
        out(e, "                LayerWeights *L = &W.l[layers[i]];\n");
        if (fp8)
            out(e, "                const void **slot[6] = {(const void **)&L->experts_gate[x], (const void **)&L->experts_gate_scale[x],\n"
                   "                                        (const void **)&L->experts_up[x], (const void **)&L->experts_up_scale[x],\n"
                   "                                        (const void **)&L->experts_down[x], (const void **)&L->experts_down_scale[x]};\n");
        else
            out(e, "                const void **slot[3] = {(const void **)&L->experts_gate[x], (const void **)&L->experts_up[x],\n"
                   "                                        (const void **)&L->experts_down[x]};\n");
        out(e, "                for (int k = 0; k < %d; k++) {\n", fp8 ? 6 : 3);
        out(e, "                    snprintf(names[i][x][k], 192, pattern[k], layers[i], x);\n");
        /* C: a compound literal; C++ (.cu) has none: a named entry */
        const char *open = e->cuda ? "{ StExpect entry = {" : "weight_table[n_weights_added++] = (StExpect){";
        const char *close = e->cuda ? "}; weight_table[n_weights_added++] = entry; }" : "};";
        if (nd0 == 3)  /* MXFP4 blocks [N][K/32][16], their e8m0 scales [N][K/32] */
            out(e, "                    %snames[i][x][k], ST_U8, k %% 2 ? 2 : 3,\n"
                   "                                                                 {shape[k][0], shape[k][1], shape[k][2]}, 0, slot[k]%s\n",
                open, close);
        else if (fp8) {
            char dt[64];
            snprintf(dt, sizeof dt, "k %% 2 ? %s : %s", scale_st(w0), fmt_st(w0->fmt));
            out(e, "                    %snames[i][x][k], %s, 2, {shape[k][0], shape[k][1]}, 0, slot[k]%s\n", open,
                w0->fmt == WFMT_FP8_E4M3 ? "k % 2 ? ST_F32 : ST_F8_E4M3" : dt, close);
        } else
            out(e, "                    %snames[i][x][k], %s, 2, {shape[k][0], shape[k][1]}, 0, slot[k]%s\n", open, fmt_st(w0->fmt), close);
        out(e, "                }\n            }\n    }\n");
    }
    out(e, "}\n\n");
}

/* The weight struct: LayerWeights (Program.layer_slots) and the slots outside the layers. */
void emit_weights(Emitter *e) {
    const Graph *g = e->g;
    if (e->cuda)
        out(e, "/* ── weights ──────────────────────────────────────────────────────────────\n"
               " * Bound by the loader to the checkpoint (matrices, row-major [out, in], as\n"
               " * stored; small vectors widened to f32), checked by name, dtype and shape\n"
               " * against weight_table below; model_init then copies each to the device, in\n"
               " * its stored format, and points the field there. */\n");
    else
        out(e, "/* ── weights ──────────────────────────────────────────────────────────────\n"
               " * Pointers into the mmap'd checkpoint (matrices, row-major [out, in], as stored)\n"
               " * or into f32 copies of small vectors (norm weights, biases).  Bound and\n"
               " * checked by name, dtype and shape against weight_table below. */\n");
    out(e, "typedef struct LayerWeights {\n");
    for (int i = 0; i < e->p->n_layer_slots; i++) {
        const LayerSlot *ls = &e->p->layer_slots[i];
        const Weight *w = &g->weights[ls->weight];
        const char *m = member(w);
        /* one expert's matrix: an array member, declared once with the layer's expert count */
        int count = ls->experts;
        if (count) {
            char decl[80];
            snprintf(decl, sizeof decl, "%s[%d]", m, count);
            out(e, "    const %s *%s;%*s/* [%lld, %lld] %s each: the routed experts */\n", wtype(w), decl, (int)(24 - strlen(decl) > 0 ? 24 - strlen(decl) : 1), "",
                (long long)w->shape[0], (long long)w->shape[1], fmt_short(w->fmt));
            if (is_fp8(w)) {
                snprintf(decl, sizeof decl, "%s_scale[%d]", m, count);
                out(e, "    const float *%s;%*s/* their block multipliers%s */\n", decl, (int)(24 - strlen(decl) > 0 ? 24 - strlen(decl) : 1), "",
                    w->flags & W_SCALE_F16 ? " (f16 bits)" : "");
            }
            continue;
        }
        char shape[64] = "[";
        for (int d = 0; d < w->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "", (long long)w->shape[d]);
        strcat(shape, "]");
        out(e, "    const %s *%s;%*s/* %-12s %s */\n", wtype(w), m, (int)(24 - strlen(m) > 0 ? 24 - strlen(m) : 1), "",
            shape, (w->flags & W_VECTOR) ? "f32" : fmt_short(w->fmt));
        if (is_fp8(w)) {
            char sm[80];
            int64_t sc[2];
            graph_fp8_scale_shape(g, w, sc);
            snprintf(sm, sizeof sm, "%s_scale", m);
            out(e, "    const float *%s;%*s/* [%lld, %lld] %s: its %dx%d block multipliers */\n", sm, (int)(24 - strlen(sm) > 0 ? 24 - strlen(sm) : 1), "",
                (long long)sc[0], (long long)sc[1], w->flags & W_SCALE_F16 ? "f16 bits (RtLinear.scale_f16)" : "f32", block_n(g), block_k(g));
        }
    }
    out(e, "} LayerWeights;\n\n");
    out(e, "static struct {\n");
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->layer >= 0) continue;
        out(e, "    const %s *%s;%*s/* [%lld, %lld] %s%s */\n", wtype(w), field(w), (int)(24 - strlen(field(w))), "",
            (long long)w->shape[0], (long long)(w->ndim > 1 ? w->shape[1] : 0),
            (w->flags & W_VECTOR) ? "f32" : fmt_short(w->fmt), w->alias >= 0 ? ", tied: same as embed" : "");
        if (is_fp8(w)) {   /* a quantised lm_head (archc quantize): its block multipliers */
            char sm[80];
            snprintf(sm, sizeof sm, "%s_scale", field(w));
            out(e, "    const float *%s;%*s/* its %dx%d block multipliers%s */\n", sm, (int)(24 - strlen(sm) > 0 ? 24 - strlen(sm) : 1), "",
                block_n(g), block_k(g), w->flags & W_SCALE_F16 ? ", f16 bits" : "");
        }
    }
    out(e, "    LayerWeights l[N_LAYERS + N_MTP_LAYERS];\n} W;\n\n");
}

/* The loader's table: name, dtype, shape → slot, for every slot but the
 * routed experts' own (add_expert_weights) and aliases (model_init). */
void emit_weight_table(Emitter *e) {
    const Graph *g = e->g;
    /* one expert's matrices (fields "l[N].experts_gate[E]") are not listed one by one:
     * add_expert_weights() below generates their entries at start-up */
    out(e, "enum { N_WEIGHTS_LISTED = %d, N_WEIGHTS_EXPERTS = %lld };\n", e->p->n_listed, (long long)e->p->n_expert_slots);
    out(e, "static StExpect weight_table[N_WEIGHTS_LISTED + N_WEIGHTS_EXPERTS] = {\n");
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->alias >= 0 || w->expert >= 0) continue;
        int64_t sh[4];
        int nd = stored_shape(w, sh);
        out(e, "    {\"%s%s\", %s, %d, {%lld", cstr(w->name), is_mx_dense(w) ? "_blocks" : "", (w->flags & W_VECTOR) ? "ST_F32" : fmt_st(w->fmt), nd,
            (long long)sh[0]);
        for (int d = 1; d < nd; d++) out(e, ", %lld", (long long)sh[d]);
        out(e, "}, %s, (const void **)&W.%s},\n", (w->flags & W_VECTOR) ? "ST_WIDEN_TO_F32" : "0", field(w));
        if (is_fp8(w)) {
            int64_t sc[2];
            graph_fp8_scale_shape(g, w, sc);
            out(e, "    {\"%s%s\", %s, 2, {%lld, %lld}, 0, (const void **)&W.%s},\n", cstr(w->name), weight_scale_suffix(w), scale_st(w),
                (long long)sc[0], (long long)sc[1], scale_field(w));
        }
    }
    out(e, "};\n\n");
}

/* ── kernels ─────────────────────────────────────────────────────────────── */

/* The node whose attributes are kernel k's literals. */
static const Node *knode(const Emitter *e, const Kernel *k) { return &e->g->nodes[k->node]; }

static void emit_linear_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const Weight *w = &g->weights[n->w[0]];
    const char *sig = k->name;
    int glu = n->op == OP_LINEAR_GLU, bias = k->bias, gemv = k->gemv, residual = k->residual;
    const char *T = gemv ? "1" : "T";
    if (glu)
        out(e, "/* y[%s][%d] = %s(x·Wgᵀ%s) ⊙ (x·Wuᵀ%s); x [%s][%d] f32, Wg/Wu [%d][%d] %s */\n", T, n->n_out,
            n->act == ACT_GEGLU_TANH ? "gelu_tanh" : "silu", bias ? " + bg" : "", bias ? " + bu" : "", T, n->n_in,
            n->n_out, n->n_in, fmt_short(w->fmt));
    else
        out(e, "/* y[%s][%d] = %sx·Wᵀ%s; x [%s][%d] f32, W [%d][%d] %s%s */\n", T, n->n_out, residual ? "res + " : "",
            bias ? " + b" : "", T, n->n_in, n->n_out, n->n_in, fmt_short(w->fmt),
            gemv ? " (decode: streams W once)" : " (prefill: register-tiled matrix-matrix)");
    int fp8 = is_fp8(w);
    out(e, "static void %s(const float *x, const %s *W", sig, fmt_ctype(w->fmt));
    if (fp8) out(e, ", const float *Ws");
    if (glu) out(e, ", const %s *Wu", fmt_ctype(w->fmt));
    if (glu && fp8) out(e, ", const float *Wus");
    if (bias) out(e, glu ? ", const float *bg, const float *bu" : ", const float *b");
    if (residual) out(e, ", const float *res");
    out(e, ", float *y%s) {\n", gemv ? "" : ", int T");
    out(e, "    RtLinear L = {.x = x, .w = W, .y = y, .T = %s, .K = %d, .N = %d, .fmt = %s", T, n->n_in, n->n_out, fmt_rt(w->fmt));
    if (bias) out(e, glu ? ", .b = bg, .b_up = bu" : ", .b = b");
    if (glu) out(e, ", .w_up = Wu, .act = %s", n->act == ACT_GEGLU_TANH ? "RT_ACT_GELU_TANH" : "RT_ACT_SILU");
    if (residual) out(e, ", .res = res");
    if (fp8) out(e, ",\n                  .scale = Ws%s, .bn = %d, .bk = %d  /* fp8: %dx%d block multipliers */", glu ? ", .scale_up = Wus" : "",
                 block_n(g), block_k(g), block_n(g), block_k(g));
    if (w->flags & W_SCALE_F16) out(e, ",\n                  .scale_f16 = 1  /* the block scales are f16 */");
    out(e, "};\n    rt_linear(&L);\n}\n\n");
}

static void emit_norm_body(Emitter *e, const char *ind, const char *src, const char *dst, int group, NormKind kind, double eps,
                           const char *w) {
    out(e, "%sdouble ss = 0.0;\n", ind);
    out(e, "%sfor (int i = 0; i < %d; i++) ss += (double)%s[i] * %s[i];\n", ind, group, src, src);
    out(e, "%sconst float r = 1.0f / sqrtf((float)(ss / %d) + %s);\n", ind, group, flit((float)eps));
    if (kind == NORM_L2)
        out(e, "%sfor (int i = 0; i < %d; i++) %s[i] = %s[i] * r;\n", ind, group, dst, src);
    else if (kind == NORM_RMS_GEMMA)
        out(e, "%sfor (int i = 0; i < %d; i++) %s[i] = (%s[i] * r) * (1.0f + %s[i]);\n", ind, group, dst, src, w);
    else
        out(e, "%sfor (int i = 0; i < %d; i++) %s[i] = %s[i] * (%s[i] * r);\n", ind, group, dst, w, src);
}

static void emit_rmsnorm_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const char *sig = k->name;
    int groups = n->n_in / n->group;
    out(e, "/* %s over %s%d values, eps = %g: y = %s */\n", n->norm_kind == NORM_L2 ? "L2 norm" : "RMSNorm",
        groups > 1 ? "each head of " : "", n->group, n->eps,
        n->norm_kind == NORM_L2 ? "x / rms(x)" : n->norm_kind == NORM_RMS_GEMMA ? "(1 + w) ⊙ x / rms(x)" : "w ⊙ x / rms(x)");
    out(e, "static void %s(const float *x, const float *w, float *y, int T) {\n", sig);
    if (n->norm_kind == NORM_L2) out(e, "    (void)w;\n");
    out(e, "    for (int t = 0; t < T; t++) {\n");
    if (groups > 1) {
        out(e, "        for (int g = 0; g < %d; g++) {\n", groups);
        out(e, "            const float *xs = x + (size_t)t * %d + g * %d;\n", n->n_in, n->group);
        out(e, "            float *ys = y + (size_t)t * %d + g * %d;\n", n->n_in, n->group);
        emit_norm_body(e, "            ", "xs", "ys", n->group, n->norm_kind, n->eps, "w");
        out(e, "        }\n");
    } else {
        out(e, "        const float *xs = x + (size_t)t * %d;\n", n->n_in);
        out(e, "        float *ys = y + (size_t)t * %d;\n", n->n_in);
        emit_norm_body(e, "        ", "xs", "ys", n->group, n->norm_kind, n->eps, "w");
    }
    out(e, "    }\n}\n\n");
}

/* Rotate one head in place (buffer h, head_dim d, rot dims), cos/sin row cs/sn. */
static void emit_rope_head(Emitter *e, const char *ind, const char *src, const char *dst, int rot, RopeLayout layout) {
    int half = rot / 2;
    if (layout == ROPE_LAYOUT_INTERLEAVED) {
        out(e, "%sfor (int i = 0; i < %d; i++) {  /* interleaved pairs (2i, 2i+1) */\n", ind, half);
        out(e, "%s    const float a = %s[2 * i], b = %s[2 * i + 1];\n", ind, src, src);
        out(e, "%s    %s[2 * i] = a * cs[i] - b * sn[i];\n", ind, dst);
        out(e, "%s    %s[2 * i + 1] = b * cs[i] + a * sn[i];\n", ind, dst);
    } else {
        out(e, "%sfor (int i = 0; i < %d; i++) {  /* rotate_half: pairs (i, i + %d) */\n", ind, half, half);
        out(e, "%s    const float a = %s[i], b = %s[i + %d];\n", ind, src, src, half);
        out(e, "%s    %s[i] = a * cs[i] - b * sn[i];\n", ind, dst);
        out(e, "%s    %s[i + %d] = b * cs[i] + a * sn[i];\n", ind, dst, half);
    }
    out(e, "%s}\n", ind);
}

static void emit_rope_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const RopeTable *r = &e->g->rope[n->rope];
    const char *sig = k->name;
    out(e, "/* RoPE on %d heads of %d (first %d dims rotated), cos/sin per token [T][%d] */\n", n->heads, n->head_dim,
        n->rot_dims, n->rot_dims / 2);
    out(e, "static void %s(const float *x, float *y, const float *cos_t, const float *sin_t, int T) {\n", sig);
    out(e, "    for (int t = 0; t < T; t++) {\n");
    out(e, "        const float *cs = cos_t + (size_t)t * %d, *sn = sin_t + (size_t)t * %d;\n", n->rot_dims / 2, n->rot_dims / 2);
    out(e, "        for (int h = 0; h < %d; h++) {\n", n->heads);
    out(e, "            const float *xh = x + (size_t)t * %d + h * %d;\n", n->heads * n->head_dim, n->head_dim);
    out(e, "            float *yh = y + (size_t)t * %d + h * %d;\n", n->heads * n->head_dim, n->head_dim);
    emit_rope_head(e, "            ", "xh", "yh", n->rot_dims, r->layout);
    if (n->rot_dims < n->head_dim)
        out(e, "            for (int i = %d; i < %d; i++) yh[i] = xh[i];  /* not rotated */\n", n->rot_dims, n->head_dim);
    out(e, "        }\n    }\n}\n\n");
}

/* The experts' layout, for the kernel's comment. */
static const char *stacked_layout(WeightFormat f) {
    switch (f) {
    case WFMT_MXFP4: return "[E][out][in/32] blocks of 32 e2m1 values, e8m0 exponents";
    case WFMT_I8: return "[E][out][in] int8, a scale per 32 inputs (archc quantize)";
    case WFMT_I4: return "[E][out][in/2] two int4 a byte, a scale per 32 inputs (archc quantize)";
    case WFMT_FP8_E4M3: return "[E][out][in] e4m3, an f32 multiplier per 128 x 128 block of each expert (archc quantize)";
    default: return "[E][in][out] as HF stores them";
    }
}

static void emit_moe_stacked_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const MoeAttrs *f = &n->moe;
    const char *sig = k->name;
    const Weight *ew = &g->weights[n->w[1]];
    int oai = n->act == ACT_SWIGLU_OAI, si = f->shared_width;
    int sw = n->w[2] >= 0 ? program_weight(g, n->layer, WR_SHARED_GATE) : -1;
    const Weight *shw = sw >= 0 ? &g->weights[sw] : NULL;
    if (oai)
        out(e, "/* gpt-oss experts: router logits + bias, top %d, softmax over those %d weights the outputs;\n"
               " * each expert: gate|up columns interleaved, h = (clamp(up, ±%g) + 1) · g·σ(%g·g) with\n"
               " * g = min(gate, %g), plus biases; %d experts of width %d, weights %s (%s). */\n",
            f->top_k, f->top_k, n->act_limit, n->act_alpha, n->act_limit, f->experts, f->intermediate, fmt_short(ew->fmt),
            stacked_layout(ew->fmt));
    else
        out(e, "/* Llama 4 experts: top %d of the router logits, σ(logit) scales the expert's input;\n"
               " * each expert SwiGLU with gate|up halves; plus the shared expert (width %d, %s);\n"
               " * %d experts of width %d, weights %s (%s). */\n",
            f->top_k, si, shw ? fmt_short(shw->fmt) : "none", f->experts, f->intermediate, fmt_short(ew->fmt), stacked_layout(ew->fmt));
    out(e, "static void %s(const float *x, const void *router, const float *router_bias, const void *gate_up, const void *down,\n"
           "        const void *gate_up_scales, const void *down_scales, const float *gate_up_bias, const float *down_bias,\n"
           "        const void *shared_gate, const void *shared_up, const void *shared_down,\n"
           "        const float *shared_gate_scale, const float *shared_up_scale, const float *shared_down_scale, float *y, int T) {\n", sig);
    out(e, "    RtMoeStacked M = {.x = x, .y = y, .router = router, .router_bias = router_bias, .gate_up = gate_up, .down = down,\n"
           "                      .gate_up_scales = gate_up_scales, .down_scales = down_scales, .gate_up_bias = gate_up_bias,\n"
           "                      .down_bias = down_bias, .T = T, .H = %d, .I = %d, .E = %d, .K = %d, .fmt = %s, .router_fmt = %s,\n"
           "                      .grouped = %d, .route = %s, .act = %s, .interleaved = %d, .limit = %s, .alpha = %s,\n"
           "                      .shared_gate = shared_gate, .shared_up = shared_up, .shared_down = shared_down, .SI = %d,\n"
           "                      .shared_gate_scale = shared_gate_scale, .shared_up_scale = shared_up_scale,\n"
           "                      .shared_down_scale = shared_down_scale, .shared_fmt = %s, .bn = %d, .bk = %d%s};\n"
           "    rt_moe_stacked(&M);\n}\n\n",
        n->n_in, f->intermediate, f->experts, f->top_k, fmt_rt(ew->fmt), fmt_rt(g->weights[n->w[0]].fmt), n->grouped ? 1 : 0,
        oai ? "RT_ROUTE_TOPK_SOFTMAX" : "RT_ROUTE_TOPK_SIGMOID_INPUT", oai ? "RT_ACT_OAI" : "RT_ACT_SILU", f->gate_up_interleaved ? 1 : 0,
        flit((float)n->act_limit), flit((float)n->act_alpha), si, fmt_rt(shw ? shw->fmt : g->weights[n->w[0]].fmt), block_n(g), block_k(g),
        /* one flag for the routed and the shared experts' scales (ir/lower.c marks
         * every int8 / int4 matrix; the routed ones may be kept unquantised) */
        scale_f16_init(shw && !(ew->flags & W_SCALE_F16) ? shw : ew));
}

static void emit_mla_store_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    int r = n->latent, dr = n->rot_dims;
    RopeLayout layout = g->rope[n->rope].layout;
    const char *sig = k->name;
    {
        out(e, "/* MLA cache write.  For each token the %d latent values of kv_a_proj_with_mqa are\n"
               " * RMS-normalised (kv_a_layernorm, eps %g) and its %d k_pe values rotated (RoPE, %s);\n"
               " * cache row pos+t = [c (%d) | k_pe (%d)], shared by every head. */\n",
            r, n->eps, dr, layout == ROPE_LAYOUT_INTERLEAVED ? "interleaved pairs" : "rotate_half", r, dr);
        out(e, "static void %s(const float *ckv, const float *kv_norm, float *cache, const float *cos_t, const float *sin_t,\n"
               "        int T, int pos) {\n", sig);
        out(e, "    for (int t = 0; t < T; t++) {\n");
        out(e, "        const float *src = ckv + (size_t)t * %d;\n        float *dst = cache + (size_t)(pos + t) * %d;\n", r + dr, r + dr);
        out(e, "        {\n");
        emit_norm_body(e, "            ", "src", "dst", r, NORM_RMS, n->eps, "kv_norm");
        out(e, "        }\n");
        out(e, "        const float *cs = cos_t + (size_t)t * %d, *sn = sin_t + (size_t)t * %d;\n", dr / 2, dr / 2);
        out(e, "        const float *xh = src + %d;\n        float *yh = dst + %d;\n", r, r);
        emit_rope_head(e, "        ", "xh", "yh", dr, layout);
        out(e, "    }\n}\n\n");
    }
}

static void emit_mla_attention_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    int r = n->latent, dr = n->rot_dims, dn = n->nope_dim, dv = n->v_dim, nh = n->heads, qk = dn + dr;
    RopeLayout layout = g->rope[n->rope].layout;
    const char *sig = k->name;
    {
        const Weight *w = &g->weights[n->w[1]];
        out(e, "/* MLA attention: %d heads, q/k head = %d nope + %d rope, v head %d, latent %d, scale %.9g.\n"
               " * q_pe of each head is rotated, then attention runs over the latent cache either\n"
               " * materialised (K_nope, V rebuilt from the latent by kv_b_proj [%d][%d]; prefill) or\n"
               " * absorbed (W_uk folded into q, W_uv applied after attention; decode with mla-absorb).\n"
               " * See rt_mla_* in archc_kernels.h. */\n",
            nh, dn, dr, dv, r, n->scale, nh * (dn + dv), r);
        out(e, "static void %s(const float *q, const %s *kv_b, %sconst float *cache, const float *cos_t,\n"
               "        const float *sin_t, float *q_rot, float *out, int T, int pos, int absorbed) {\n", sig, fmt_ctype(w->fmt),
            is_fp8(w) ? "const float *kv_b_scale, " : "");
        out(e, "    /* q_rot: [T][%d] of the scratch buffer */\n", nh * qk);
        out(e, "    for (int t = 0; t < T; t++) {\n");
        out(e, "        const float *cs = cos_t + (size_t)t * %d, *sn = sin_t + (size_t)t * %d;\n", dr / 2, dr / 2);
        out(e, "        for (int h = 0; h < %d; h++) {\n", nh);
        out(e, "            const float *src = q + (size_t)t * %d + h * %d;\n", nh * qk, qk);
        out(e, "            float *dst = q_rot + (size_t)t * %d + h * %d;\n", nh * qk, qk);
        out(e, "            memcpy(dst, src, sizeof(float) * %d);  /* q_nope */\n", dn);
        out(e, "            const float *xh = src + %d;\n            float *yh = dst + %d;\n", dn, dn);
        emit_rope_head(e, "            ", "xh", "yh", dr, layout);
        out(e, "        }\n    }\n");
        out(e, "    RtMla A = {.q = q_rot, .cache = cache, .kv_b = kv_b, .out = out, .T = T, .pos = pos, .heads = %d,\n"
               "               .r = %d, .dn = %d, .dr = %d, .dv = %d, .fmt = %s, .scale = %s%s};\n",
            nh, r, dn, dr, dv, fmt_rt(w->fmt), flit((float)n->scale),
            is_fp8(w) ? ",\n               .w_scale = kv_b_scale, .bn = BLOCK_N, .bk = BLOCK_K" : "");
        if (w->flags & W_SCALE_F16) out(e, "    A.scale_f16 = 1;   /* f16 block scales */\n");
        out(e, "    if (absorbed) rt_mla_absorbed(&A);\n    else rt_mla_materialised(&A);\n}\n\n");
    }
}

static void emit_fused_qk_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    int d = n->head_dim, nh = n->heads, nkv = n->kv_heads, rot = n->rot_dims;
    const char *sig = k->name;
    RopeLayout layout = n->rope >= 0 ? g->rope[n->rope].layout : ROPE_LAYOUT_HALF;
    out(e, "/* qknorm-fuse: for each token, %s%s write k and v into the KV cache at its position.\n"
           " * q: %d heads × %d, k/v: %d heads × %d. */\n",
        n->qk_norm == QKNORM_HEAD ? "RMSNorm each q/k head, " : n->qk_norm == QKNORM_WHOLE ? "RMSNorm the whole q and k projections, " : "",
        n->rope >= 0 ? "rotate q and k (RoPE)," : "(NoPE layer: no rotation)", nh, d, nkv, d);
    out(e, "static void %s(const float *q, const float *k, const float *v, const float *q_norm, const float *k_norm,\n"
           "        float *q_out, float *k_cache, float *v_cache, const float *cos_t, const float *sin_t, int T, int pos) {\n", sig);
    if (n->qk_norm == QKNORM_NONE) out(e, "    (void)q_norm; (void)k_norm;\n");
    if (n->rope < 0) out(e, "    (void)cos_t; (void)sin_t;\n");
    out(e, "    float tmp[%d];\n", (nh > nkv ? nh : nkv) * d);
    out(e, "    for (int t = 0; t < T; t++) {\n");
    if (n->rope >= 0)
        out(e, "        const float *cs = cos_t + (size_t)t * %d, *sn = sin_t + (size_t)t * %d;\n", rot / 2, rot / 2);
    for (int which = 0; which < 2; which++) {
        int heads = which ? nkv : nh;
        const char *src = which ? "k" : "q", *nw = which ? "k_norm" : "q_norm";
        out(e, "        /* %s */\n", which ? "k → cache" : "q");
        out(e, "        {\n");
        out(e, "            const float *src = %s + (size_t)t * %d;\n", src, heads * d);
        if (which && n->ring) out(e, "            float *dst = k_cache + (size_t)((pos + t) %% %d) * %d;  /* ring (swa-tile) */\n", n->ring, heads * d);
        else if (which) out(e, "            float *dst = k_cache + (size_t)(pos + t) * %d;\n", heads * d);
        else out(e, "            float *dst = q_out + (size_t)t * %d;\n", heads * d);
        if (n->qk_norm == QKNORM_WHOLE) {
            out(e, "            {\n");
            emit_norm_body(e, "                ", "src", "tmp", heads * d, n->norm_kind, n->eps, nw);
            out(e, "            }\n");
        } else if (n->qk_norm == QKNORM_HEAD) {
            out(e, "            for (int h = 0; h < %d; h++) {\n", heads);
            out(e, "                const float *xs = src + h * %d;\n                float *ys = tmp + h * %d;\n", d, d);
            emit_norm_body(e, "                ", "xs", "ys", d, n->norm_kind, n->eps, nw);
            out(e, "            }\n");
        } else {
            out(e, "            memcpy(tmp, src, sizeof(float) * %d);\n", heads * d);
        }
        if (n->rope >= 0) {
            out(e, "            for (int h = 0; h < %d; h++) {\n", heads);
            out(e, "                const float *xh = tmp + h * %d;\n                float *yh = dst + h * %d;\n", d, d);
            emit_rope_head(e, "                ", "xh", "yh", rot, layout);
            if (rot < d) out(e, "                for (int i = %d; i < %d; i++) yh[i] = xh[i];\n", rot, d);
            out(e, "            }\n");
        } else {
            out(e, "            memcpy(dst, tmp, sizeof(float) * %d);\n", heads * d);
        }
        out(e, "        }\n");
    }
    if (n->ring)
        out(e, "        memcpy(v_cache + (size_t)((pos + t) %% %d) * %d, v + (size_t)t * %d, sizeof(float) * %d);\n", n->ring, nkv * d, nkv * d, nkv * d);
    else
        out(e, "        memcpy(v_cache + (size_t)(pos + t) * %d, v + (size_t)t * %d, sizeof(float) * %d);\n", nkv * d, nkv * d, nkv * d);
    out(e, "    }\n}\n\n");
}

static void emit_embed_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const Weight *w = &e->g->weights[n->w[0]];
    int quant = weight_block_scaled(w);   /* archc quantize --quantize-embeddings: blocks of 32 with scales */
    out(e, "/* x[t] = embed[token[t]]%s, %s to f32 */\n", n->scale != 0 ? " × scale" : "", quant ? "decoded from blocks of 32 with their scales" : "widened");
    out(e, "static void %s(const int *tokens, const %s *E, %sfloat *x, int T) {\n", k->name, fmt_ctype(w->fmt), quant ? "const float *Es, " : "");
    out(e, "    for (int t = 0; t < T; t++) {\n");
    if (quant)
        out(e, "        rt_q_row_to_f32(E, Es, %s, %d /* f16 scales */, %d, tokens[t], x + (size_t)t * %d);\n", fmt_rt(w->fmt),
            w->flags & W_SCALE_F16 ? 1 : 0, n->n_out, n->n_out);
    else
        out(e, "        rt_row_to_f32(E + (size_t)tokens[t] * %d, %s, %d, x + (size_t)t * %d);\n", n->n_out, fmt_rt(w->fmt), n->n_out, n->n_out);
    if (n->scale != 0) {
        /* f32(sqrt(hidden)) whatever the checkpoint's dtype: HF casts the normaliser
         * to the dtype it computes in, f32 in the f32 run this code matches (a bf16
         * checkpoint computed in bf16 would round it, 11.3137 -> 11.3125 for 128) */
        float sc = (float)n->scale;
        out(e, "        for (int i = 0; i < %d; i++) x[(size_t)t * %d + i] *= %s;\n", n->n_out, n->n_out, flit(sc));
    }
    out(e, "    }\n}\n\n");
}

static void emit_elementwise_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    switch (k->kind) {
    case KK_BIAS:
        out(e, "static void %s(const float *x, const float *b, float *y, int T) {\n", k->name);
        out(e, "    for (int t = 0; t < T; t++)\n        for (int i = 0; i < %d; i++) y[(size_t)t * %d + i] = x[(size_t)t * %d + i] + b[i];\n}\n\n",
            n->n_in, n->n_in, n->n_in);
        break;
    case KK_ADD:
        out(e, "static void %s(const float *a, const float *b, float *y, int T) {\n", k->name);
        out(e, "    for (size_t i = 0; i < (size_t)T * %d; i++) y[i] = a[i] + b[i];\n}\n\n", n->n_in);
        break;
    default:  /* KK_GLU */
        out(e, "/* y = %s(gate) ⊙ up */\n", n->act == ACT_GEGLU_TANH ? "gelu_tanh" : "silu");
        out(e, "static void %s(const float *gate, const float *up, float *y, int T) {\n", k->name);
        out(e, "    for (size_t i = 0; i < (size_t)T * %d; i++) y[i] = %s(gate[i]) * up[i];\n}\n\n", n->n_in,
            n->act == ACT_GEGLU_TANH ? "rt_gelu_tanh" : "rt_silu");
        break;
    }
}

static void emit_concat_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    int a = e->g->vals[n->in[0]].width, b = e->g->vals[n->in[1]].width;
    out(e, "/* y[t] = [a[t] | b[t]] */\n");
    out(e, "static void %s(const float *a, const float *b, float *y, int T) {\n", k->name);
    out(e, "    for (int t = 0; t < T; t++) {\n");
    out(e, "        memcpy(y + (size_t)t * %d, a + (size_t)t * %d, sizeof(float) * %d);\n", a + b, a, a);
    out(e, "        memcpy(y + (size_t)t * %d + %d, b + (size_t)t * %d, sizeof(float) * %d);\n    }\n}\n\n", a + b, a, b, b);
}

static void emit_kv_store_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const char *sig = k->name;
    int w = n->kv_heads * n->head_dim;
    if (n->ring) {
        out(e, "/* write T rows of k and v for positions pos … pos+T-1 into a ring of %d rows (swa-tile) */\n", n->ring);
        out(e, "static void %s(const float *k, const float *v, float *k_cache, float *v_cache, int T, int pos) {\n", sig);
        out(e, "    for (int t = 0; t < T; t++) {\n        size_t row = (size_t)((pos + t) %% %d);\n", n->ring);
        out(e, "        memcpy(k_cache + row * %d, k + (size_t)t * %d, sizeof(float) * %d);\n", w, w, w);
        out(e, "        memcpy(v_cache + row * %d, v + (size_t)t * %d, sizeof(float) * %d);\n    }\n}\n\n", w, w, w);
    } else {
        out(e, "/* append T rows of k and v to the cache at positions pos … pos+T-1 */\n");
        out(e, "static void %s(const float *k, const float *v, float *k_cache, float *v_cache, int T, int pos) {\n", sig);
        out(e, "    memcpy(k_cache + (size_t)pos * %d, k, sizeof(float) * %d * (size_t)T);\n", w, w);
        out(e, "    memcpy(v_cache + (size_t)pos * %d, v, sizeof(float) * %d * (size_t)T);\n}\n\n", w, w);
    }
}

static void emit_moe_kernel(Emitter *e, const Kernel *k) {
    const Graph *g = e->g;
    const Node *n = knode(e, k);
    const char *sig = k->name;
    const MoeAttrs *f = &n->moe;
    const Weight *rw = &g->weights[n->w[0]], *ew = &g->weights[n->w[1]];
    const char *ct = fmt_ctype(ew->fmt), *rt = fmt_ctype(rw->fmt);
    int fp8 = is_fp8(ew);
    out(e, "/* mixture of experts: router %s over %d experts, top %d%s; each expert\n"
           " * down(silu(gate·x) ⊙ up·x) with hidden %d, expert width %d; %s */\n",
        f->score == ROUTER_SIGMOID ? "sigmoid" : "softmax", f->experts, f->top_k,
        f->normalize ? " renormalised" : "", n->n_in, f->intermediate,
        n->grouped ? "expert-group: tokens gathered per expert, one matrix-matrix product each" : "one GEMV chain per (token, expert)");
    out(e, "static void %s(const float *x, const %s *router, const %s *const *gate, const %s *const *up,\n"
           "        const %s *const *down, const float *select_bias, const %s *shared_gate, const %s *shared_up,\n"
           "        const %s *shared_down, %sfloat *y, int T) {\n", sig, rt, ct, ct, ct, ct, ct, ct,
        fp8 ? "const float *const *gate_s, const float *const *up_s, const float *const *down_s,\n"
              "        const float *shared_gate_s, const float *shared_up_s, const float *shared_down_s, " : "");
    int si = f->shared_width;
    out(e, "    RtMoe M = {.x = x, .y = y, .router = router, .gate = (const void *const *)gate, .up = (const void *const *)up,\n"
           "               .down = (const void *const *)down, .T = T, .H = %d, .I = %d, .E = %d, .K = %d, .fmt = %s,\n"
           "               .normalize = %d, .grouped = %d, .score = %d, .select_bias = select_bias, .groups = %d,\n"
           "               .top_groups = %d, .group_max = %d, .scale = %s, .shared_gate = shared_gate, .shared_up = shared_up,\n"
           "               .shared_down = shared_down, .SI = %d, .router_fmt = %s%s%s};\n    rt_moe(&M);\n}\n\n",
        n->n_in, f->intermediate, f->experts, f->top_k, fmt_rt(ew->fmt), f->normalize ? 1 : 0,
        n->grouped ? 1 : 0, f->score == ROUTER_SIGMOID ? 1 : 0, f->groups, f->top_groups, f->group_max ? 1 : 0,
        flit((float)f->scale), si, fmt_rt(rw->fmt),
        fp8 ? ",\n               .gate_scale = gate_s, .up_scale = up_s, .down_scale = down_s, .shared_gate_scale = shared_gate_s,\n"
              "               .shared_up_scale = shared_up_s, .shared_down_scale = shared_down_s, .bn = BLOCK_N, .bk = BLOCK_K" : "",
        scale_f16_init(ew));
}

static void emit_attention_kernel(Emitter *e, const Kernel *k) {
    const Node *n = knode(e, k);
    const char *sig = k->name;
    out(e, "/* %s attention: %d query heads, %d kv heads (%d per group), head_dim %d, scale %.9g%s */\n",
        n->window ? "sliding-window" : n->chunk ? "chunked" : "causal", n->heads, n->kv_heads, n->heads / n->kv_heads,
        n->head_dim, n->scale, n->w[0] >= 0 ? ", with sinks" : "");
    if (n->window) out(e, "/* each query sees the %d most recent keys, itself included */\n", n->window);
    if (n->chunk) out(e, "/* each query sees the keys of its own %d-token chunk up to itself */\n", n->chunk);
    if (n->logn_seq > 0)
        out(e, "/* LogN (Qwen-1): q at position p is scaled by ln(p + 1) / ln(%d) once p + 1 > %d */\n", n->logn_seq, n->logn_seq);
    if (n->temp_floor > 0)
        out(e, "/* temperature tuning: q at position p is scaled by 1 + %g·log1p(floor((p + 1) / %g)) */\n", n->temp_scale, n->temp_floor);
    out(e, "static void %s(const float *q, const float *k_cache, const float *v_cache, %sfloat *out, int T, int pos) {\n", sig,
        n->w[0] >= 0 ? "const float *sinks, " : "");
    out(e, "    RtAttention A = {.q = q, .k = k_cache, .v = v_cache, .out = out, .T = T, .pos = pos,\n"
           "                     .heads = %d, .kv_heads = %d, .head_dim = %d, .scale = %s, .window = %d, .chunk = %d, .ring = %d%s};\n",
        n->heads, n->kv_heads, n->head_dim, flit((float)n->scale), n->window, n->chunk, n->ring, n->w[0] >= 0 ? ", .sinks = sinks" : "");
    if (n->temp_floor > 0)
        out(e, "    A.temp_floor = %s;\n    A.temp_scale = %s;\n", flit((float)n->temp_floor), flit((float)n->temp_scale));
    if (n->logn_seq > 0) out(e, "    A.logn_seq = %d;\n", n->logn_seq);
    out(e, "    rt_attention(&A);\n}\n\n");
}

/* One function per kernel signature, in order of first use. */
static void emit_kernels(Emitter *e) {
    out(e, "/* ── kernels ─────────────────────────────────────────────────────────────── */\n\n");
    for (int i = 0; i < e->p->n_kernels; i++) {
        const Kernel *k = &e->p->kernels[i];
        switch (k->kind) {
        case KK_EMBED: emit_embed_kernel(e, k); break;
        case KK_RMSNORM: emit_rmsnorm_kernel(e, k); break;
        case KK_LINEAR: emit_linear_kernel(e, k); break;
        case KK_BIAS: case KK_ADD: case KK_GLU: emit_elementwise_kernel(e, k); break;
        case KK_ROPE: emit_rope_kernel(e, k); break;
        case KK_CONCAT: emit_concat_kernel(e, k); break;
        case KK_KV_STORE: emit_kv_store_kernel(e, k); break;
        case KK_QK_ROPE_STORE: emit_fused_qk_kernel(e, k); break;
        case KK_MLA_STORE: emit_mla_store_kernel(e, k); break;
        case KK_MLA_ATTENTION: emit_mla_attention_kernel(e, k); break;
        case KK_MOE: emit_moe_kernel(e, k); break;
        case KK_MOE_STACKED: emit_moe_stacked_kernel(e, k); break;
        case KK_ATTENTION: emit_attention_kernel(e, k); break;
        }
    }
}

/* ── forward ─────────────────────────────────────────────────────────────── */

/* The text of an operand that reads the same in both backends (activation
 * views, weights, caches, RoPE tables, T, literals), or NULL for the kinds each
 * backend writes its own way.  One of 8 rotating buffers (enough for one call). */
const char *arg_text_common(const Emitter *e, Arg a) {
    static char buf[8][160];
    static int k;
    k = (k + 1) & 7;
    char *b = buf[k];
    const Graph *g = e->g;
    switch (a.kind) {
    case A_ACT:
        if (a.last_row) snprintf(b, 160, "%s + (size_t)(T - 1) * %d", e->p->views[a.id].name, e->p->views[a.id].width);
        else snprintf(b, 160, "%s", e->p->views[a.id].name);
        return b;
    case A_WEIGHT: snprintf(b, 160, "W.%s", field(&g->weights[a.id])); return b;
    case A_WEIGHT_SCALE: snprintf(b, 160, "W.%s", scale_field(&g->weights[a.id])); return b;
    case A_K_CACHE: snprintf(b, 160, "k_cache[%d]", a.id); return b;
    case A_V_CACHE: snprintf(b, 160, "v_cache[%d]", a.id); return b;
    case A_ROPE_COS: snprintf(b, 160, "rope_cos_%s", g->rope[a.id].name); return b;
    case A_ROPE_SIN: snprintf(b, 160, "rope_sin_%s", g->rope[a.id].name); return b;
    case A_T: return "T";
    case A_LOGITS_ROWS: return "(logits_mode == 2 ? T : logits_mode)";
    case A_INT: snprintf(b, 160, "%d", a.id); return b;
    case A_T_IS_1: return "T == 1";
    default: return NULL;
    }
}

/* The C text of an operand.  One of 8 rotating buffers (enough for one call). */
static const char *arg_text(const Emitter *e, Arg a) {
    static char buf[8][160];
    static int k;
    const char *common = arg_text_common(e, a);
    if (common) return common;
    k = (k + 1) & 7;
    char *b = buf[k];
    switch (a.kind) {
    case A_NULL: return "NULL";
    case A_EXPERTS: snprintf(b, 160, "W.l[%d].%s", a.id, role_info[a.role].member); return b;
    case A_EXPERTS_SCALE: snprintf(b, 160, "W.l[%d].%s_scale", a.id, role_info[a.role].member); return b;
    case A_TOKENS: return "tokens";
    case A_HIDDEN_IN: return "hidden";
    case A_LOGITS: return "logits";
    case A_HIDDEN_OUT: return "hidden_out";
    case A_POS: return "pos";
    case A_SCRATCH: return "scratch";
    default: return "?";
    }
}

/* What goes between argument i-1 and i of a call: long calls are wrapped. */
static const char *arg_sep(const Kernel *k, const Step *s, int i) {
    static const char *const wrap = ",\n        ";
    switch (k->kind) {
    case KK_QK_ROPE_STORE: return i == 5 ? wrap : ", ";
    case KK_MOE_STACKED: return i == 3 || i == 7 || i == 9 || i == 12 ? wrap : ", ";
    case KK_MOE:  /* fp8: the experts' and shared experts' multipliers on lines of their own */
        if (i == 5 || (s->n_args > 11 && (i == 15 || (i == 13 && s->arg[12].kind != A_NULL)))) return wrap;
        return s->n_args > 11 && i == 9 ? ", \n        " : ", ";
    default: return ", ";
    }
}

void call_comment(Emitter *e, const Node *n, int idx) {
    out(e, "    /* %%%d %s", n->out >= 0 ? n->out : idx, op_info[n->op].name);
    out(e, " · %s", cmt(n->note));
    if (n->loc.line) out(e, " · %s:%d", cmt(n->loc.file), n->loc.line);
    out(e, " */\n");
}

/* A comment line where a new layer (or the output) starts. */
void layer_header(Emitter *e, const Node *n, int *last_layer) {
    const Graph *g = e->g;
    if (n->layer == *last_layer) return;
    if (n->layer >= 0) {
        const GraphLayer *ls = &g->layer[n->layer];
        out(e, "\n    /* ── layer %d%s ── %s, %s norms%s%s ── %s:%d */\n", n->layer, n->mtp ? " (MTP module)" : "",
            ls->mla ? "MLA" : "attention", ls->norms == NORMS_PRE ? "pre" : ls->norms == NORMS_POST ? "post" : "sandwich",
            ls->nope ? ", NoPE" : "", ls->window ? ", sliding window" : "", cmt(ls->loc.file), ls->loc.line);
    } else if (*last_layer >= 0) {
        out(e, "\n    /* ── output ── */\n");
    }
    *last_layer = n->layer;
}

static const char *guard_text(Guard gd) {
    switch (gd) {
    case G_HIDDEN_OUT: return "if (hidden_out) ";
    case G_LOGITS_ALL: return "if (logits_mode == 2) ";
    case G_LOGITS_LAST: return "else if (logits_mode == 1) ";  /* printed right after G_LOGITS_ALL */
    case G_LOGITS: return "if (logits) ";
    default: return "";
    }
}

static void emit_step(Emitter *e, const Step *s) {
    const Graph *g = e->g;
    out(e, "    %s", guard_text(s->guard));
    switch (s->kind) {
    case S_CALL: {
        const Kernel *k = &e->p->kernels[s->kernel];
        out(e, "%s(", k->name);
        for (int i = 0; i < s->n_args; i++) out(e, "%s%s", i ? arg_sep(k, s, i) : "", arg_text(e, s->arg[i]));
        out(e, ");");
        if (s->remark) out(e, "  /* %s */", s->remark);
        out(e, "\n");
        break;
    }
    case S_COPY:
        out(e, "memcpy(%s, %s, sizeof(float) * %s * %d);\n", arg_text(e, s->arg[0]), arg_text(e, s->arg[1]), arg_text(e, s->arg[2]), s->width);
        break;
    case S_SOFTCAP:
        out(e, "for (size_t i = 0; i < (size_t)%s * VOCAB; i++) logits[i] = %s * tanhf(logits[i] / %s);  /* final soft-cap */\n",
            arg_text(e, s->arg[0]), flit((float)s->value), flit((float)s->value));
        break;
    case S_ROPE_ANGLES: {
        const RopeTable *t = &g->rope[s->id];
        out(e, "rt_rope_angles(rope_inv_freq_%s, %d, rope_mscale_%s, pos, %s, rope_cos_%s, rope_sin_%s);\n", t->name, t->dims / 2, t->name,
            arg_text(e, s->arg[0]), t->name, t->name);
        break;
    }
    }
}

static void c_step(Emitter *e, Phase ph, const Step *s) { (void)ph; emit_step(e, s); }

static void emit_forward_head(Emitter *e, Phase ph) {
    if (ph == PH_DECODE) {
        out(e, "/* One decode step: token at position pos (pos tokens already cached).\n"
               " * Every linear is a GEMV that streams its weights once.  hidden_out, if not\n"
               " * NULL, receives the final hidden state (after the final norm), [HIDDEN]. */\n");
        out(e, "static void forward_decode(const int *tokens, int pos, float *logits, float *hidden_out) {\n");
    } else if (ph == PH_MTP) {
        out(e, "/* The multi-token-prediction module on T <= TMAX positions pos … pos+T-1: hidden\n"
               " * [T][HIDDEN] holds the main model's final hidden states there and tokens the\n"
               " * tokens that followed them; logits receives the draft logits of the last\n"
               " * position ([VOCAB]: the token after tokens[T-1]). */\n");
        out(e, "static void forward_mtp(const float *hidden, const int *tokens, int T, int pos, float *logits) {\n");
    } else {
        out(e, "/* Prefill of T <= TMAX tokens at positions pos … pos+T-1.  logits_mode: 0 none,\n"
               " * 1 last token only ([VOCAB]), 2 every token ([T][VOCAB]).  hidden_out, if not\n"
               " * NULL, receives the final hidden states (after the final norm), [T][HIDDEN]. */\n");
        out(e, "static void forward_prefill(const int *tokens, int T, int pos, float *logits, int logits_mode, float *hidden_out) {\n");
    }
}

/* One entry point: its views of the arena, then its steps, each node's first
 * step under a comment naming the node. */
static void emit_forward(Emitter *e, Phase ph) {
    emit_forward_head(e, ph);
    emit_forward_body(e, ph, c_step);
}

/* The body of an entry point, for both backends: its views of the arena, then
 * its steps (printed by `step`), each node's first step under a comment naming it. */
void emit_forward_body(Emitter *e, Phase ph, void (*step)(Emitter *, Phase, const Step *)) {
    const Program *p = e->p;
    out(e, "    /* activations: views into the %sarena (%s) */\n", e->cuda ? "device " : "",
        e->g->memplanned ? "memplan: shared by liveness" : "memplan off: one region each");
    for (int i = 0; i < p->n_decl[ph]; i++) {
        const View *v = &p->views[p->decl[ph][i]];
        out(e, "    float *const %s = arena + %lld;  /* [T][%d] */\n", v->name, (long long)v->offset, v->width);
    }
    int last_layer = -2, last_node = -1;
    for (int i = 0; i < p->n_steps[ph]; i++) {
        const Step *s = &p->steps[ph][i];
        if (s->node >= 0 && s->node != last_node) {
            const Node *n = &e->g->nodes[s->node];
            layer_header(e, n, &last_layer);
            call_comment(e, n, s->node);
            last_node = s->node;
        }
        step(e, ph, s);
    }
    out(e, "}\n\n");
}

/* ── state ─────────────────────────────────────────────────────────────── */

/* The RoPE table of one Rope: its inverse frequencies (literals, or filled at
 * load time), its per-call cos/sin, and dynamic NTK's update function. */
void emit_rope_state(Emitter *e, const Rope *pr) {
    const RopeTable *t = &e->g->rope[pr->rope];
    const char *nm = t->name;
    if (pr->folded) {
        out(e, "/* RoPE '%s': %s, theta %g, %d rotary dims (rope-fold: constants) */\n", nm, rope_kind_name(t->kind), t->params.theta, t->dims);
        out(e, "static const float rope_inv_freq_%s[%d] = {", nm, pr->half);
        for (int i = 0; i < pr->half; i++) out(e, "%s%s%s", i ? "," : "", i % 6 ? " " : "\n    ", flit(t->inv_freq[i]));
        out(e, "\n};\nstatic const float rope_mscale_%s = %s;\n", nm, flit(t->mscale));
    } else {
        out(e, "/* RoPE '%s': %s, theta %g, %d rotary dims (computed at load time: rope-fold off) */\n", nm,
            rope_kind_name(t->kind), t->params.theta, t->dims);
        out(e, "static float rope_inv_freq_%s[%d];\nstatic float rope_mscale_%s;\n", nm, pr->half, nm);
    }
    if (e->cuda)
        out(e, "static float *d_rope_inv_freq_%s;   /* its copy on the device */\n"
               "static float *rope_cos_%s, *rope_sin_%s;   /* device [TMAX][%d] */\n\n", nm, nm, nm, pr->half);
    else
        out(e, "static float rope_cos_%s[TMAX * %d], rope_sin_%s[TMAX * %d];\n\n", nm, pr->half, nm, pr->half);
    if (!pr->ntk) return;
    out(e, "/* Dynamic NTK (Qwen-1).  The base grows with alpha = max(2^ceil(log2(L / %d) + 1) - 1, 1),\n"
           " * L the length of the cache-free pass (the prompt, at pos 0): base' = %g · alpha^(%d / %d).\n"
           " * Cached decode keeps the alpha of the prefill (its keys were rotated with it), as the\n"
           " * reference does, even when the context grows past the next doubling. */\n",
        t->ntk_seq_length, t->params.theta, t->dims, t->dims - 2);
    out(e, "static double ntk_alpha_%s = 1.0;\n", nm);
    out(e, "static void ntk_update_%s(int L) {\n", nm);
    out(e, "    double a = pow(2.0, ceil(log((double)L / %d) / log(2.0) + 1.0)) - 1.0;\n", t->ntk_seq_length);
    out(e, "    if (a < 1.0) a = 1.0;\n    if (a == ntk_alpha_%s) return;\n    ntk_alpha_%s = a;\n", nm, nm);
    out(e, "    RtRopeParams p = {.kind = RT_ROPE_DEFAULT, .theta = %.17g * pow(a, %d.0 / %d.0), .dims = %d};\n", t->params.theta, t->dims,
        t->dims - 2, t->dims);
    out(e, "    rt_rope_inv_freq(&p, rope_inv_freq_%s, &rope_mscale_%s);\n", nm, nm);
    if (e->cuda)
        out(e, "    CU_CHECK(cudaMemcpyAsync(d_rope_inv_freq_%s, rope_inv_freq_%s, sizeof rope_inv_freq_%s, cudaMemcpyHostToDevice, cu_stream));\n",
            nm, nm, nm);
    out(e, "}\n\n");
}

static void emit_state(Emitter *e) {
    const Program *p = e->p;
    out(e, "/* ── state ──────────────────────────────────────────────────────────────── */\n\n");
    out(e, "static float *arena;                /* activation arena [ARENA_FLOATS]            */\n");
    out(e, "static float *k_cache[N_CACHES];    /* per attention layer [MAX_CONTEXT][kv width] */\n");
    out(e, "static float *v_cache[N_CACHES];\n");
    if (p->scratch_floats)
        out(e, "static float *scratch;              /* kernels' scratch [TMAX][%lld], sized up front */\n", (long long)p->scratch_floats);
    for (int r = 0; r < p->n_ropes; r++) emit_rope_state(e, &p->ropes[r]);
}

/* Load time: weight views and ties, every buffer, unfolded RoPE tables. */
static void emit_init(Emitter *e) {
    const Graph *g = e->g;
    const Program *pr = e->p;
    out(e, "static int model_init(char *err, size_t errlen) {\n    (void)err; (void)errlen;\n");
    for (int i = 0; i < g->n_weights; i++)
        if (g->weights[i].alias >= 0 && g->weights[i].view_offset)
            out(e, "    W.%s = W.%s + %lld;  /* rows of %s, no copy */\n", field(&g->weights[i]), field(&g->weights[g->weights[i].alias]),
                (long long)g->weights[i].view_offset, g->weights[g->weights[i].alias].name);
        else if (g->weights[i].alias >= 0 && g->weights[i].layer >= 0)
            out(e, "    W.%s = W.%s;  /* rows of %s, no copy */\n", field(&g->weights[i]), field(&g->weights[g->weights[i].alias]),
                g->weights[g->weights[i].alias].name);
        else if (g->weights[i].alias >= 0) {
            out(e, "    W.%s = W.%s;  /* tied */\n", field(&g->weights[i]), field(&g->weights[g->weights[i].alias]));
            if (weight_block_scaled(&g->weights[i]))
                out(e, "    W.%s = W.%s;\n", scale_field(&g->weights[i]), scale_field(&g->weights[g->weights[i].alias]));
        }
    out(e, "    arena = rt_alloc(sizeof(float) * ARENA_FLOATS);\n");
    if (pr->scratch_floats) out(e, "    scratch = rt_alloc(sizeof(float) * TMAX * %lld);\n", (long long)pr->scratch_floats);
    for (int c = 0; c < pr->n_caches; c++) {
        const Cache *k = &pr->caches[c];
        char rows[32];
        if (k->rows) snprintf(rows, sizeof rows, "%d", k->rows);
        else snprintf(rows, sizeof rows, "MAX_CONTEXT");
        out(e, "    k_cache[%d] = rt_alloc(sizeof(float) * %s * %d);%s\n    v_cache[%d] = rt_alloc(sizeof(float) * %s * %d);\n", c, rows,
            k->k_width, k->ring ? "  /* ring: window + TMAX - 1 rows (swa-tile) */" : "", c, rows, k->v_width);
    }
    for (int r = 0; r < pr->n_ropes; r++) {
        const RopeTable *t = &g->rope[pr->ropes[r].rope];
        if (pr->ropes[r].folded) continue;
        RtRopeParams p = t->params;
        p.dims = t->dims;
        out(e, "    {\n        RtRopeParams p = {.kind = %d, .theta = %.17g, .dims = %d, .factor = %.17g, .original_max_position = %d,\n"
               "            .low_freq_factor = %.17g, .high_freq_factor = %.17g, .beta_fast = %.17g, .beta_slow = %.17g,\n"
               "            .truncate = %d, .has_attention_factor = %d, .attention_factor = %.17g, .has_mscale = %d, .mscale = %.17g,\n"
               "            .has_mscale_all_dim = %d, .mscale_all_dim = %.17g};\n"
               "        rt_rope_inv_freq(&p, rope_inv_freq_%s, &rope_mscale_%s);\n    }\n",
            (int)p.kind, p.theta, p.dims, p.factor, p.original_max_position, p.low_freq_factor, p.high_freq_factor, p.beta_fast,
            p.beta_slow, p.truncate, p.has_attention_factor, p.attention_factor, p.has_mscale, p.mscale, p.has_mscale_all_dim,
            p.mscale_all_dim, t->name, t->name);
    }
    out(e, "    return 0;\n}\n\n");
    out(e, "static void model_release(void) {\n    rt_free(arena);\n%s", pr->scratch_floats ? "    rt_free(scratch);\n" : "");
    out(e, "    for (int c = 0; c < N_CACHES; c++) { rt_free(k_cache[c]); rt_free(v_cache[c]); }\n}\n\n");
}

/* ── the file ────────────────────────────────────────────────────────────── */

/* The header comment, includes and model constants. */
void emit_preamble(Emitter *e) {
    const Graph *g = e->g;
    const GraphModel *s = &g->model;
    out(e, "/*\n * %s — generated by archc %s from %s.  Do not edit; edit the YAML.\n *\n", cmt(s->name), ARCHC_VERSION, cmt(s->file));
    out(e, " * family %s: %d layers, hidden %d, vocab %d, max context %d, weights %s.\n", s->family, s->n_layers, s->hidden,
        s->vocab, s->max_context, fmt_short(s->weight_format));
    out(e, " * passes:");
    for (int i = 0; i < g->n_passes_run; i++) out(e, " %s", g->passes_run[i]);
    if (!g->n_passes_run) out(e, " (none)");
    out(e, "\n * weight bytes read per decoded token: %lld\n", (long long)graph_weight_bytes(g));
    if (s->mtp_depth > 0)
        out(e, " * The multi-token-prediction module (checkpoint layer %d) is compiled as forward_mtp:\n"
               " * it drafts one token per step for self-speculative decoding (--mtp); transformers ignores it.\n",
            s->n_layers);
    if (e->cuda) {
        out(e, " *\n * CUDA: weights live on the device in their stored format; every kernel below is\n"
               " * a template of runtime/cuda/archc_cuda.cuh instantiated with this model's literals;\n"
               " * a decode step is captured once as a CUDA graph and replayed.\n");
        out(e, " * Build: nvcc -O3 -std=c++17 -arch=sm_90 -I<archc>/runtime THIS.cu <archc build>/libarchc_rt.a -lm -lpthread\n");        if (e->g->decode_persistent)
            out(e, " * (decode-persistent: add -Xptxas -dlcm=cg, see decode_persistent_kernel)\n");
        out(e, " * (archc -o EXE --target=cuda does this), or on the CPU emulator (tests):\n"
               " *   c++ -O1 -std=c++17 -x c++ -DARCHC_CUDA_EMU -I<archc>/runtime THIS.cu <archc build>/libarchc_rt.a -lm -lpthread\n");
        out(e, " * Read top to bottom: constants, weights, kernels, state, forward_prefill, forward_decode.\n */\n");
        out(e, "#include \"cuda/archc_cuda.cuh\"\n\n");
    } else {
        out(e, " *\n * Build: cc -O3 -march=native -std=c11 -I<archc>/runtime THIS.c <archc build>/libarchc_rt.a -lm -lpthread\n");
        out(e, " * Read top to bottom: constants, weights, kernels, state, forward_prefill, forward_decode.\n */\n");
        out(e, "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n");
        out(e, "#include \"archc_rt.h\"\n#include \"archc_kernels.h\"\n\n");
    }
    out(e, "enum {\n    VOCAB = %d,\n    HIDDEN = %d,\n    N_LAYERS = %d,\n    MAX_CONTEXT = %d,\n    TMAX = %d,       /* prefill chunk */\n"
           "    N_MTP_LAYERS = %d,  /* multi-token-prediction module layers (after the N_LAYERS) */\n"
           "    N_CACHES = %d,\n    ARENA_FLOATS = %lld,\n",
        s->vocab, s->hidden, s->n_layers, s->max_context, g->tmax, s->mtp_depth, e->p->n_caches,
        (long long)(e->p->arena_floats > 0 ? e->p->arena_floats : 1));
    if (s->weight_format == WFMT_I8 || s->weight_format == WFMT_I4 || s->weight_format == WFMT_MXFP4_DENSE)
        out(e, "    BLOCK_N = %d,    /* %s: one scale per block of BLOCK_N rows × BLOCK_K columns (archc_quant.h) */\n    BLOCK_K = %d,\n",
            block_n(g), wfmt_name(s->weight_format), block_k(g));
    else if (s->weight_format == WFMT_FP8_E4M3)
        out(e, "    BLOCK_N = %d,    /* fp8: weight_scale_inv blocks of BLOCK_N rows × BLOCK_K columns */\n    BLOCK_K = %d,\n", block_n(g), block_k(g));
    out(e, "};\n\n");
}

/* model_forward (one decode step, or prefill in TMAX chunks) and model_mtp. */
static void emit_dispatch(Emitter *e) {
    const Program *p = e->p;
    out(e, "/* Run n tokens at positions pos …: one decode step, or prefill in chunks of TMAX. */\n");
    out(e, "static void model_forward(const int *tokens, int n, int pos, float *logits, int all_logits, float *hidden_out) {\n");
    for (int r = 0; r < p->n_ropes; r++)
        if (p->ropes[r].ntk)
            out(e, "    if (pos == 0) ntk_update_%s(n);  /* a cache-free pass chooses the NTK alpha */\n", e->g->rope[p->ropes[r].rope].name);
    out(e, "    if (n == 1 && !all_logits) { forward_decode(tokens, pos, logits, hidden_out); return; }\n");
    out(e, "    for (int i = 0; i < n; i += TMAX) {\n");
    out(e, "        int T = n - i < TMAX ? n - i : TMAX, last = i + T >= n;\n");
    out(e, "        float *h = hidden_out ? hidden_out + (size_t)i * HIDDEN : NULL;\n");
    out(e, "        if (all_logits) forward_prefill(tokens + i, T, pos + i, logits + (size_t)i * VOCAB, 2, h);\n");
    out(e, "        else forward_prefill(tokens + i, T, pos + i, logits, last ? 1 : 0, h);\n");
    out(e, "    }\n}\n\n");
    if (!p->has_phase[PH_MTP]) return;
    out(e, "/* The MTP module over n positions (in chunks of TMAX): draft logits of the last. */\n");
    out(e, "static void model_mtp(const float *hidden, const int *tokens, int n, int pos, float *logits) {\n");
    out(e, "    for (int i = 0; i < n; i += TMAX) {\n");
    out(e, "        int T = n - i < TMAX ? n - i : TMAX;\n");
    out(e, "        forward_mtp(hidden + (size_t)i * HIDDEN, tokens + i, T, pos + i, logits);\n");
    out(e, "    }\n}\n\n");
}

/* The RtModel the runtime's main drives. */
static void emit_descriptor(Emitter *e) {
    const GraphModel *s = &e->g->model;
    out(e, "static const RtModel archc_model = {\n    .name = \"%s\",\n    .source = \"%s\",\n    .vocab = VOCAB,\n"
           "    .max_context = MAX_CONTEXT,\n    .eos_token = %d,\n    .weight_bytes = %lldLL,\n    .weights = weight_table,\n"
           "    .n_weights = (int)(sizeof weight_table / sizeof weight_table[0]),\n    .init = model_init,\n"
           "    .forward = model_forward,\n    .release = model_release,\n    .hidden = HIDDEN,\n%s};\n\n",
        cstr(s->name), cstr(cmt(s->file)), s->eos_token, (long long)graph_weight_bytes(e->g),
        e->p->has_phase[PH_MTP] ? "    .mtp = model_mtp,\n" : "");
    out(e, "#ifdef ARCHC_VARIANT\n"
           "/* A --target build compiles this file once per instruction set, each copy\n"
           " * naming this function after its variant; the start-up dispatcher calls the\n"
           " * best one the CPU supports (runtime/isa.c). */\n"
           "const RtModel *ARCHC_VARIANT(void) {\n    add_expert_weights();\n    return &archc_model;\n}\n"
           "#else\n"
           "int main(int argc, char **argv) {\n    add_expert_weights();\n    return rt_main(argc, argv, &archc_model);\n}\n"
           "#endif\n");
}

/* The whole file, for either backend: build the program, then print it top to
 * bottom — the shared parts here, the backend's own through pr. */
int print_program(const Graph *g, FILE *f, bool cuda, const Printer *pr) {
    Program prog;
    if (program_build(g, &prog) < 0) { program_free(&prog); return -1; }
    Emitter em = {.f = f, .g = g, .p = &prog, .cuda = cuda};
    Emitter *e = &em;
    emit_preamble(e);
    emit_weights(e);
    emit_weight_table(e);
    emit_expert_table(e);
    pr->kernels(e);
    pr->state(e);
    pr->init(e);
    out(e, "/* ── forward ─────────────────────────────────────────────────────────────── */\n\n");
    for (int ph = 0; ph < PH_COUNT; ph++)
        if (prog.has_phase[ph]) pr->forward(e, (Phase)ph);
    pr->dispatch(e);
    pr->descriptor(e);
    program_free(&prog);
    return ferror(f) ? -1 : 0;
}

static const Printer c_printer = {emit_kernels, emit_state, emit_init, emit_forward, emit_dispatch, emit_descriptor};
static int c_emit(const Graph *g, FILE *f) { return print_program(g, f, false, &c_printer); }

const Backend backend_c = {"c", ".c", c_check, c_emit};
