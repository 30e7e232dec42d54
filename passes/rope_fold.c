/*
 * passes/rope_fold.c — constant folding of RoPE tables.
 *
 * Every RoPE variant's inverse frequencies (default, linear, llama3, YaRN) and
 * the YaRN cos/sin multiplier depend only on the description, so they are
 * computed here, with the runtime's own rt_rope_inv_freq, and emitted as f32
 * literals.  Without this pass the generated code calls the same function at
 * load time.  Dynamic NTK (Qwen-1) depends on the prompt length and is never
 * folded.  The graph's nodes are unchanged; only Graph.rope[] is filled.
 */
#include "passes.h"
#include "archc_rt.h"

int pass_rope_fold(Graph *g) {
    for (int r = 0; r < g->n_rope; r++) {
        RopeTable *t = &g->rope[r];
        if (t->kind == ROPE_DYNAMIC_NTK || t->dims <= 0 || t->dims / 2 > 512) continue;
        RtRopeParams p = t->params;
        p.dims = t->dims;
        rt_rope_inv_freq(&p, t->inv_freq, &t->mscale);
        t->folded = true;
    }
    return 0;
}
