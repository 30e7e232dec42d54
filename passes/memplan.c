/*
 * passes/memplan.c — static memory planning of activations.
 *
 * Every activation value is a [T, width] f32 block with T <= Graph.tmax, so a
 * value needs width·tmax floats.  Without this pass each value gets its own
 * region (the arena is the sum of all of them).  With it, values are placed in
 * one arena by a linear scan over the topologically ordered nodes:
 *
 *   - a value's region is freed after its last reader (liveness);
 *   - a new value takes the first free gap large enough (first fit), so the
 *     regions of earlier layers are reused by later ones;
 *   - elementwise updates run in place: the output of add / bias / glu and of a
 *     residual linear takes the buffer of the input it updates when that input
 *     dies at this node (the residual stream x stays in one buffer throughout).
 *
 * Offsets are in floats and already multiplied by tmax (Value.offset);
 * Graph.arena_floats is the total.  The emitted code names each distinct
 * (role, offset) pair once, so readers see `x`, `h`, `q` … rather than numbers.
 */
#include <stdlib.h>
#include "passes.h"

/* A used region of the arena: its offset and the value that owns it (its size
 * is that value's width · tmax). Kept sorted by offset. */
typedef struct Block { int64_t off; int owner; } Block;

static int in_place_input(const Graph *g, const Node *n, int idx) {
    /* Which input (value id) may the output of node idx overwrite? -1: none. */
    int cand = -1;
    switch (n->op) {
    case OP_ADD: case OP_BIAS: case OP_GLU: cand = n->in[0]; break;
    case OP_LINEAR: if (n->residual) cand = n->in[1]; break;
    default: break;
    }
    if (cand < 0 || g->vals[cand].is_int) return -1;
    if (g->vals[cand].last_use != idx) return -1;
    if (g->vals[cand].width != g->vals[n->out].width) return -1;
    return cand;
}

int pass_memplan(Graph *g) {
    graph_liveness(g);
    int64_t tmax = g->tmax;
    Block *used = calloc((size_t)g->n_vals + 1, sizeof(Block));
    int n_used = 0;
    int64_t top = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if (n->out >= 0 && !g->vals[n->out].is_int && n->op != OP_LOGITS) {
            Value *v = &g->vals[n->out];
            int64_t size = (int64_t)v->width * tmax;
            int src = in_place_input(g, n, i);
            if (src >= 0) {
                v->offset = g->vals[src].offset;
                /* the input's block now belongs to the output */
                for (int b = 0; b < n_used; b++)
                    if (used[b].off == v->offset) used[b].owner = n->out;
            } else {
                /* first fit among gaps between used blocks (kept sorted by offset) */
                int64_t at = 0;
                int pos = 0;
                for (; pos < n_used; pos++) {
                    if (used[pos].off - at >= size) break;
                    int64_t end = used[pos].off + (int64_t)g->vals[used[pos].owner].width * tmax;
                    if (end > at) at = end;
                }
                v->offset = at;
                for (int b = n_used; b > pos; b--) used[b] = used[b - 1];
                used[pos].off = at;
                used[pos].owner = n->out;
                n_used++;
                if (at + size > top) top = at + size;
            }
        }
        /* free the blocks of values whose last reader is this node, and of
         * outputs nobody reads */
        for (int b = 0; b < n_used; b++) {
            int vid = used[b].owner;
            const Value *v = &g->vals[vid];
            if (v->last_use == i || (v->last_use < 0 && v->producer == i)) {
                for (int c = b; c < n_used - 1; c++) used[c] = used[c + 1];
                n_used--;
                b--;
            }
        }
    }
    free(used);
    g->arena_floats = top;
    g->memplanned = true;
    return 0;
}
