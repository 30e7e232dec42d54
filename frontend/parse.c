/*
 * frontend/parse.c — YAML description → validated ModelSpec.
 *
 * libyaml loads the file into a node tree (with line/column marks); each
 * section below walks one mapping, checks that every key is known (an unknown
 * key is an error that suggests the nearest known one), reads each value with
 * its type and range, and applies defaults.  The schema is documented in
 * docs/yaml.md; each key is also commented where it is read.  The first error
 * stops parsing: "FILE:LINE:COL: error: …", return -1.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "diag.h"
#include "fileio.h"
#include "spec.h"

typedef struct P {
    yaml_document_t doc;
    const char *file;
    ModelSpec *s;
} P;

typedef yaml_node_t Node;

static SrcLoc loc_of(const P *p, const Node *n) {
    SrcLoc l = {p->file, n ? (int)n->start_mark.line + 1 : 0, n ? (int)n->start_mark.column + 1 : 0};
    return l;
}

static Node *nd(P *p, int id) { return yaml_document_get_node(&p->doc, id); }

static const char *kind_name(const Node *n) {
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

static const char *scalar(const Node *n) { return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL; }

static int expect_map(P *p, Node *n, const char *what) {
    if (n->type != YAML_MAPPING_NODE) {
        diag_error(loc_of(p, n), "%s: expected a mapping ({key: value, …}), got %s", what, kind_name(n));
        return -1;
    }
    return 0;
}

/* Every key of `map` must be in `known`. */
static int check_keys(P *p, Node *map, const char *section, const char *const *known) {
    int nk = 0;
    while (known[nk]) nk++;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        Node *k = nd(p, pr->key);
        const char *ks = scalar(k);
        if (!ks) { diag_error(loc_of(p, k), "in %s: keys must be plain names", section); return -1; }
        int ok = 0;
        for (int i = 0; i < nk; i++) ok |= !strcmp(ks, known[i]);
        if (!ok) {
            const char *near = diag_nearest(ks, known, nk);
            if (near) diag_error(loc_of(p, k), "unknown key '%s' in %s (did you mean '%s'?)", ks, section, near);
            else {
                char list[512] = "";
                for (int i = 0; i < nk; i++) {
                    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                    strncat(list, known[i], sizeof list - strlen(list) - 1);
                }
                diag_error(loc_of(p, k), "unknown key '%s' in %s (known keys: %s)", ks, section, list);
            }
            return -1;
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++)
            if (!strcmp(scalar(nd(p, q->key)), ks)) { diag_error(loc_of(p, k), "key '%s' given twice in %s", ks, section); return -1; }
    }
    return 0;
}

static Node *get(P *p, Node *map, const char *key) {
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        const char *ks = scalar(nd(p, pr->key));
        if (ks && !strcmp(ks, key)) return nd(p, pr->value);
    }
    return NULL;
}

static int is_null(const Node *n) {
    const char *s = scalar(n);
    return s && (!strcmp(s, "null") || !strcmp(s, "~") || !strcmp(s, "none") || !*s);
}

static int to_long(P *p, Node *n, const char *key, long lo, long hi, long *out) {
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno) {
        diag_error(loc_of(p, n), "key '%s': expected an integer, got %s%s%s", key, s ? "'" : "", s ? s : kind_name(n), s ? "'" : "");
        return -1;
    }
    if (v < lo || v > hi) {
        diag_error(loc_of(p, n), "key '%s': %ld is out of range (expected %ld … %ld)", key, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Optional integer key: absent or null keeps *out. */
static int opt_int(P *p, Node *map, const char *key, long lo, long hi, int *out) {
    Node *n = get(p, map, key);
    if (!n || is_null(n)) return 0;
    long v;
    if (to_long(p, n, key, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

static int req_int(P *p, Node *map, const char *key, const char *section, long lo, long hi, int *out) {
    Node *n = get(p, map, key);
    if (!n || is_null(n)) {
        diag_error(loc_of(p, map), "%s: missing required key '%s'", section, key);
        return -1;
    }
    return opt_int(p, map, key, lo, hi, out);
}

static int opt_num(P *p, Node *map, const char *key, double lo, double hi, double *out, bool *present) {
    Node *n = get(p, map, key);
    if (present) *present = false;
    if (!n || is_null(n)) return 0;
    const char *s = scalar(n);
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || isnan(v)) {
        diag_error(loc_of(p, n), "key '%s': expected a number, got %s%s%s", key, s ? "'" : "", s ? s : kind_name(n), s ? "'" : "");
        return -1;
    }
    if (v < lo || v > hi) {
        diag_error(loc_of(p, n), "key '%s': %g is out of range (expected %g … %g)", key, v, lo, hi);
        return -1;
    }
    *out = v;
    if (present) *present = true;
    return 0;
}

static int opt_bool(P *p, Node *map, const char *key, bool *out) {
    Node *n = get(p, map, key);
    if (!n || is_null(n)) return 0;
    const char *s = scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))) { *out = true; return 0; }
    if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))) { *out = false; return 0; }
    diag_error(loc_of(p, n), "key '%s': expected true or false, got %s%s%s", key, s ? "'" : "", s ? s : kind_name(n), s ? "'" : "");
    return -1;
}

