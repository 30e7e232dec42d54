/*
 * frontend/driver.c — the archc command line.
 *
 *   archc MODEL.yaml -o OUT.c           emit C
 *   archc MODEL.yaml -o OUT.cu          emit CUDA (codegen/emit_cuda.c: the dense families)
 *   archc MODEL.yaml -o OUT             emit C and build the executable (codegen/build.c)
 *       [--target=TRIPLE|cuda|cuda-emu] [--cc=CC] [--embed-weights DIR]
 *   archc run MODEL.yaml --weights DIR [binary options]   compile and run at once
 *   archc --emit=ir MODEL.yaml [-o F]   print the graph after passes
 *   archc import HF_DIR|config.json -o MODEL.yaml
 *   archc init-weights MODEL.yaml -o DIR --dtype f32|bf16|f16 --seed S [--config-only]
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
#include "diag.h"
#include "llvm_tools.h"
#include "outfile.h"
#include "ir.h"
#include "passes.h"
#include "safetensors.h"
#include "spec.h"

#ifndef ARCHC_VERSION
#define ARCHC_VERSION "0.0"
#endif

int init_weights(const ModelSpec *s, const Graph *g, const char *dir, WeightFormat fmt, unsigned long long seed, int config_only);
int cmd_quantize(int argc, char **argv);  /* frontend/quantize.c */

