/*
 * frontend/driver.c — the archc command line.
 *
 *   archc MODEL.yaml -o OUT.c           emit C
 *   archc MODEL.yaml -o OUT.cu          emit CUDA (not written yet: clear error)
 *   archc MODEL.yaml -o OUT             emit C and build the executable ($CC)
 *   archc --emit=ir MODEL.yaml [-o F]   print the graph after passes
 *   archc import HF_DIR|config.json -o MODEL.yaml
 *   archc init-weights MODEL.yaml -o DIR --dtype f32|bf16|f16 --seed S
 *   archc quantize HF_DIR -o OUT_DIR --format int8|int4|fp8|mxfp4   (frontend/quantize.c)
 *   --disable-pass=NAME (repeatable), --list-passes, -v, --help, --version
 *
 * The pipeline is the straight line of DESIGN.md: parse → lower → passes →
 * backend.  Outputs are written to a fresh temporary file next to them and
 * renamed on success (frontend/outfile.c), so a failed compilation never leaves
 * a half-written file behind; an output that is the input is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen.h"
#include "outfile.h"
#include "ir.h"
#include "passes.h"
#include "safetensors.h"
#include "spec.h"

#ifndef ARCHC_VERSION
#define ARCHC_VERSION "0.0"
#endif

int init_weights(const ModelSpec *s, const Graph *g, const char *dir, WeightFormat fmt, unsigned long long seed);
int cmd_quantize(int argc, char **argv);  /* frontend/quantize.c */

