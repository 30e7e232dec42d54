/*
 * tests/fuzz/fuzz_yaml.c — libFuzzer harness for the YAML frontend and what
 * follows it: a description that parses is lowered, run through every pass and
 * emitted as C (to /dev/null).  Any crash, hang, sanitizer report or leak is a
 * finding; an error message is the expected outcome for most inputs.
 *
 * Descriptions larger than 64 KB are skipped (real ones are a few KB); models
 * with more than 512 layer-experts are only parsed, and C is emitted for those
 * up to 64 (the time per input stays small: the examples in the seed corpus
 * cover the big shapes through the ctest suite).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "ir.h"
#include "passes.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    static ModelSpec spec;
    if (spec_parse_buffer("fuzz.yaml", text, size, &spec) == 0) {
        Graph g;
        /* keep each run short: the compiler is linear in layers and experts */
        long experts = 0;
        for (int i = 0; i < spec.n_ffn; i++) experts += spec.ffn[i].moe ? spec.ffn[i].experts : 0;
        long size_class = spec.n_layers * (1 + experts);
        if (size_class <= 512) {
            /* lower_model leaves a graph that graph_free takes, also when it fails */
            if (lower_model(&spec, &g) != 0) {
                graph_free(&g);
                goto done;
            }
            PassOptions opts = {0};
            /* emitting C costs ~10x the rest: done for one valid input in 8 (chosen by a
             * hash of the input, so the same input always takes the same path) */
            uint32_t h = 2166136261u;
            for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
            if (passes_run(&g, &opts) == 0 && size_class <= 64 && h % 8 == 0 && backend_c.check(&g) == 0) backend_c.emit(&g, devnull);
            graph_free(&g);
        }
    }
done:
    free((char *)spec.file);
    spec.file = NULL;
    free(text);
    return 0;
}