static void usage(FILE *f) {
    fprintf(f,
            "usage: archc MODEL.yaml -o OUT.c|OUT.cu|OUT   compile (OUT without suffix: build an executable)\n"
            "       archc MODEL.yaml -o OUT --target=x86_64-linux-gnu|aarch64-linux-gnu [--embed-weights DIR]\n"
            "                                               a static executable for any CPU of that architecture\n"            "       archc MODEL.yaml -o OUT --target=cuda|cuda-emu   emit CUDA and build it with nvcc (a GPU binary),\n"
            "                                               or for the CPU emulator (tests, debugging kernels; slow)\n"
            "       archc run MODEL.yaml --weights DIR [binary options]   compile in memory and run at once\n"
            "       archc --emit=ir MODEL.yaml [-o FILE]    print the graph IR after passes\n"
            "       archc import HF_DIR|config.json -o MODEL.yaml\n"
            "       archc init-weights MODEL.yaml -o DIR [--dtype f32|bf16|f16] [--seed S] [--config-only]\n"
            "       archc quantize HF_DIR -o OUT_DIR --format int8|int4|fp8|mxfp4 [--keep PATTERN]... [--quantize-embeddings]\n"
            "                      [--scale-dtype f16|f32] [--shard-size BYTES]\n"
            "options:\n"
            "  --disable-pass=NAME   skip a pass (repeatable); --list-passes shows them\n"            "  --enable-pass=NAME    run a pass that is off by default (repeatable; decode-persistent)\n"
            "  --weights-format=F    compile for a checkpoint stored as f32, bf16 or f16\n"
            "  --prefill-chunk=N     tokens per prefill chunk (default 128): activation memory vs matmul tile reuse\n"
            "  --target=TRIPLE       build a static executable for x86_64-linux-gnu or aarch64-linux-gnu with every\n"
            "                        instruction-set variant, picked at start-up (default: this machine, -march=native)\n"
            "  --cc=CC               build with this external compiler (default: in-process Clang when archc has it, else cc)\n"
            "  --embed-weights DIR   append the checkpoint to the executable: it then runs without --weights\n"
            "  -v                    say what each pass did\n"
            "  --help, --version\n"
            "environment: ARCHC_CC (external compiler, as --cc), ARCHC_CFLAGS (extra compiler flags);\n"
            "             CC is not consulted; NVCC, ARCHC_CUDA_ARCH (default 80,90), ARCHC_NVCC_FLAGS,\n"
            "             ARCHC_CXX (the emulator's C++ compiler) for --target=cuda / cuda-emu\n");
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

/* s lowered, passed (defaults) and emitted as C into a malloc'd string, or NULL. */
static char *emit_c_text(const ModelSpec *s) {
    Graph g;
    if (lower_model(s, &g) != 0) { graph_free(&g); return NULL; }
    PassOptions po = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (passes_run(&g, &po) == 0 && backend_c.check(&g) == 0 && (f = open_memstream(&buf, &len))) {
        int ok = backend_c.emit(&g, f) == 0;
        if (fclose(f) != 0 || !ok) { free(buf); buf = NULL; }
    }
    graph_free(&g);
    return buf;
}

/* text with every mention of the source file `name` (and the ":LINE" after
 * it) removed, in place: the two descriptions compared below come from
 * different texts, and the emitted C cites its source at every op. */
static void drop_source(char *text, const char *name) {
    size_t nl = strlen(name);
    char *w = text;
    for (char *r = text; *r;) {
        if (nl && !strncmp(r, name, nl)) {
            r += nl;
            if (*r == ':' && r[1] >= '0' && r[1] <= '9')
                for (r++; *r >= '0' && *r <= '9'; r++) {}
        } else *w++ = *r++;
    }
    *w = 0;
}

/* Does the config.json written for s (text) give back s?  `archc import` of it
 * is parsed, lowered and emitted as C, and compared with the C of s itself:
 * equal text (but for the source names) means the same program: every
 * shape, constant and kernel.  Prints a warning naming the first line that
 * differs; 0 when equal. */
static int hf_config_roundtrip(const ModelSpec *s, const char *config_name, const char *text, size_t len) {
    static const char imported[] = "(config.json, imported)";
    const char *src_file, *src_text;
    diag_get_source(&src_file, &src_text);   /* parsing sets it: put the description's back after */
    char *yaml = NULL;
    if (spec_import_json(config_name, text, len, &yaml) != 0) {
        diag_set_source(src_file, src_text);
        fprintf(stderr, "archc init-weights: warning: `archc import` cannot read the config.json written for %s (above)\n", s->file);
        return -1;
    }
    static ModelSpec back;
    int rc = -1;
    if (spec_parse_buffer(imported, yaml, strlen(yaml), &back) == 0) {
        snprintf(back.name, sizeof back.name, "%s", s->name);   /* import names the model after the directory */
        char *want = emit_c_text(s), *got = emit_c_text(&back);
        if (want && got) {
            drop_source(want, s->file);
            drop_source(got, imported);
            const char *p = want, *q = got;
            int line = 1;
            while (*p && *p == *q) { if (*p == '\n') line++; p++; q++; }
            if (!*p && !*q) rc = 0;
            else {
                while (p > want && p[-1] != '\n') { p--; q--; }
                fprintf(stderr,
                        "archc init-weights: warning: %s: the %s config.json cannot describe this model exactly; `archc import` of the "
                        "directory gives a different program (line %d of the emitted C, source names removed):\n  description: %.*s\n"
                        "  imported:    %.*s\ncompile %s itself with these weights\n",
                        s->file, s->family, line, (int)strcspn(p, "\n"), p, (int)strcspn(q, "\n"), q, s->file);
            }
        }
        free(want);
        free(got);
        free((char *)back.file);
    }
    diag_set_source(src_file, src_text);
    free(yaml);
    return rc;
}

static int cmd_init_weights(int argc, char **argv) {
    const char *in = NULL, *dir = NULL, *dtype = "f32";
    unsigned long long seed = 0;
    int config_only = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = argv[++i];
        else if (!strcmp(argv[i], "--config-only")) config_only = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 10);
            if (*end) { fprintf(stderr, "archc init-weights: --seed: expected a non-negative integer, got '%s'\n", argv[i]); return 2; }
        } else if (argv[i][0] == '-') { fprintf(stderr, "archc init-weights: unknown option '%s'\n", argv[i]); return 2; }
        else if (!in) in = argv[i];
        else { fprintf(stderr, "archc init-weights: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!in || !dir) { fprintf(stderr, "usage: archc init-weights MODEL.yaml -o DIR [--dtype f32|bf16|f16] [--seed S] [--config-only]\n"); return 2; }
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
    char *cfg = NULL, cfg_name[4200];
    size_t cfg_len = 0;
    FILE *cf = open_memstream(&cfg, &cfg_len);
    if (!cf || hf_config_write(&spec, cf, fmt) != 0 || fclose(cf) != 0) { fprintf(stderr, "archc init-weights: error: out of memory\n"); graph_free(&g); return 1; }
    snprintf(cfg_name, sizeof cfg_name, "%s/config.json", dir);
    hf_config_roundtrip(&spec, cfg_name, cfg, cfg_len);   /* a warning, not an error: the weights still fit the description */
    free(cfg);
    int rc = init_weights(&spec, &g, dir, fmt, seed, config_only);
    graph_free(&g);
    return rc == 0 ? 0 : 1;
}

/* Options of a compilation: what archc's main and `archc run` share. */
typedef struct CompileOptions {
    const char *wfmt;
    long chunk;
    PassOptions passes;
} CompileOptions;

/* Parse one compilation option a: 1 when it was one, 0 when it is not, -1
 * on a bad value (message printed). */
static int compile_option(const char *a, CompileOptions *o) {
    if (!strncmp(a, "--weights-format=", 17)) {
        o->wfmt = a + 17;
        if (strcmp(o->wfmt, "f32") && strcmp(o->wfmt, "bf16") && strcmp(o->wfmt, "f16")) {
            fprintf(stderr, "archc: error: --weights-format=%s: expected f32, bf16 or f16\n", o->wfmt);
            return -1;
        }
    } else if (!strncmp(a, "--prefill-chunk=", 16)) {
        char *end;
        o->chunk = strtol(a + 16, &end, 10);
        if (*end || o->chunk < 1 || o->chunk > 4096) {
            fprintf(stderr, "archc: error: --prefill-chunk=%s: expected an integer in 1 … 4096\n", a + 16);
            return -1;
        }
    } else if (!strncmp(a, "--enable-pass=", 14)) {
        if (o->passes.n_enabled >= 16) { fprintf(stderr, "archc: error: too many --enable-pass options\n"); return -1; }
        o->passes.enabled[o->passes.n_enabled++] = a + 14;
    } else if (!strncmp(a, "--disable-pass=", 15)) {
        if (o->passes.n_disabled >= 16) { fprintf(stderr, "archc: error: too many --disable-pass options\n"); return -1; }
        o->passes.disabled[o->passes.n_disabled++] = a + 15;
    } else if (!strcmp(a, "-v")) o->passes.verbose = 1;
    else return 0;
    return 1;
}

/* Parse, lower and run the passes: 0 with *g filled (graph_free it), or -1. */
static int compile_graph(const char *in, const CompileOptions *o, Graph *g) {
    static ModelSpec spec;
    if (spec_parse_file(in, &spec) != 0) return -1;
    if (o->wfmt) {
        /* compile the same description for a checkpoint stored in another format */
        spec.weights.format = !strcmp(o->wfmt, "f32") ? WFMT_F32 : !strcmp(o->wfmt, "bf16") ? WFMT_BF16 : WFMT_F16;   /* checked by compile_option */
    }
    if (lower_model(&spec, g) != 0) { graph_free(g); return -1; }
    if (o->chunk) g->tmax = (int)(o->chunk < spec.max_context ? o->chunk : spec.max_context);
    PassOptions po = o->passes;
    if (passes_run(g, &po) != 0) { graph_free(g); return -1; }
    return 0;
}

/* Emit the C (or CUDA) of g to cpath, through a temporary file.  0 or -1. */
static int emit_file(Graph *g, const Backend *be, const char *cpath) {
    char tmp[4096];
    if (be->check(g) != 0) return -1;
    FILE *f = out_open(cpath, tmp, sizeof tmp);
    if (!f) return -1;
    int ok = be->emit(g, f) == 0;
    if (out_commit(f, tmp, cpath, ok) != 0) {
        if (ok) fprintf(stderr, "archc: error: writing %s failed\n", cpath);
        return -1;
    }
    return 0;
}

/* archc run MODEL.yaml|MODEL.c [compile options] [binary options]: compile
 * and run at once.  A .c file (emitted by archc, perhaps edited since) is run
 * as it is: the edit-compile-time loop of kernel work.  build_run
 * (codegen/build.c) compiles it in memory and runs it in this process (ORC
 * JIT), or builds a temporary executable with the external compiler. */
static int cmd_run(int argc, char **argv) {
    const char *in = NULL;
    CompileOptions co = {0};
    BuildOptions bo = {0};
    char **rargv = calloc((size_t)argc + 1, sizeof *rargv);
    int rargc = 1;
    if (!rargv) return 1;
    for (int i = 2; i < argc; i++) {
        int r = compile_option(argv[i], &co);
        if (r < 0) { free(rargv); return 2; }
        if (r) continue;
        if (!strncmp(argv[i], "--cc=", 5)) bo.cc = argv[i] + 5;
        else if (!in && argv[i][0] != '-') in = argv[i];
        else rargv[rargc++] = argv[i];   /* the model binary's own options, in order */
    }
    if (!in) {
        fprintf(stderr, "usage: archc run MODEL.yaml [--disable-pass=P ...] [--weights-format=F] [--prefill-chunk=N] [--cc=CC]\n"
                        "                 --weights DIR [any option of the built binary]\n"
                        "       archc run MODEL.c --weights DIR [...]   (C that archc emitted, edited or not)\n");
        free(rargv);
        return 2;
    }
    rargv[0] = (char *)in;
    int from_c = has_suffix(in, ".c");
    if (from_c && (co.wfmt || co.chunk || co.passes.n_disabled)) {
        fprintf(stderr, "archc run: error: %s is C already: --weights-format, --prefill-chunk and --disable-pass apply to a .yaml\n", in);
        free(rargv);
        return 2;
    }
    Graph g;
    if (!from_c && compile_graph(in, &co, &g) != 0) { free(rargv); return 1; }
    char dir[4096], cpath[4200], exe[4200];
    snprintf(dir, sizeof dir, "%s/archc-run-XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "archc run: error: cannot make a temporary directory: %s\n", strerror(errno));
        if (!from_c) graph_free(&g);
        free(rargv);
        return 1;
    }
    snprintf(cpath, sizeof cpath, "%s/model.c", dir);
    snprintf(exe, sizeof exe, "%s/model", dir);
    int rc = 0;
    if (from_c) {   /* compile the given file where it is */
        if (access(in, R_OK) != 0) {
            fprintf(stderr, "archc run: error: %s: %s\n", in, strerror(errno));
            rc = 1;
        } else
            snprintf(cpath, sizeof cpath, "%s", in);
    } else {
        rc = emit_file(&g, &backend_c, cpath) == 0 ? 0 : 1;
        graph_free(&g);
    }
    if (rc == 0) rc = build_run(cpath, exe, &bo, rargc, rargv);
    if (!from_c) unlink(cpath);
    unlink(exe);
    rmdir(dir);
    free(rargv);
    return rc;
}

int main(int argc, char **argv) {
    /* import reads checkpoint headers and quantize streams tensors: map the
     * files, never read them whole into memory (runtime/safetensors.h) */
    st_load_mode = ST_LOAD_LAZY;
    if (argc >= 2 && !strcmp(argv[1], "import")) return cmd_import(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "init-weights")) return cmd_init_weights(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "quantize")) return cmd_quantize(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);

    const char *in = NULL, *outp = NULL, *emit = NULL;
    CompileOptions co = {0};
    BuildOptions bo = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = compile_option(argv[i], &co);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--version")) {
            printf("archc %s\n", ARCHC_VERSION);
            if (llvm_available()) printf("in-process compilation: Clang/LLVM %s (lld)\n", llvm_version());
            else printf("in-process compilation: no (built without the Clang/LLVM libraries; executables are built with cc)\n");
            return 0;
        } else if (!strcmp(a, "--list-passes")) {
            for (int p = 0; p < pass_count; p++) printf("%-17s %s\n", pass_table[p].name, pass_table[p].what);
            return 0;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) { fprintf(stderr, "archc: error: -o needs a file name\n"); return 2; }
            outp = argv[++i];
        } else if (!strncmp(a, "--emit=", 7)) emit = a + 7;
        else if (!strncmp(a, "--target=", 9)) {
            bo.target = a + 9;
            if (build_check_target(bo.target) != 0) return 2;
        } else if (!strncmp(a, "--cc=", 5)) {
            bo.cc = a + 5;
            if (!*bo.cc) { fprintf(stderr, "archc: error: --cc= needs a compiler\n"); return 2; }
        } else if (!strcmp(a, "--embed-weights") || !strncmp(a, "--embed-weights=", 16)) {
            if (a[15] == '=') bo.embed_dir = a + 16;
            else if (i + 1 < argc) bo.embed_dir = argv[++i];
            if (!bo.embed_dir || !*bo.embed_dir) { fprintf(stderr, "archc: error: --embed-weights needs a checkpoint directory\n"); return 2; }
        }
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

    Graph g;
    if (compile_graph(in, &co, &g) != 0) return 1;

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

    int cuda_build = build_is_cuda(bo.target);
    const Backend *be = has_suffix(outp, ".cu") || cuda_build ? &backend_cuda : &backend_c;
    int build = !has_suffix(outp, ".c") && !has_suffix(outp, ".cu");
    if (!build && (bo.target || bo.embed_dir || bo.cc)) {
        fprintf(stderr, "archc: error: --target, --cc and --embed-weights build an executable: give -o without .c/.cu\n");
        graph_free(&g);
        return 2;
    }
    if (cuda_build && bo.cc) {
        fprintf(stderr, "archc: error: --cc picks the C compiler; --target=%s builds with nvcc ($NVCC) or $ARCHC_CXX\n", bo.target);
        graph_free(&g);
        return 2;
    }
    char cpath[4096];
    if ((size_t)snprintf(cpath, sizeof cpath, build ? (cuda_build ? "%s.archc.cu" : "%s.archc.c") : "%s", outp) >= sizeof cpath) {
        fprintf(stderr, "archc: error: output path too long\n");
        graph_free(&g);
        return 2;
    }
    if (out_check(outp, inputs, 1) || (build && out_check(cpath, inputs, 1))) { graph_free(&g); return 1; }
    int erc = emit_file(&g, be, cpath);
    bo.l2_loads = g.decode_persistent;
    graph_free(&g);
    if (erc != 0) return 1;
    if (build) {
        char exe_tmp[4096];
        if (out_reserve(outp, exe_tmp, sizeof exe_tmp)) { unlink(cpath); return 1; }
        int rc = build_executable(cpath, exe_tmp, &bo);
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
