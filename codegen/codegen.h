/*
 * codegen/codegen.h — backends.
 *
 * A backend turns the optimised graph into source text by printing the
 * lowered program built from it (codegen/program.h).  The C backend
 * (codegen/emit_c.c) runs every family; the CUDA backend (codegen/emit_cuda.c)
 * the dense ones (issue 9; MoE/MLA/quantised weights: issue 10).  codegen/build.c compiles emitted C into an
 * executable with $CC (default cc) against the runtime.
 */
#ifndef ARCHC_CODEGEN_H
#define ARCHC_CODEGEN_H

#include <stdbool.h>
#include <stdio.h>
#include "ir.h"

typedef struct Backend {
    const char *name;        /* "c", "cuda"                                      */
    const char *suffix;      /* output suffix that selects it                    */
    /* Check that every node can be emitted; print "not yet supported: …" and
     * return -1 otherwise (before any output is written). */
    int (*check)(const Graph *g);
    int (*emit)(const Graph *g, FILE *out);
} Backend;

extern const Backend backend_c;
extern const Backend backend_cuda;

/* codegen/build.c: compile C source at c_path into an executable at exe_path.
 * Returns 0 or -1 (compiler output is shown). */
typedef struct BuildOptions {
    const char *target;     /* NULL: this machine (-march=native); else a triple (build_target_names):
                             * a static executable with every instruction-set variant, chosen at start-up */
    const char *cc;         /* an external compiler (--cc); NULL: $ARCHC_CC, else in-process Clang
                             * when archc has it, else cc (TRIPLE-gcc for a foreign target) */
    const char *embed_dir;  /* append this checkpoint directory's files to the executable */
    bool l2_loads;          /* --target=cuda with decode-persistent: global loads bypass L1 (-Xptxas -dlcm=cg) */
} BuildOptions;
int build_executable(const char *c_path, const char *exe_path, const BuildOptions *opts);
/* archc run: compile c_path and run its main(argc, argv) — in memory, in this
 * process (codegen/llvm_tools.h), unless an external compiler was asked for or
 * archc has no LLVM; then built at exe_path and started.  Returns the exit
 * status to give (1 when compiling failed). */
int build_run(const char *c_path, const char *exe_path, const BuildOptions *opts, int argc, char **argv);
int build_check_target(const char *triple);   /* 0, or -1 with a message naming the known ones */
int build_is_cuda(const char *target);         /* "cuda" or "cuda-emu": the .cu is built (nvcc, or the CPU emulator) */
const char *build_target_names(void);

/* codegen/embed.c: append the checkpoint directory dir's files (safetensors,
 * JSON configs, tokenizer, chat template) to the executable at exe_path in
 * the layout runtime/fileio.h describes.  0, or -1 with a message. */
int embed_weights(const char *exe_path, const char *dir);

#endif
