/*
 * bench/llama_logits.c — last-position logits of a GGUF through llama.cpp's
 * public C API (llama.h), for bench/vs_llamacpp.sh's check that the GGUF
 * written by gguf_from_hf.py is the same model archc runs.
 *
 *   llama_logits MODEL.gguf OUT.f32 ID,ID,...
 *
 * Writes n_vocab float32 values (raw) for the last token of one prefill at
 * position 0, one thread.  Built by vs_llamacpp.sh against a llama.cpp build;
 * contains nothing of llama.cpp but calls to its API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: llama_logits MODEL.gguf OUT.f32 ID,ID,...\n"); return 2; }
    llama_token toks[4096];
    int n = 0;
    for (char *p = argv[3]; *p && n < 4096;) {
        toks[n++] = (llama_token)strtol(p, &p, 10);
        if (*p == ',') p++;
    }
    if (n == 0) { fprintf(stderr, "llama_logits: no token ids\n"); return 2; }
    llama_backend_init();
    struct llama_model *m = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!m) { fprintf(stderr, "llama_logits: cannot load %s\n", argv[1]); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (unsigned)(n < 64 ? 64 : n);
    cp.n_batch = cp.n_ctx;
    cp.n_threads = cp.n_threads_batch = 1;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c || llama_decode(c, llama_batch_get_one(toks, n)) != 0) { fprintf(stderr, "llama_logits: decode failed\n"); return 1; }
    int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
    const float *l = llama_get_logits_ith(c, -1);
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(l, sizeof(float), (size_t)V, f) != (size_t)V || fclose(f) != 0) { fprintf(stderr, "llama_logits: cannot write %s\n", argv[2]); return 1; }
    llama_free(c);
    llama_model_free(m);
    return 0;
}
