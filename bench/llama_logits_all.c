/*
 * bench/llama_logits_all.c — the logits of every prompt position of a GGUF
 * through llama.cpp's public C API (llama.h), for bench/quant_quality.sh
 * (bench/llama_logits.c, extended: all positions, f32 KV cache).
 *
 *   llama_logits_all MODEL.gguf OUT.f32 ID,ID,... [THREADS]
 *
 * Writes [T][n_vocab] float32 values (raw), one prefill of the T tokens at
 * positions 0..T-1 in one batch.  The KV cache is f32 and flash attention is
 * off, so that the quantised weights (and llama.cpp's q8 activations) are the
 * only approximation, as in archc, whose KV cache is f32.  Built by
 * quant_quality.sh against a llama.cpp build; contains nothing of llama.cpp
 * but calls to its API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) { fprintf(stderr, "usage: llama_logits_all MODEL.gguf OUT.f32 ID,ID,... [THREADS]\n"); return 2; }
    enum { MAXT = 8192 };
    static llama_token toks[MAXT];
    int n = 0;
    for (char *p = argv[3]; *p && n < MAXT;) {
        toks[n++] = (llama_token)strtol(p, &p, 10);
        if (*p == ',') p++;
    }
    if (n == 0) { fprintf(stderr, "llama_logits_all: no token ids\n"); return 2; }
    int threads = argc == 5 ? atoi(argv[4]) : 1;
    if (threads < 1) threads = 1;
    llama_backend_init();
    struct llama_model *m = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!m) { fprintf(stderr, "llama_logits_all: cannot load %s\n", argv[1]); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (unsigned)(n < 64 ? 64 : n);
    cp.n_batch = cp.n_ubatch = cp.n_ctx;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c) { fprintf(stderr, "llama_logits_all: cannot make a context\n"); return 1; }
    struct llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = toks[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    b.n_tokens = n;
    if (llama_decode(c, b) != 0) { fprintf(stderr, "llama_logits_all: decode failed\n"); return 1; }
    int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
    FILE *f = fopen(argv[2], "wb");
    if (!f) { fprintf(stderr, "llama_logits_all: cannot write %s\n", argv[2]); return 1; }
    for (int i = 0; i < n; i++) {
        const float *l = llama_get_logits_ith(c, i);
        if (!l || fwrite(l, sizeof(float), (size_t)V, f) != (size_t)V) { fprintf(stderr, "llama_logits_all: cannot write %s\n", argv[2]); return 1; }
    }
    if (fclose(f) != 0) { fprintf(stderr, "llama_logits_all: cannot write %s\n", argv[2]); return 1; }
    llama_batch_free(b);
    llama_free(c);
    llama_model_free(m);
    return 0;
}
