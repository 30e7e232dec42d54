/*
 * passes/qknorm_fuse.c — fuse q/k normalisation, RoPE and the KV-cache write.
 *
 * Before (one attention layer; the norms exist for Qwen3 / OLMo 2 / Gemma 3,
 * the ropes on every RoPE layer):
 *
 *   %q1 = rmsnorm(%q)  [qk_norm]     %k1 = rmsnorm(%k)  [qk_norm]
 *   %q2 = rope(%q1)                  %k2 = rope(%k1)
 *         kv_store(%k2, %v)
 *   %a  = attention(%q2)
 *
 * After:
 *
 *   %q2 = qk_norm_rope_store(%q, %k, %v)   q normed + rotated into %q2; k normed +
 *                                           rotated and v written straight into the cache
 *   %a  = attention(%q2)
 *
 * so k never round-trips through an activation buffer and each head is read
 * once.  The fused node takes the place of kv_store, after which the matched
 * nodes are dead.  Layers whose chain does not match (e.g. Llama 4's L2 norm
 * after RoPE) are left alone.
 */
#include <string.h>
#include "passes.h"

/* If value v is produced by a live node of kind op (and, for rmsnorm, tagged as
 * a q/k norm), return that node's index, else -1. */
static int producer_if(const Graph *g, int v, Op op) {
    int p = g->vals[v].producer;
    if (p < 0 || g->nodes[p].dead || g->nodes[p].op != op) return -1;
    if (op == OP_RMSNORM && g->nodes[p].qk_norm == QKNORM_NONE) return -1;
    return p;
}

static int count_uses(const Graph *g, int v) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < 3; k++) if (g->nodes[i].in[k] == v) n++;
    }
    return n;
}

int pass_qknorm_fuse(Graph *g) {
    for (int si = 0; si < g->n_nodes; si++) {
        Node *st = &g->nodes[si];
        if (st->dead || st->op != OP_KV_STORE) continue;
        /* the attention reading this cache */
        int ai = -1;
        for (int i = si + 1; i < g->n_nodes; i++)
            if (!g->nodes[i].dead && g->nodes[i].op == OP_ATTENTION && g->nodes[i].cache == st->cache) { ai = i; break; }
        if (ai < 0) continue;
        int qv = g->nodes[ai].in[0], kv = st->in[0], vv = st->in[1];
        /* walk back k: [rope] <- [qk rmsnorm] <- raw projection */
        int rk = producer_if(g, kv, OP_ROPE), rq = producer_if(g, qv, OP_ROPE);
        if ((rk < 0) != (rq < 0)) continue;
        int k_in = rk >= 0 ? g->nodes[rk].in[0] : kv;
        int q_in = rq >= 0 ? g->nodes[rq].in[0] : qv;
        int nk = producer_if(g, k_in, OP_RMSNORM), nq = producer_if(g, q_in, OP_RMSNORM);
        if ((nk < 0) != (nq < 0)) continue;
        if (rk < 0 && nk < 0) continue;  /* nothing to fuse */
        /* the intermediate values must have no other readers */
        if (rk >= 0 && (count_uses(g, kv) != 1 || count_uses(g, qv) != 1)) continue;
        if (nk >= 0 && (count_uses(g, k_in) != 1 || count_uses(g, q_in) != 1)) continue;
        int q_raw = nq >= 0 ? g->nodes[nq].in[0] : q_in;
        int k_raw = nk >= 0 ? g->nodes[nk].in[0] : k_in;

        Node f = *st;
        f.op = OP_QK_ROPE_STORE;
        f.in[0] = q_raw;
        f.in[1] = k_raw;
        f.in[2] = vv;
        f.heads = g->nodes[ai].heads;
        f.kv_heads = st->kv_heads;
        f.head_dim = st->head_dim;
        f.rope = rq >= 0 ? g->nodes[rq].rope : -1;
        f.rot_dims = rq >= 0 ? g->nodes[rq].rot_dims : 0;
        f.qk_norm = nq >= 0 ? g->nodes[nq].qk_norm : QKNORM_NONE;
        f.w[0] = nq >= 0 ? g->nodes[nq].w[0] : -1;
        f.w[1] = nk >= 0 ? g->nodes[nk].w[0] : -1;
        f.eps = nq >= 0 ? g->nodes[nq].eps : 0;
        f.norm_kind = nq >= 0 ? g->nodes[nq].norm_kind : NORM_RMS;
        f.out = qv;  /* the attention keeps reading the same value id */
        snprintf(f.note, sizeof f.note, "%s%srope + kv cache write", nq >= 0 ? "q/k norm + " : "", "");
        if (rq < 0) snprintf(f.note, sizeof f.note, "q/k norm + kv cache write (NoPE)");
        *st = f;
        if (rq >= 0) { g->nodes[rq].dead = true; g->nodes[rk].dead = true; }
        if (nq >= 0) { g->nodes[nq].dead = true; g->nodes[nk].dead = true; }
        g->vals[qv].producer = si;
    }
    return 0;
}