/* One of `names` (NULL-terminated); index into *out. */
static int opt_enum(P *p, Node *map, const char *key, const char *const *names, int *out) {
    Node *n = get(p, map, key);
    if (!n || is_null(n)) return 0;
    const char *s = scalar(n);
    int nn = 0;
    while (names[nn]) nn++;
    for (int i = 0; s && i < nn; i++)
        if (!strcmp(s, names[i])) { *out = i; return 0; }
    char list[256] = "";
    for (int i = 0; i < nn; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    const char *near = s ? diag_nearest(s, names, nn) : NULL;
    diag_error(loc_of(p, n), "key '%s': expected one of %s, got %s%s%s%s%s%s", key, list, s ? "'" : "", s ? s : kind_name(n),
               s ? "'" : "", near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return -1;
}

static int opt_str(P *p, Node *map, const char *key, char *out, size_t cap) {
    Node *n = get(p, map, key);
    if (!n || is_null(n)) return 0;
    const char *s = scalar(n);
    if (!s) { diag_error(loc_of(p, n), "key '%s': expected a string, got %s", key, kind_name(n)); return -1; }
    if (strlen(s) >= cap) { diag_error(loc_of(p, n), "key '%s': too long (at most %zu characters)", key, cap - 1); return -1; }
    snprintf(out, cap, "%s", s);
    return 0;
}

/* ── norm ────────────────────────────────────────────────────────────────── */

static int parse_norm(P *p, Node *n) {
    static const char *const keys[] = {"kind", "eps", NULL};
    static const char *const kinds[] = {"rmsnorm", "rmsnorm_gemma", NULL};
    if (expect_map(p, n, "norm") || check_keys(p, n, "norm", keys)) return -1;
    NormSpec *ns = &p->s->norm;
    ns->loc = loc_of(p, n);
    int k = 0;
    if (!get(p, n, "kind")) { diag_error(loc_of(p, n), "norm: missing required key 'kind'"); return -1; }
    if (opt_enum(p, n, "kind", kinds, &k)) return -1;
    ns->kind = k == 1 ? NORM_RMS_GEMMA : NORM_RMS;
    if (!get(p, n, "eps")) { diag_error(loc_of(p, n), "norm: missing required key 'eps'"); return -1; }
    return opt_num(p, n, "eps", 1e-30, 1.0, &ns->eps, NULL);
}

/* ── named variants: a mapping with `kind` is one variant named "default" ── */

typedef int (*VariantFn)(P *p, Node *n, const char *name);

static int parse_variants(P *p, Node *n, const char *section, VariantFn fn, int *count) {
    if (expect_map(p, n, section)) return -1;
    if (get(p, n, "kind")) return fn(p, n, "default");
    if (n->data.mapping.pairs.start == n->data.mapping.pairs.top) {
        diag_error(loc_of(p, n), "%s: expected a variant (with 'kind') or named variants", section);
        return -1;
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        Node *k = nd(p, pr->key);
        const char *name = scalar(k);
        if (!name || !*name) { diag_error(loc_of(p, k), "%s: variant names must be plain names", section); return -1; }
        for (const char *c = name; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_') {
                diag_error(loc_of(p, k), "%s: variant name '%s' must be letters, digits and '_'", section, name);
                return -1;
            }
        if (strlen(name) >= SPEC_NAME_MAX) { diag_error(loc_of(p, k), "%s: variant name too long", section); return -1; }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++)
            if (scalar(nd(p, q->key)) && !strcmp(scalar(nd(p, q->key)), name)) {
                diag_error(loc_of(p, k), "%s: variant '%s' is defined twice", section, name);
                return -1;
            }
        if (*count >= SPEC_MAX_VARIANTS) { diag_error(loc_of(p, k), "%s: at most %d variants", section, SPEC_MAX_VARIANTS); return -1; }
        Node *v = nd(p, pr->value);
        if (v->type == YAML_MAPPING_NODE && !get(p, v, "kind")) {
            diag_error(loc_of(p, v), "%s '%s': missing required key 'kind'", section, name);
            return -1;
        }
        if (v->type != YAML_MAPPING_NODE) {
            diag_error(loc_of(p, k), "unknown key '%s' in %s: a variant needs 'kind', named variants need mappings", name, section);
            return -1;
        }
        if (fn(p, v, name)) return -1;
    }
    return 0;
}

/* ── rope ────────────────────────────────────────────────────────────────── */

static int parse_rope(P *p, Node *n, const char *name) {
    static const char *const keys[] = {"kind", "theta", "dims", "layout", "factor", "original_max_position", "low_freq_factor",
                                       "high_freq_factor", "beta_fast", "beta_slow", "truncate", "attention_factor", "mscale",
                                       "mscale_all_dim", "seq_length", NULL};
    static const char *const kinds[] = {"default", "linear", "llama3", "yarn", "dynamic_ntk", NULL};
    static const char *const layouts[] = {"half", "interleaved", NULL};
    ModelSpec *s = p->s;
    RopeSpec *r = &s->rope[s->n_rope];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->loc = loc_of(p, n);
    r->truncate = true;
    r->beta_fast = 32;
    r->beta_slow = 1;
    r->factor = 1;
    if (check_keys(p, n, "rope", keys)) return -1;
    int k = 0, lay = 0;
    if (opt_enum(p, n, "kind", kinds, &k)) return -1;
    r->kind = (RopeKind)k;
    if (!get(p, n, "theta")) { diag_error(loc_of(p, n), "rope '%s': missing required key 'theta'", name); return -1; }
    if (opt_num(p, n, "theta", 1.0, 1e12, &r->theta, NULL)) return -1;
    if (opt_int(p, n, "dims", 0, 4096, &r->dims)) return -1;
    if (r->dims % 2) { diag_error(loc_of(p, get(p, n, "dims")), "key 'dims': must be even, got %d", r->dims); return -1; }
    if (opt_enum(p, n, "layout", layouts, &lay)) return -1;
    r->layout = (RopeLayout)lay;
    bool has_factor;
    if (opt_num(p, n, "factor", 1e-6, 1e6, &r->factor, &has_factor)) return -1;
    if (opt_int(p, n, "original_max_position", 1, 1 << 30, &r->original_max_position)) return -1;
    if (opt_num(p, n, "low_freq_factor", 1e-6, 1e6, &r->low_freq_factor, NULL)) return -1;
    if (opt_num(p, n, "high_freq_factor", 1e-6, 1e6, &r->high_freq_factor, NULL)) return -1;
    if (opt_num(p, n, "beta_fast", 0, 1e6, &r->beta_fast, NULL)) return -1;
    if (opt_num(p, n, "beta_slow", 0, 1e6, &r->beta_slow, NULL)) return -1;
    if (opt_bool(p, n, "truncate", &r->truncate)) return -1;
    if (opt_num(p, n, "attention_factor", 0, 1e6, &r->attention_factor, &r->has_attention_factor)) return -1;
    if (opt_num(p, n, "mscale", 0, 1e6, &r->mscale, &r->has_mscale)) return -1;
    if (opt_num(p, n, "mscale_all_dim", 0, 1e6, &r->mscale_all_dim, &r->has_mscale_all_dim)) return -1;
    if (opt_int(p, n, "seq_length", 1, 1 << 30, &r->ntk_seq_length)) return -1;
    if ((r->kind == ROPE_LINEAR || r->kind == ROPE_LLAMA3 || r->kind == ROPE_YARN) && !has_factor) {
        diag_error(loc_of(p, n), "rope '%s' (%s): missing required key 'factor'", name, kinds[k]);
        return -1;
    }
    if (r->kind == ROPE_LLAMA3 && (!r->original_max_position || !r->low_freq_factor || !r->high_freq_factor)) {
        diag_error(loc_of(p, n), "rope '%s' (llama3): needs original_max_position, low_freq_factor and high_freq_factor", name);
        return -1;
    }
    /* low_freq_factor == high_freq_factor is allowed (transformers accepts it, and
     * released configs use it): the smoothly interpolated band is then empty. */
    if (r->kind == ROPE_YARN && !r->original_max_position) {
        diag_error(loc_of(p, n), "rope '%s' (yarn): missing required key 'original_max_position'", name);
        return -1;
    }
    if (r->kind == ROPE_DYNAMIC_NTK && !r->ntk_seq_length) {
        diag_error(loc_of(p, n), "rope '%s' (dynamic_ntk): missing required key 'seq_length'", name);
        return -1;
    }
    s->n_rope++;
    return 0;
}

/* ── attention ───────────────────────────────────────────────────────────── */

static int parse_attn(P *p, Node *n, const char *name) {
    static const char *const keys[] = {"kind", "heads", "kv_heads", "head_dim", "bias", "qk_norm", "scale", "sinks", "softcap",
                                       "fused_qkv", "q_lora_rank", "kv_lora_rank", "qk_nope_dim", "qk_rope_dim", "v_dim",
                                       "temperature_tuning", "floor_scale", "attn_scale", "logn", "logn_seq_length", NULL};
    static const char *const kinds[] = {"gqa", "mla", NULL};
    static const char *const biases[] = {"none", "qkv", "qkvo", NULL};
    static const char *const qkn[] = {"none", "head", "whole", "l2_after", NULL};
    ModelSpec *s = p->s;
    AttnSpec *a = &s->attn[s->n_attn];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->loc = loc_of(p, n);
    if (check_keys(p, n, "attention", keys)) return -1;
    int k = 0, b = 0, q = 0;
    if (opt_enum(p, n, "kind", kinds, &k)) return -1;
    a->kind = (AttnKind)k;
    if (req_int(p, n, "heads", "attention", 1, 4096, &a->heads)) return -1;
    a->kv_heads = a->heads;
    if (opt_int(p, n, "kv_heads", 1, 4096, &a->kv_heads)) return -1;
    a->head_dim = s->hidden / a->heads;
    if (opt_int(p, n, "head_dim", 1, 4096, &a->head_dim)) return -1;
    if (a->kind == ATTN_GQA && a->head_dim < 1) {
        diag_error(loc_of(p, get(p, n, "heads")), "attention '%s': heads (%d) is more than hidden (%d): give head_dim", name, a->heads,
                   s->hidden);
        return -1;
    }
    if (opt_enum(p, n, "bias", biases, &b)) return -1;
    a->q_bias = a->k_bias = a->v_bias = b >= 1;
    a->o_bias = b == 2;
    if (opt_enum(p, n, "qk_norm", qkn, &q)) return -1;
    a->qk_norm = (QkNormKind)q;
    if (opt_num(p, n, "scale", 0, 1e6, &a->scale, NULL)) return -1;
    if (opt_bool(p, n, "sinks", &a->sinks)) return -1;
    if (opt_num(p, n, "softcap", 0, 1e9, &a->softcap, NULL)) return -1;
    if (opt_bool(p, n, "fused_qkv", &a->fused_qkv)) return -1;
    if (opt_int(p, n, "q_lora_rank", 0, 1 << 20, &a->q_lora_rank)) return -1;
    if (opt_int(p, n, "kv_lora_rank", 0, 1 << 20, &a->kv_lora_rank)) return -1;
    if (opt_int(p, n, "qk_nope_dim", 0, 1 << 20, &a->qk_nope_dim)) return -1;
    if (opt_int(p, n, "qk_rope_dim", 0, 1 << 20, &a->qk_rope_dim)) return -1;
    if (opt_int(p, n, "v_dim", 0, 1 << 20, &a->v_dim)) return -1;
    if (opt_bool(p, n, "temperature_tuning", &a->temperature_tuning)) return -1;
    if (opt_num(p, n, "floor_scale", 0, 1e12, &a->floor_scale, NULL)) return -1;
    if (opt_num(p, n, "attn_scale", 0, 1e6, &a->attn_scale, NULL)) return -1;
    if (opt_bool(p, n, "logn", &a->logn)) return -1;
    if (opt_int(p, n, "logn_seq_length", 0, 1 << 30, &a->logn_seq_length)) return -1;
    if (a->kind == ATTN_GQA && a->heads % a->kv_heads) {
        diag_error(loc_of(p, get(p, n, "kv_heads")), "attention '%s': heads (%d) must be a multiple of kv_heads (%d)", name, a->heads,
                   a->kv_heads);
        return -1;
    }
    if (a->kind == ATTN_MLA) {
        const char *need[] = {"kv_lora_rank", "qk_nope_dim", "qk_rope_dim", "v_dim"};
        int vals[] = {a->kv_lora_rank, a->qk_nope_dim, a->qk_rope_dim, a->v_dim};
        for (int i = 0; i < 4; i++)
            if (vals[i] <= 0) { diag_error(loc_of(p, n), "attention '%s' (mla): missing required key '%s'", name, need[i]); return -1; }
        a->kv_heads = 1;
        a->head_dim = a->qk_nope_dim + a->qk_rope_dim;
    }
    if (a->logn && !a->logn_seq_length) { diag_error(loc_of(p, n), "attention '%s': logn needs logn_seq_length", name); return -1; }
    s->n_attn++;
    return 0;
}

/* ── ffn ─────────────────────────────────────────────────────────────────── */

static int parse_router(P *p, Node *n, RouterSpec *r) {
    static const char *const keys[] = {"score", "select_bias", "bias", "softmax_after_topk", "groups", "top_groups", "group_score",
                                       "normalize", "scale", "scale_input", NULL};
    static const char *const group_scores[] = {"top2_sum", "max", NULL};
    static const char *const scores[] = {"softmax", "sigmoid", NULL};
    if (expect_map(p, n, "router") || check_keys(p, n, "router", keys)) return -1;
    r->loc = loc_of(p, n);
    int sc = 0;
    if (opt_enum(p, n, "score", scores, &sc)) return -1;
    r->score = (RouterScore)sc;
    if (opt_bool(p, n, "select_bias", &r->select_bias) || opt_bool(p, n, "bias", &r->bias) ||
        opt_bool(p, n, "softmax_after_topk", &r->softmax_after_topk) || opt_bool(p, n, "normalize", &r->normalize) ||
        opt_bool(p, n, "scale_input", &r->scale_input))
        return -1;
    if (opt_int(p, n, "groups", 0, 1 << 16, &r->groups) || opt_int(p, n, "top_groups", 0, 1 << 16, &r->top_groups)) return -1;
    int gs = 0;
    if (opt_enum(p, n, "group_score", group_scores, &gs)) return -1;
    r->group_max = gs == 1;
    if (opt_num(p, n, "scale", 0, 1e6, &r->scale, NULL)) return -1;
    if (r->groups && (r->top_groups <= 0 || r->top_groups > r->groups)) {
        diag_error(loc_of(p, get(p, n, "top_groups") ? get(p, n, "top_groups") : n), "router: top_groups must be in 1 … groups (%d)", r->groups);
        return -1;
    }
    if (!r->groups && r->top_groups) {
        diag_error(loc_of(p, get(p, n, "groups") ? get(p, n, "groups") : get(p, n, "top_groups")),
                   "router: top_groups (%d) given without groups (0 or absent means no group-limited routing)", r->top_groups);
        return -1;
    }
    return 0;
}

static int parse_ffn(P *p, Node *n, const char *name) {
    static const char *const keys[] = {"kind", "intermediate", "bias", "gate_up_interleaved", "act_limit", "act_alpha", "experts",
                                       "top_k", "shared", "shared_intermediate", "router", NULL};
    static const char *const kinds[] = {"swiglu", "geglu_tanh", "swiglu_oai", NULL};
    ModelSpec *s = p->s;
    FfnSpec *f = &s->ffn[s->n_ffn];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->loc = loc_of(p, n);
    f->act_limit = 7.0;
    f->act_alpha = 1.702;
    f->router.scale = 1.0;
    if (check_keys(p, n, "ffn", keys)) return -1;
    int k = 0;
    if (opt_enum(p, n, "kind", kinds, &k)) return -1;
    f->act = (ActKind)k;
    if (req_int(p, n, "intermediate", "ffn", 1, 1 << 24, &f->intermediate)) return -1;
    if (opt_bool(p, n, "bias", &f->bias) || opt_bool(p, n, "gate_up_interleaved", &f->gate_up_interleaved)) return -1;
    if (opt_num(p, n, "act_limit", 0, 1e6, &f->act_limit, NULL) || opt_num(p, n, "act_alpha", 0, 1e6, &f->act_alpha, NULL)) return -1;
    Node *e = get(p, n, "experts");
    if (e && !is_null(e)) {
        f->moe = true;
        if (opt_int(p, n, "experts", 1, 1 << 16, &f->experts)) return -1;
        if (req_int(p, n, "top_k", "ffn (moe)", 1, 1 << 16, &f->top_k)) return -1;
        if (f->top_k > f->experts) {
            diag_error(loc_of(p, get(p, n, "top_k")), "key 'top_k': %d is more than experts (%d)", f->top_k, f->experts);
            return -1;
        }
        if (opt_int(p, n, "shared", 0, 1 << 10, &f->shared) || opt_int(p, n, "shared_intermediate", 0, 1 << 24, &f->shared_intermediate))
            return -1;
        Node *r = get(p, n, "router");
        if (r && parse_router(p, r, &f->router)) return -1;
        if (f->router.groups && f->experts % f->router.groups) {
            diag_error(loc_of(p, get(p, r, "groups")), "router: groups (%d) must divide experts (%d)", f->router.groups, f->experts);
            return -1;
        }
    } else if (get(p, n, "top_k") || get(p, n, "router")) {
        diag_error(loc_of(p, n), "ffn '%s': top_k/router given without 'experts'", name);
        return -1;
    }
    s->n_ffn++;
    return 0;
}

/* ── blocks ──────────────────────────────────────────────────────────────── */

/* Mark the layers named by one selector: all, N, A-B, A-B/S, or A-<star>/S
 * (layers A, A+S, … up to the last one). */
static int select_layers(P *p, Node *n, const char *sel, bool *mask) {
    int L = p->s->n_layers;
    if (!strcmp(sel, "all")) { for (int i = 0; i < L; i++) mask[i] = true; return 0; }
    long a, b, step = 1;
    char *end;
    /* digits only (strtol would also take signs and spaces); values past the
     * layer count are range errors below, never overflows */
    if (!isdigit((unsigned char)*sel)) goto bad;
    errno = 0;
    a = strtol(sel, &end, 10);
    if (errno) goto range;
    b = a;
    if (*end == '-') {
        const char *q = end + 1;
        if (*q == '*') { b = L - 1; end = (char *)q + 1; }
        else {
            if (!isdigit((unsigned char)*q)) goto bad;
            b = strtol(q, &end, 10);
            if (errno) goto range;
        }
    }
    if (*end == '/') {
        const char *q = end + 1;
        if (!isdigit((unsigned char)*q)) goto bad;
        step = strtol(q, &end, 10);
        if (errno || step <= 0) goto bad;
        if (step > L) {
            diag_error(loc_of(p, n), "layers '%s': step %ld is larger than the number of layers (%d)", sel, step, L);
            return -1;
        }
    }
    if (*end) goto bad;
    if (a < 0 || a >= L || b < a || b >= L) goto range;
    for (long i = a; i <= b; i += step) {
        mask[i] = true;
        if (step > b - i) break;
    }
    return 0;
range:
    diag_error(loc_of(p, n), "layers '%s': out of range (the model has layers 0 … %d)", sel, L - 1);
    return -1;
bad:
    diag_error(loc_of(p, n), "layers '%s': expected all, N, A-B, A-*/S or A-B/S", sel);
    return -1;
}

static int find_variant(P *p, Node *n, const char *what, const char *name, int count, const char *(*name_of)(const ModelSpec *, int), int *out) {
    for (int i = 0; i < count; i++)
        if (!strcmp(name_of(p->s, i), name)) { *out = i; return 0; }
    const char *cands[SPEC_MAX_VARIANTS];
    for (int i = 0; i < count; i++) cands[i] = name_of(p->s, i);
    const char *near = diag_nearest(name, cands, count);
    diag_error(loc_of(p, n), "%s '%s' is not defined%s%s%s", what, name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return -1;
}

static const char *rope_name(const ModelSpec *s, int i) { return s->rope[i].name; }
static const char *attn_name(const ModelSpec *s, int i) { return s->attn[i].name; }
static const char *ffn_name(const ModelSpec *s, int i) { return s->ffn[i].name; }

static int parse_window(P *p, Node *n, const char *key, int *out) {
    if (is_null(n)) { *out = 0; return 0; }
    long v;
    if (to_long(p, n, key, 1, 1L << 30, &v)) return -1;
    *out = (int)v;
    return 0;
}

static int parse_block(P *p, Node *n) {
    static const char *const keys[] = {"layers", "norms", "attention", "ffn", "rope", "window", "chunk", NULL};
    static const char *const norms[] = {"pre", "post", "sandwich", NULL};
    if (expect_map(p, n, "blocks entry") || check_keys(p, n, "blocks entry", keys)) return -1;
    ModelSpec *s = p->s;
    bool mask[SPEC_MAX_LAYERS] = {0};
    Node *ln = get(p, n, "layers");
    if (!ln) { diag_error(loc_of(p, n), "blocks entry: missing required key 'layers'"); return -1; }
    if (ln->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = ln->data.sequence.items.start; it < ln->data.sequence.items.top; it++) {
            Node *e = nd(p, *it);
            if (!scalar(e)) { diag_error(loc_of(p, e), "layers: expected a layer selector, got %s", kind_name(e)); return -1; }
            if (select_layers(p, e, scalar(e), mask)) return -1;
        }
    } else if (scalar(ln)) {
        if (select_layers(p, ln, scalar(ln), mask)) return -1;
    } else {
        diag_error(loc_of(p, ln), "layers: expected a selector or a list of selectors");
        return -1;
    }
    int norm = -1, attn = -1, ffn = -1, rope = -2, window = -1, chunk = -1;
    if (get(p, n, "norms") && opt_enum(p, n, "norms", norms, &norm)) return -1;
    Node *v;
    if ((v = get(p, n, "attention"))) {
        if (!scalar(v)) { diag_error(loc_of(p, v), "key 'attention': expected a variant name"); return -1; }
        if (find_variant(p, v, "attention variant", scalar(v), s->n_attn, attn_name, &attn)) return -1;
    }
    if ((v = get(p, n, "ffn"))) {
        if (!scalar(v)) { diag_error(loc_of(p, v), "key 'ffn': expected a variant name"); return -1; }
        if (find_variant(p, v, "ffn variant", scalar(v), s->n_ffn, ffn_name, &ffn)) return -1;
    }
    if ((v = get(p, n, "rope"))) {
        if (!scalar(v)) { diag_error(loc_of(p, v), "key 'rope': expected a variant name or none"); return -1; }
        if (is_null(v)) rope = -1;
        else if (find_variant(p, v, "rope variant", scalar(v), s->n_rope, rope_name, &rope)) return -1;
    }
    if ((v = get(p, n, "window")) && parse_window(p, v, "window", &window)) return -1;
    if ((v = get(p, n, "chunk")) && parse_window(p, v, "chunk", &chunk)) return -1;
    for (int i = 0; i < s->n_layers; i++) {
        if (!mask[i]) continue;
        LayerSpec *l = &s->layer[i];
        if (norm >= 0) l->norms = (NormPlacement)norm;
        if (attn >= 0) l->attn = attn;
        if (ffn >= 0) l->ffn = ffn;
        if (rope != -2) l->rope = rope;
        if (window >= 0) l->window = window;
        if (chunk >= 0) l->chunk = chunk;
        l->loc = loc_of(p, n);
    }
    return 0;
}

/* ── small sections ──────────────────────────────────────────────────────── */

static int parse_weights(P *p, Node *n) {
    static const char *const keys[] = {"names", "format", "block", "prefix", "kept", "keep", "quantize_embeddings", "scale", NULL};
    static const char *const names[] = {"hf", "qwen1", NULL};
    static const char *const fmts[] = {"f32", "bf16", "f16", "fp8_e4m3", "mxfp4", "int8", "int4", "mxfp4_dense", NULL};
    static const WeightFormat fmt_of[] = {WFMT_F32, WFMT_BF16, WFMT_F16, WFMT_FP8_E4M3, WFMT_MXFP4, WFMT_I8, WFMT_I4, WFMT_MXFP4_DENSE};
    static const char *const kept[] = {"f32", "bf16", "f16", NULL};
    if (expect_map(p, n, "weights") || check_keys(p, n, "weights", keys)) return -1;
    WeightsSpec *w = &p->s->weights;
    w->loc = loc_of(p, n);
    int nm = 0, f = 1, k = 1;
    if (opt_enum(p, n, "names", names, &nm) || opt_enum(p, n, "format", fmts, &f) || opt_enum(p, n, "kept", kept, &k)) return -1;
    w->names = (NameScheme)nm;
    w->format = fmt_of[f];
    w->kept = (WeightFormat)k;  /* f32, bf16, f16 are the enum's first three */
    if (opt_bool(p, n, "quantize_embeddings", &w->quantize_embeddings)) return -1;
    static const char *const scales[] = {"f32", "f16", NULL};
    int sc = 0;
    if (opt_enum(p, n, "scale", scales, &sc)) return -1;
    w->scale_f16 = sc == 1;
    if (get(p, n, "scale") && w->format != WFMT_I8 && w->format != WFMT_I4) {
        diag_error(loc_of(p, get(p, n, "scale")), "key 'scale': only with format int8 or int4 (the dtype of their block scales)");
        return -1;
    }
    if (w->quantize_embeddings && w->format != WFMT_I8 && w->format != WFMT_I4 && w->format != WFMT_MXFP4_DENSE) {
        diag_error(loc_of(p, get(p, n, "quantize_embeddings")), "key 'quantize_embeddings': only with format int8, int4 or mxfp4_dense");
        return -1;
    }
    if (opt_str(p, n, "prefix", w->prefix, sizeof w->prefix)) return -1;
    /* the prefix becomes part of tensor names in the emitted C and the loader's
     * name patterns: the characters of Hugging Face tensor names only */
    for (const char *c = w->prefix; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._-/", *c)) {
            diag_error(loc_of(p, get(p, n, "prefix")), "key 'prefix': character '%c' (0x%02x): expected letters, digits, '.', '_', '-' or '/'",
                       isprint((unsigned char)*c) ? *c : '?', (unsigned char)*c);
            return -1;
        }
    Node *b = get(p, n, "block");
    if (b && !is_null(b)) {
        if (b->type != YAML_SEQUENCE_NODE || b->data.sequence.items.top - b->data.sequence.items.start != 2) {
            diag_error(loc_of(p, b), "key 'block': expected two integers [rows, cols]");
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            long v;
            if (to_long(p, nd(p, b->data.sequence.items.start[i]), "block", 1, 1 << 20, &v)) return -1;
            w->block[i] = (int)v;
        }
    }
    if (w->format == WFMT_FP8_E4M3 && !w->block[0]) { w->block[0] = w->block[1] = 128; }
    Node *kp = get(p, n, "keep");   /* archc quantize --keep patterns: [PATTERN, …] */
    if (kp && !is_null(kp)) {
        if (kp->type != YAML_SEQUENCE_NODE) { diag_error(loc_of(p, kp), "key 'keep': expected a list of tensor-name patterns"); return -1; }
        for (yaml_node_item_t *it = kp->data.sequence.items.start; it < kp->data.sequence.items.top; it++) {
            Node *e = nd(p, *it);
            const char *v = scalar(e);
            if (!v || !*v || strlen(v) >= sizeof w->keep[0]) { diag_error(loc_of(p, e), "key 'keep': expected a tensor-name pattern (1 … 127 characters)"); return -1; }
            if (w->n_keep >= (int)(sizeof w->keep / sizeof w->keep[0])) { diag_error(loc_of(p, e), "key 'keep': more than 16 patterns"); return -1; }
            for (const char *c = v; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("._-/*?[]", *c)) {
                    diag_error(loc_of(p, e), "key 'keep': character '%c' (0x%02x): expected letters, digits or . _ - / * ? [ ]",
                               isprint((unsigned char)*c) ? *c : '?', (unsigned char)*c);
                    return -1;
                }
            snprintf(w->keep[w->n_keep++], sizeof w->keep[0], "%s", v);
        }
    }
    return 0;
}

static int parse_top(P *p, Node *root) {
    static const char *const keys[] = {"name", "family", "vocab", "hidden", "layers", "max_context", "norm", "rope", "attention", "ffn",
                                       "blocks", "tie_embeddings", "embed_scale", "final_softcap", "mtp", "weights", "tokens", NULL};
    static const char *const families[] = {"llama", "mistral", "qwen2", "qwen3", "olmo2", "smollm3", "gemma3_text", "gpt_oss",
                                           "llama4_text", "qwen3_moe", "deepseek_v3", "deepseek_v2", "kimi_k2", "glm4_moe", "qwen",
                                           NULL};
    ModelSpec *s = p->s;
    if (expect_map(p, root, "the description") || check_keys(p, root, "top level", keys)) return -1;
    s->loc = loc_of(p, root);
    Node *v = get(p, root, "name");
    if (!v) { diag_error(loc_of(p, root), "top level: missing required key 'name'"); return -1; }
    if (opt_str(p, root, "name", s->name, sizeof s->name)) return -1;
    /* the name is printed by the binary and written into comments and strings of
     * the emitted C (escaped there too): printable text on one line */
    for (const unsigned char *c = (const unsigned char *)s->name; *c; c++)
        if (*c < 0x20 || *c == 0x7f) {
            diag_error(loc_of(p, v), "key 'name': control character 0x%02x: the name must be printable text on one line", *c);
            return -1;
        }
    if (!s->name[0]) { diag_error(loc_of(p, v), "key 'name': must not be empty"); return -1; }
    int fam = 0;
    if (!get(p, root, "family")) { diag_error(loc_of(p, root), "top level: missing required key 'family'"); return -1; }
    if (opt_enum(p, root, "family", families, &fam)) return -1;
    snprintf(s->family, sizeof s->family, "%s", families[fam]);
    if (req_int(p, root, "vocab", "top level", 1, 1 << 24, &s->vocab) || req_int(p, root, "hidden", "top level", 1, 1 << 20, &s->hidden) ||
        req_int(p, root, "layers", "top level", 1, SPEC_MAX_LAYERS, &s->n_layers) ||
        req_int(p, root, "max_context", "top level", 1, 1 << 24, &s->max_context))
        return -1;
    if (!(v = get(p, root, "norm"))) { diag_error(loc_of(p, root), "top level: missing required key 'norm'"); return -1; }
    if (parse_norm(p, v)) return -1;
    if ((v = get(p, root, "rope")) && !is_null(v) && parse_variants(p, v, "rope", parse_rope, &s->n_rope)) return -1;
    if (!(v = get(p, root, "attention"))) { diag_error(loc_of(p, root), "top level: missing required key 'attention'"); return -1; }
    if (parse_variants(p, v, "attention", parse_attn, &s->n_attn)) return -1;
    if (!(v = get(p, root, "ffn"))) { diag_error(loc_of(p, root), "top level: missing required key 'ffn'"); return -1; }
    if (parse_variants(p, v, "ffn", parse_ffn, &s->n_ffn)) return -1;
    /* defaults for every layer, then blocks override */
    for (int i = 0; i < s->n_layers; i++) {
        LayerSpec *l = &s->layer[i];
        memset(l, 0, sizeof *l);
        l->rope = s->n_rope > 0 ? 0 : -1;
        l->norms = NORMS_PRE;
        l->loc = s->loc;
    }
    if ((v = get(p, root, "blocks")) && !is_null(v)) {
        if (v->type != YAML_SEQUENCE_NODE) { diag_error(loc_of(p, v), "blocks: expected a list of entries"); return -1; }
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            if (parse_block(p, nd(p, *it))) return -1;
    }
    if (opt_bool(p, root, "tie_embeddings", &s->tie_embeddings)) return -1;
    if ((v = get(p, root, "embed_scale")) && scalar(v) && !strcmp(scalar(v), "sqrt_hidden")) s->embed_scale = sqrt((double)s->hidden);
    else if (opt_num(p, root, "embed_scale", 0, 1e9, &s->embed_scale, NULL)) return -1;
    if (opt_num(p, root, "final_softcap", 0, 1e9, &s->final_softcap, NULL)) return -1;
    if ((v = get(p, root, "mtp")) && !is_null(v)) {
        static const char *const mk[] = {"depth", NULL};
        if (expect_map(p, v, "mtp") || check_keys(p, v, "mtp", mk) || opt_int(p, v, "depth", 0, 16, &s->mtp_depth)) return -1;
        if (s->n_layers + s->mtp_depth > SPEC_MAX_LAYERS) { diag_error(loc_of(p, v), "mtp: too many layers"); return -1; }
        /* the MTP layers (checkpoint layers n_layers …) are decoder layers shaped like the last one */
        for (int k = 0; k < s->mtp_depth; k++) s->layer[s->n_layers + k] = s->layer[s->n_layers - 1];
    }
    s->weights.format = WFMT_BF16;
    if ((v = get(p, root, "weights")) && parse_weights(p, v)) return -1;
    s->bos_token = s->eos_token = -1;
    if ((v = get(p, root, "tokens")) && !is_null(v)) {
        static const char *const tk[] = {"bos", "eos", NULL};
        if (expect_map(p, v, "tokens") || check_keys(p, v, "tokens", tk) || opt_int(p, v, "bos", -1, s->vocab - 1, &s->bos_token) ||
            opt_int(p, v, "eos", -1, s->vocab - 1, &s->eos_token))
            return -1;
    }
    /* The compiler keeps one entry per routed-expert matrix: bound their number
     * (DeepSeek-V3 has 58 x 256 expert layers, Kimi K2 60 x 384) so that a
     * description cannot make archc use gigabytes or minutes. */
    long expert_layers = 0;
    for (int i = 0; i < s->n_layers + s->mtp_depth; i++)
        if (s->ffn[s->layer[i].ffn].moe) expert_layers += s->ffn[s->layer[i].ffn].experts;
    if (expert_layers > SPEC_MAX_EXPERT_LAYERS) {
        const FfnSpec *f = NULL;
        for (int i = 0; i < s->n_ffn && !f; i++) if (s->ffn[i].moe) f = &s->ffn[i];
        diag_error(f ? f->loc : s->loc, "%ld routed experts over all layers: more than archc's limit of %d", expert_layers,
                   SPEC_MAX_EXPERT_LAYERS);
        return -1;
    }
    /* cross-checks per layer */
    for (int i = 0; i < s->n_layers; i++) {
        LayerSpec *l = &s->layer[i];
        if (l->window && l->chunk) { diag_error(l->loc, "layer %d: both window and chunk set", i); return -1; }
        const AttnSpec *a = &s->attn[l->attn];
        if (l->rope >= 0) {
            int rot = s->rope[l->rope].dims ? s->rope[l->rope].dims : (a->kind == ATTN_MLA ? a->qk_rope_dim : a->head_dim);
            int hd = a->kind == ATTN_MLA ? a->qk_rope_dim : a->head_dim;
            if (rot > hd || rot % 2) {
                diag_error(s->rope[l->rope].loc, "rope '%s': %d rotary dims do not fit head dim %d of attention '%s' (layer %d)",
                           s->rope[l->rope].name, rot, hd, a->name, i);
                return -1;
            }
        }
    }
    return 0;
}

/* Limits on what a description may be: far above any real model's, low enough
 * that a hostile file cannot make archc hang or exhaust memory. */
enum {
    YAML_MAX_DEPTH = 32,          /* the schema nests 4 deep (ffn → variant → router → key)   */
    YAML_MAX_EVENTS = 1000000,    /* scalars + collections                                      */
    YAML_MAX_BYTES = 16 << 20,    /* real descriptions are a few KB                             */
};

/* A pass over the event stream before the document is loaded: one document,
 * nesting at most YAML_MAX_DEPTH, at most YAML_MAX_EVENTS nodes, and a syntax
 * error anywhere in the file (also after the first document) is reported. */
/* Where libyaml's error is: scanner/parser errors have a mark; reader errors
 * (invalid UTF-8, control characters) only a byte offset. */
static SrcLoc yaml_error_loc(const char *fname, const yaml_parser_t *yp, const char *text, size_t len) {
    SrcLoc l = {fname, (int)yp->problem_mark.line + 1, (int)yp->problem_mark.column + 1};
    if (yp->error == YAML_READER_ERROR) {
        size_t off = yp->problem_offset < len ? yp->problem_offset : len;
        l.line = 1;
        l.col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') { l.line++; l.col = 1; }
            else if (((unsigned char)text[i] & 0xc0) != 0x80) l.col++;
        }
    }
    return l;
}

