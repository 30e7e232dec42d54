/*
 * codegen/emit_cuda_mla.c — the CUDA printer's MLA kernels.  (Not written yet:
 * MLA models are refused.)
 */
#include "emit_cuda.h"

int cuda_mla_check(const Graph *g, const Node *n) {
    (void)n;
    fprintf(stderr, "%s: error: not yet supported by the CUDA backend: multi-head latent attention (issue 10); emit C with -o FILE.c\n",
            g->model.file);
    return -1;
}
void cuda_emit_mla_store(Emitter *e, const Kernel *k) { (void)e; (void)k; }
void cuda_emit_mla_attention(Emitter *e, const Kernel *k) { (void)e; (void)k; }
