/*
 * passes/swa_tile.c — window-sized KV caches for sliding-window and chunked layers.
 *
 * A sliding layer with window W only ever reads the W most recent keys, so its
 * cache need not hold the whole context.  This pass gives every such cache
 * W + tmax − 1 rows used as a ring (position p lives in row p mod rows) and
 * tells the cache writers and the attention node about it (Node.ring).
 *
 * Why tmax − 1 extra rows: a prefill chunk of T ≤ tmax tokens writes all its
 * keys before attending, and its first query still needs the W − 1 keys before
 * it; with fewer rows the chunk's own keys would overwrite them.  Decode (T = 1)
 * needs exactly W.  Attention loops were already bounded by the window; only
 * the storage changes.  Full-attention layers keep max_context rows.
 *
 * Chunked layers (Llama 4: a query sees only the keys of its own C-token chunk,
 * up to itself) read at most C keys back, so they get C + tmax − 1 rows alike.
 *
 * Graph change: none in structure; Graph.cache_rows[] and Node.ring are set.
 */
#include "passes.h"

int pass_swa_tile(Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *a = &g->nodes[i];
        if (a->op != OP_ATTENTION || (a->window <= 0 && a->chunk <= 0)) continue;
        /* a query sees at most `window` keys, or at most `chunk` keys (those of its own chunk) */
        int span = a->window > 0 ? a->window : a->chunk;
        if (a->window > 0 && a->chunk > 0 && a->chunk < span) span = a->chunk;
        int rows = span + g->tmax - 1;
        if (rows >= g->model.max_context) continue;  /* nothing to save */
        g->cache_rows[a->cache] = rows;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if ((n->op == OP_ATTENTION || n->op == OP_KV_STORE || n->op == OP_QK_ROPE_STORE) && n->cache >= 0)
            n->ring = g->cache_rows[n->cache];
    }
    return 0;
}
