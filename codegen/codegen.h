/*
 * codegen/codegen.h — backends.
 *
 * A backend turns the optimised graph into source text by printing the
 * lowered program built from it (codegen/program.h).  The C backend
 * (codegen/emit_c.c) is complete for dense models; the CUDA backend is not
 * written yet and says so.  codegen/build.c compiles emitted C into an
 * executable with $CC (default cc) against the runtime.
 */
#ifndef ARCHC_CODEGEN_H
#define ARCHC_CODEGEN_H

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
int build_executable(const char *c_path, const char *exe_path);

#endif