static void usage(FILE *f) {
    fprintf(f,
            "usage: archc MODEL.yaml -o OUT.c|OUT.cu|OUT   compile (OUT without suffix: build an executable)\n"
            "       archc --emit=ir MODEL.yaml [-o FILE]    print the graph IR after passes\n"
            "       archc import HF_DIR|config.json -o MODEL.yaml\n"
            "       archc init-weights MODEL.yaml -o DIR [--dtype f32|bf16|f16] [--seed S]\n"
            "       archc quantize HF_DIR -o OUT_DIR --format int8|int4|fp8|mxfp4 [--keep PATTERN]... [--quantize-embeddings]\n"
            "options:\n"
            "  --disable-pass=NAME   skip a pass (repeatable); --list-passes shows them\n"
            "  --weights-format=F    compile for a checkpoint stored as f32, bf16 or f16\n"
            "  --prefill-chunk=N     tokens per prefill chunk (default 128): activation memory vs matmul tile reuse\n"
            "  -v                    say what each pass did\n"
            "  --help, --version\n"
            "environment: CC (compiler for executables), ARCHC_CFLAGS (extra flags)\n");
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int cmd_import(int argc, char **argv) {
    const char *in = NULL, *outp = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outp = argv[++i];
        else if (argv[i][0] == '-') { fprintf(stderr, "archc import: unknown option '%s'\n", argv[i]); return 2; }
        else if (!in) in = argv[i];
        else { fprintf(stderr, "archc import: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!in || !outp) { fprintf(stderr, "usage: archc import HF_DIR|config.json -o MODEL.yaml\n"); return 2; }
    return spec_import_hf(in, outp) == 0 ? 0 : 1;
}

static int cmd_init_weights(int argc, char **argv) {
    const char *in = NULL, *dir = NULL, *dtype = "f32";
    unsigned long long seed = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 10);
            if (*end) { fprintf(stderr, "archc init-weights: --seed: expected a non-negative integer, got '%s'\n", argv[i]); return 2; }
        } else if (argv[i][0] == '-') { fprintf(stderr, "archc init-weights: unknown option '%s'\n", argv[i]); return 2; }
        else if (!in) in = argv[i];
        else { fprintf(stderr, "archc init-weights: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!in || !dir) { fprintf(stderr, "usage: archc init-weights MODEL.yaml -o DIR [--dtype f32|bf16|f16] [--seed S]\n"); return 2; }
    WeightFormat fmt;
    if (!strcmp(dtype, "f32")) fmt = WFMT_F32;
    else if (!strcmp(dtype, "bf16")) fmt = WFMT_BF16;
    else if (!strcmp(dtype, "f16")) fmt = WFMT_F16;
    else { fprintf(stderr, "archc init-weights: --dtype: expected f32, bf16 or f16, got '%s'\n", dtype); return 2; }
    static ModelSpec spec;
    Graph g;
    if (spec_parse_file(in, &spec) != 0) return 1;
    spec.weights.format = fmt;
    if (lower_model(&spec, &g) != 0) { graph_free(&g); return 1; }
    int rc = init_weights(&spec, &g, dir, fmt, seed);
    graph_free(&g);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    /* import reads checkpoint headers and quantize streams tensors: map the
     * files, never read them whole into memory (runtime/safetensors.h) */
    st_load_mode = ST_LOAD_LAZY;
    if (argc >= 2 && !strcmp(argv[1], "import")) return cmd_import(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "init-weights")) return cmd_init_weights(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "quantize")) return cmd_quantize(argc, argv);

    const char *in = NULL, *outp = NULL, *emit = NULL, *wfmt = NULL;
    long chunk = 0;
    PassOptions opts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--version")) { printf("archc %s\n", ARCHC_VERSION); return 0; }
        else if (!strcmp(a, "--list-passes")) {
            for (int p = 0; p < pass_count; p++) printf("%-14s %s\n", pass_table[p].name, pass_table[p].what);
            return 0;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) { fprintf(stderr, "archc: error: -o needs a file name\n"); return 2; }
            outp = argv[++i];
        } else if (!strncmp(a, "--emit=", 7)) emit = a + 7;
        else if (!strncmp(a, "--weights-format=", 17)) wfmt = a + 17;
        else if (!strncmp(a, "--prefill-chunk=", 16)) {
            char *end;
            chunk = strtol(a + 16, &end, 10);
            if (*end || chunk < 1 || chunk > 4096) {
                fprintf(stderr, "archc: error: --prefill-chunk=%s: expected an integer in 1 … 4096\n", a + 16);
                return 2;
            }
        }
        else if (!strncmp(a, "--disable-pass=", 15)) {
            if (opts.n_disabled >= 16) { fprintf(stderr, "archc: error: too many --disable-pass options\n"); return 2; }
            opts.disabled[opts.n_disabled++] = a + 15;
        } else if (!strcmp(a, "-v")) opts.verbose = 1;
        else if (a[0] == '-') { fprintf(stderr, "archc: error: unknown option '%s' (see archc --help)\n", a); return 2; }
        else if (!in) in = a;
        else { fprintf(stderr, "archc: error: unexpected argument '%s' (one model description at a time)\n", a); return 2; }
    }
    if (!in) { usage(stderr); return 2; }
    if (emit && strcmp(emit, "ir") && strcmp(emit, "c")) {
        fprintf(stderr, "archc: error: --emit=%s: expected ir or c\n", emit);
        return 2;
    }
    int want_ir = emit && !strcmp(emit, "ir");
    if (!want_ir && !outp) { fprintf(stderr, "archc: error: no output: give -o OUT.c, -o OUT.cu or -o EXECUTABLE\n"); return 2; }

    static ModelSpec spec;
    Graph g;
    if (spec_parse_file(in, &spec) != 0) return 1;
    if (wfmt) {
        /* compile the same description for a checkpoint stored in another format */
        if (!strcmp(wfmt, "f32")) spec.weights.format = WFMT_F32;
        else if (!strcmp(wfmt, "bf16")) spec.weights.format = WFMT_BF16;
        else if (!strcmp(wfmt, "f16")) spec.weights.format = WFMT_F16;
        else { fprintf(stderr, "archc: error: --weights-format=%s: expected f32, bf16 or f16\n", wfmt); return 2; }
    }
    if (lower_model(&spec, &g) != 0) { graph_free(&g); return 1; }
    if (chunk) g.tmax = (int)(chunk < spec.max_context ? chunk : spec.max_context);
    if (passes_run(&g, &opts) != 0) { graph_free(&g); return 1; }

    char tmp[4096];
    const char *inputs[] = {in};
    if (want_ir) {
        if (!outp) { graph_print(&g, stdout); graph_free(&g); return fflush(stdout) == 0 ? 0 : 1; }
        if (out_check(outp, inputs, 1)) { graph_free(&g); return 1; }
        FILE *f = out_open(outp, tmp, sizeof tmp);
        if (!f) { graph_free(&g); return 1; }
        graph_print(&g, f);
        int rc = out_commit(f, tmp, outp, 1);
        graph_free(&g);
        return rc == 0 ? 0 : 1;
    }

    const Backend *be = has_suffix(outp, ".cu") ? &backend_cuda : &backend_c;
    int build = !has_suffix(outp, ".c") && !has_suffix(outp, ".cu");
    char cpath[4096];
    if ((size_t)snprintf(cpath, sizeof cpath, build ? "%s.archc.c" : "%s", outp) >= sizeof cpath) {
        fprintf(stderr, "archc: error: output path too long\n");
        graph_free(&g);
        return 2;
    }
    if (out_check(outp, inputs, 1) || (build && out_check(cpath, inputs, 1))) { graph_free(&g); return 1; }
    if (be->check(&g) != 0) { graph_free(&g); return 1; }
    FILE *f = out_open(cpath, tmp, sizeof tmp);
    if (!f) { graph_free(&g); return 1; }
    int ok = be->emit(&g, f) == 0;
    graph_free(&g);
    if (out_commit(f, tmp, cpath, ok) != 0) {
        if (ok) fprintf(stderr, "archc: error: writing %s failed\n", cpath);
        return 1;
    }
    if (build) {
        char exe_tmp[4096];
        if (out_reserve(outp, exe_tmp, sizeof exe_tmp)) { unlink(cpath); return 1; }
        int rc = build_executable(cpath, exe_tmp);
        if (!getenv("ARCHC_KEEP_C")) unlink(cpath);
        if (rc != 0) { unlink(exe_tmp); return 1; }
        if (rename(exe_tmp, outp) != 0) {
            fprintf(stderr, "archc: error: %s: cannot write: %s\n", outp, strerror(errno));
            unlink(exe_tmp);
            return 1;
        }
    }
    return 0;
}
