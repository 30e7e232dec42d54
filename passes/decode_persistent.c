/*
 * passes/decode_persistent.c — the decode step as one persistent kernel (CUDA).
 *
 * This pass only sets a flag for codegen to interpret: the graph is unchanged,
 * and the C backend ignores it.  The CUDA backend (codegen/emit_cuda.c) then
 * prints, next to the ordinary decode launches, an instruction list built from
 * the lowered program's decode steps — one instruction per kernel launch, with
 * the earlier instructions it depends on (from the steps' operands: what each
 * reads and writes) — and one persistent kernel that all SMs run through it
 * (runtime/cuda/archc_cuda.cuh, cu_persistent; docs/persistent.md).
 *
 * Off by default (--enable-pass=decode-persistent): it has not run on a GPU
 * yet; the CPU emulator checks its instruction list and results with a grid of
 * one block.  Models with MoE or MLA layers keep separate launches (a note
 * with -v).
 */
#include "passes.h"

int pass_decode_persistent(Graph *g) {
    g->decode_persistent = true;
    return 0;
}
