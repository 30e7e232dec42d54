/*
 * passes/expert_group.c — run each selected expert once over all its tokens.
 *
 * A `moe` node routes every token to top_k experts.  Without this pass the
 * emitted kernel runs each (token, expert) pair as its own GEMV chain; with it,
 * the tokens routed to an expert are gathered and the expert's gate|up (computed
 * together, with the SwiGLU in the epilogue) and down projections run once as
 * matrix-matrix products over them, then the weighted results are scattered
 * back.  In decode (one token) both read only the selected experts' weights.
 * Summation over experts stays in expert-index order, so results are
 * bit-identical with the pass on and off.
 */
#include "passes.h"

int pass_expert_group(Graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_MOE) g->nodes[i].grouped = true;
    return 0;
}
