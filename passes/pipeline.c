/*
 * passes/pipeline.c — the pass table, in pipeline order, and the driver loop.
 */
#include <stdio.h>
#include <string.h>
#include "passes.h"

const PassInfo pass_table[] = {
    {"rope-fold",     "constant-fold RoPE inverse frequencies and YaRN factors", pass_rope_fold, false},
    {"qknorm-fuse",   "fuse q/k norm, RoPE and the KV-cache write",             pass_qknorm_fuse, false},
    {"epilogue-fuse", "fuse bias, residual add and GLU into matmul epilogues",   pass_epilogue_fuse, false},
    {"swa-tile",      "ring-buffer KV caches of window size for sliding layers",   pass_swa_tile, false},
    {"expert-group",  "MoE: group tokens by selected expert, gate|up together",   pass_expert_group, false},
    {"mla-absorb",    "MLA decode: absorb W_uk into q, attend over the latent cache", pass_mla_absorb, false},
    {"memplan",       "static activation memory plan from liveness",             pass_memplan, false},
    {"decode-persistent", "CUDA decode: one persistent kernel over an instruction list (off; --enable-pass)",
     pass_decode_persistent, true},
};
const int pass_count = (int)(sizeof pass_table / sizeof pass_table[0]);

int pass_known(const char *name) {
    for (int i = 0; i < pass_count; i++)
        if (!strcmp(pass_table[i].name, name)) return 1;
    return 0;
}

int passes_run(Graph *g, const PassOptions *opts) {
    for (int d = 0; d < opts->n_disabled; d++) {
        if (!pass_known(opts->disabled[d])) {
            fprintf(stderr, "archc: error: --disable-pass=%s: unknown pass (known:", opts->disabled[d]);
            for (int i = 0; i < pass_count; i++) fprintf(stderr, " %s", pass_table[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
    }
    for (int e = 0; e < opts->n_enabled; e++) {
        if (!pass_known(opts->enabled[e])) {
            fprintf(stderr, "archc: error: --enable-pass=%s: unknown pass (known:", opts->enabled[e]);
            for (int i = 0; i < pass_count; i++) fprintf(stderr, " %s", pass_table[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
    }
    for (int i = 0; i < pass_count; i++) {
        int off = pass_table[i].off_by_default;
        for (int e = 0; e < opts->n_enabled; e++)
            if (!strcmp(opts->enabled[e], pass_table[i].name)) off = 0;
        for (int d = 0; d < opts->n_disabled; d++)
            if (!strcmp(opts->disabled[d], pass_table[i].name)) off = 1;
        if (off) {
            if (opts->verbose) fprintf(stderr, "archc: pass %s: disabled\n", pass_table[i].name);
            continue;
        }
        if (pass_table[i].run(g) != 0) return -1;
        graph_compact(g);
        if (graph_verify(g, pass_table[i].name) != 0) return -1;
        if (g->n_passes_run < 16) g->passes_run[g->n_passes_run++] = pass_table[i].name;
        if (opts->verbose) fprintf(stderr, "archc: pass %s: %d nodes\n", pass_table[i].name, g->n_nodes);
    }
    return 0;
}
