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

/* codegen/emit_cuda.c: the text of a step's operand in the .cu (host side). */
const char *cuda_arg_text(const Emitter *e, Arg a);

/* codegen/emit_cuda_persistent.c: the decode-persistent pass.  While kernels are
 * printed, each __global__ kernel is registered as an op with the launches its
 * program kernel's launcher makes in decode; then the persistent kernel, its
 * state, the instruction list (in model_init) and its launch (in decode_step). */
void cuda_ops_reset(int n_kernels);
void cuda_op_register(int kernel, const char *launcher_params, const char *name, const char *kparams, const char *body, const char *grid,
                      const char *args);
void cuda_emit_persistent_kernel(Emitter *e);
void cuda_emit_persistent_state(Emitter *e);
void cuda_emit_persistent_init(Emitter *e);
void cuda_emit_persistent_launch(Emitter *e);
int cuda_persistent_enabled(void);

#endif
