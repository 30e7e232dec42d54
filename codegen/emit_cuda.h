/*
 * codegen/emit_cuda.h — the parts of the CUDA printer that live in files of
 * their own (codegen/emit_cuda.c prints the rest of the .cu).
 */
#ifndef ARCHC_EMIT_CUDA_H
#define ARCHC_EMIT_CUDA_H

#include "emit_common.h"

/* codegen/emit_cuda_mla.c: multi-head latent attention (DeepSeek MLA).
 * cuda_mla_check: 0 when MLA node n can be printed, else -1 with a message. */
int cuda_mla_check(const Graph *g, const Node *n);
void cuda_emit_mla_store(Emitter *e, const Kernel *k);
void cuda_emit_mla_attention(Emitter *e, const Kernel *k);

#endif
