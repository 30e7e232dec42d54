/*
 * passes/passes.h — graph rewrites, one file per pass, one entry point each.
 *
 * The pipeline (passes/pipeline.c) runs them in this order; every one can be
 * switched off with --disable-pass=NAME, and the verifier runs after each.
 *
 *   rope-fold      constant-fold RoPE inverse frequencies (and the YaRN factor)
 *   qknorm-fuse    q/k norm + RoPE + KV-cache write → one node per layer
 *   epilogue-fuse  bias, residual add and GLU into the producing matmul
 *   swa-tile       sliding-window layers get a ring-buffer KV cache
 *   expert-group   MoE: tokens grouped per selected expert (matrix-matrix)
 *   mla-absorb     MLA decode: W_uk folded into the query, attention over the latent cache
 *   memplan        one activation arena; offsets from liveness (in-place reuse)
 *   decode-persistent  (off unless --enable-pass) the CUDA backend's decode step as one
 *                  persistent kernel over an instruction list (docs/persistent.md)
 */
#ifndef ARCHC_PASSES_H
#define ARCHC_PASSES_H

#include "ir.h"

typedef struct PassOptions {
    const char *disabled[16];
    int n_disabled;
    const char *enabled[16];   /* passes that are off by default, switched on */
    int n_enabled;
    int verbose;         /* print a line per pass to stderr */
} PassOptions;

typedef struct PassInfo {
    const char *name;
    const char *what;
    int (*run)(Graph *g);  /* 0 ok */
    bool off_by_default;   /* runs only with --enable-pass=NAME (not validated on hardware yet) */
} PassInfo;

extern const PassInfo pass_table[];
extern const int pass_count;

int pass_rope_fold(Graph *g);
int pass_qknorm_fuse(Graph *g);
int pass_epilogue_fuse(Graph *g);
int pass_swa_tile(Graph *g);
int pass_expert_group(Graph *g);
int pass_mla_absorb(Graph *g);
int pass_memplan(Graph *g);
int pass_decode_persistent(Graph *g);

/* Run the pipeline (skipping disabled passes), verifying after each pass.
 * Unknown names in opts->disabled are an error (listed with the known ones). */
int passes_run(Graph *g, const PassOptions *opts);
int pass_known(const char *name);

#endif