static int prescan(const char *fname, const char *text, size_t len) {
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) { fprintf(stderr, "%s: error: cannot initialise the YAML parser\n", fname); return -1; }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int depth = 0, docs = 0, rc = 0;
    long events = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            SrcLoc l = yaml_error_loc(fname, &yp, text, len);
            diag_error(l, "YAML syntax: %s%s%s", yp.problem ? yp.problem : "malformed document", yp.context ? " " : "",
                       yp.context ? yp.context : "");
            rc = -1;
            break;
        }
        SrcLoc at = {fname, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1};
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            diag_error(at, "a second YAML document: a description is one document (remove the '---' and what follows)");
            rc = -1;
            break;
        }
        if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) && ++depth > YAML_MAX_DEPTH) {
            diag_error(at, "nested more than %d levels deep: not a model description", YAML_MAX_DEPTH);
            rc = -1;
            break;
        }
        if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
        if (++events > YAML_MAX_EVENTS) {
            diag_error(at, "more than %d YAML nodes: not a model description", YAML_MAX_EVENTS);
            rc = -1;
            break;
        }
    }
    yaml_parser_delete(&yp);
    return rc;
}

static int parse_text(const char *file, const char *text, size_t len, ModelSpec *out) {
    memset(out, 0, sizeof *out);
    char *fname = strdup(file);
    out->file = fname;
    diag_set_source(fname, text);
    if (memchr(text, 0, len)) {
        SrcLoc l = {fname, 1, 1};
        const char *z = memchr(text, 0, len);
        for (const char *c = text; c < z; c++) {
            if (*c == '\n') { l.line++; l.col = 1; } else l.col++;
        }
        diag_error(l, "a NUL byte: not a YAML text file");
        return -1;
    }
    if (prescan(fname, text, len)) return -1;
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) { fprintf(stderr, "%s: error: cannot initialise the YAML parser\n", file); return -1; }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    P p = {.file = fname, .s = out};
    if (!yaml_parser_load(&yp, &p.doc)) {
        SrcLoc l = yaml_error_loc(fname, &yp, text, len);
        diag_error(l, "YAML syntax: %s%s%s", yp.problem ? yp.problem : "malformed document", yp.context ? " " : "",
                   yp.context ? yp.context : "");
        yaml_parser_delete(&yp);
        return -1;
    }
    yaml_parser_delete(&yp);
    Node *root = yaml_document_get_root_node(&p.doc);
    int rc;
    if (!root) {
        SrcLoc l = {fname, 1, 1};
        diag_error(l, "the file is empty: expected a model description");
        rc = -1;
    } else rc = parse_top(&p, root);
    yaml_document_delete(&p.doc);
    return rc;
}

int spec_parse_string(const char *name, const char *text, ModelSpec *out) {
    return parse_text(name, text, strlen(text), out);
}

int spec_parse_buffer(const char *name, const char *text, size_t len, ModelSpec *out) {
    return parse_text(name, text, len, out);
}

int spec_parse_file(const char *path, ModelSpec *out) {
    char err[512];
    size_t n;
    char *text = rt_read_file(path, YAML_MAX_BYTES, &n, err, sizeof err); /* a regular file, bounded, FIFOs never block */
    if (!text) return diag_file_error(path, err);
    /* text stays alive for diagnostics quoting source lines */
    return parse_text(path, text, n, out);
}
