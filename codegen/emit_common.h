/*
 * codegen/emit_common.h — what the C and CUDA printers share.
 *
 * Both print the same lowered program (codegen/program.h); the parts of the
 * file that do not depend on the target language — the header comment and
 * constants, the weight struct and the loader's table, the RoPE tables, the
 * comments naming each layer and IR node, and the quoting of user text — are
 * printed by codegen/emit_c.c for both (`cuda` selects the few lines that
 * differ).  codegen/emit_cuda.c prints the rest of a .cu.
 */
#ifndef ARCHC_EMIT_COMMON_H
#define ARCHC_EMIT_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "ir.h"
#include "program.h"

typedef struct Emitter {
    FILE *f;
    const Graph *g;
    const Program *p;        /* what is printed (codegen/program.h)            */
    bool cuda;               /* printing a .cu (codegen/emit_cuda.c)           */
} Emitter;

__attribute__((format(printf, 2, 3)))
static inline void out(Emitter *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(e->f, fmt, ap);
    va_end(ap);
}

/* Formats: the C element type, the runtime's RT_ constant, the short name, the loader's ST_ dtype. */
const char *fmt_ctype(WeightFormat f);
const char *fmt_rt(WeightFormat f);
const char *fmt_short(WeightFormat f);
const char *fmt_st(WeightFormat f);
int is_fp8(const Weight *w);             /* a matrix with block multipliers                  */
int is_mx_dense(const Weight *w);        /* archc quantize's dense MXFP4 matrix              */
int stored_shape(const Weight *w, int64_t *sh);
const char *scale_st(const Weight *w);
int block_n(const Graph *g);
int block_k(const Graph *g);

/* Text: a float literal that round-trips; user text made safe inside a
 * comment (cmt) or a string literal (cstr).  Rotating static buffers. */
const char *flit(float v);
const char *cmt(const char *s);
const char *cstr(const char *s);

/* A weight's member and its lvalue in the weight struct W ("l[3].q_proj"). */
const char *member(const Weight *w);
const char *field(const Weight *w);
const char *field_with(const Weight *w, const char *suffix);
const char *scale_field(const Weight *w);
const char *wtype(const Weight *w);

/* Parts of the file. */
void emit_preamble(Emitter *e);                 /* header comment, includes, constants */
void emit_weights(Emitter *e);                  /* the weight struct                   */
void emit_weight_table(Emitter *e);             /* the loader's table                  */
void emit_expert_table(Emitter *e);             /* add_expert_weights(): the routed experts' entries */
void emit_rope_state(Emitter *e, const Rope *pr);
const char *arg_text_common(const Emitter *e, Arg a);   /* an operand both backends write alike, or NULL */
void call_comment(Emitter *e, const Node *n, int idx);
void layer_header(Emitter *e, const Node *n, int *last_layer);
void emit_forward_body(Emitter *e, Phase ph, void (*step)(Emitter *, Phase, const Step *));   /* views, then steps */

/* A backend's own parts of the file, printed in this order after the shared
 * header, weights and expert table; print_program (codegen/emit_c.c) builds
 * the program and prints the whole file. */
typedef struct Printer {
    void (*kernels)(Emitter *e);
    void (*state)(Emitter *e);
    void (*init)(Emitter *e);
    void (*forward)(Emitter *e, Phase ph);
    void (*dispatch)(Emitter *e);
    void (*descriptor)(Emitter *e);
} Printer;
int print_program(const Graph *g, FILE *f, bool cuda, const Printer *pr);

#endif
