/*
 * passes/mla_absorb.c — DeepSeek multi-head latent attention: absorb the key
 * up-projection into the query for decode.
 *
 * The cache of an `mla_attention` node holds, per token, only the normalised
 * latent c (kv_lora_rank = r values) and the rotated k_pe (dr values).  Without
 * this pass every attention call rebuilds K_nope and V for all cached tokens
 * from the latent (S·heads·(dn+dv)·r MACs for S cached tokens) and then runs
 * ordinary attention.  With it, decode computes q̃_h = W_ukᵀ q_nope_h, attends
 * over the latent cache directly (heads·S·(2r+dr) MACs, reading (r+dr)·S
 * values), and applies W_uv to the attended latent once.  The cost model is the
 * one in docs/ir.md: for one query absorbed wins as soon as S ≥ 2, so decode
 * always takes it; prefill keeps the materialised form, because its T²/2 query-
 * key pairs cost (dn+dr+dv) each there against (2r+dr) absorbed.
 *
 * Both forms write the same cache and compute the same function up to the
 * order of f32 summation (tested with the pass on and off against transformers).
 */
#include "passes.h"

int pass_mla_absorb(Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if (n->op != OP_MLA_ATTENTION) continue;
        /* one decode query over S cached tokens, in MACs */
        long long S = 2, r = n->latent, dn = n->nope_dim, dr = n->rot_dims, dv = n->v_dim, h = n->heads;
        long long absorbed = h * (dn * r + S * (2 * r + dr) + dv * r);
        long long materialised = S * h * (dn + dv) * r + h * S * (dn + dr + dv);
        n->absorbed = absorbed <= materialised;
    }
    return 0;
}
