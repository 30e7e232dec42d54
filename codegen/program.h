/*
 * codegen/program.h — the lowered program: what a backend prints.
 *
 * Built once from the Graph after passes (program_build), backend-neutral: it
 * holds the schedule and every decision a printer would otherwise make while
 * printing — the activation views of the arena, the deduplicated kernel
 * signatures, and for each entry point (prefill, decode, MTP) the list of steps
 * with their typed operands.  A printer (codegen/emit_c.c) walks it and writes
 * text; it computes no names, no dedup and no schedule of its own.
 * See docs/program.md.
 */
#ifndef ARCHC_PROGRAM_H
#define ARCHC_PROGRAM_H

#include <stdbool.h>
#include "ir.h"

/* The entry points of a compiled model. */
typedef enum {
    PH_PREFILL,   /* T <= TMAX tokens, matrix-matrix kernels, logits by mode   */
    PH_DECODE,    /* one token (T = 1 literal), GEMV kernels                   */
    PH_MTP,       /* the multi-token-prediction module over T positions        */
    PH_COUNT
} Phase;

/* ── kernels ──────────────────────────────────────────────────────────────── */

typedef enum {
    KK_EMBED, KK_RMSNORM, KK_LINEAR, KK_BIAS, KK_ADD, KK_GLU, KK_ROPE, KK_CONCAT,
    KK_KV_STORE, KK_QK_ROPE_STORE, KK_MLA_STORE, KK_MLA_ATTENTION, KK_MOE, KK_MOE_STACKED,
    KK_ATTENTION
} KernelKind;

enum { STEP_MAX_ARGS = 20 };  /* parameters of a kernel, operands of a step */

/* A kernel's formal parameter, the same for every call (program_build checks). */
typedef enum {
    P_ACT,            /* f32 activation rows [T][width] (or logits)               */
    P_TOKENS,         /* int token ids                                            */
    P_WEIGHT,         /* a weight in format `fmt` (1-D weights are widened: f32)  */
    P_WEIGHT_SCALE,   /* f32 fp8 block multipliers                                */
    P_EXPERTS,        /* an array of per-expert pointers, format `fmt`            */
    P_EXPERTS_SCALE,  /* an array of per-expert fp8 multipliers                   */
    P_CACHE,          /* f32 KV cache rows                                        */
    P_ROPE,           /* f32 cos or sin [T][rot/2] of this call                   */
    P_SCRATCH,        /* f32 scratch [T][Kernel.scratch]                          */
    P_INT             /* an int: T, pos, a flag                                   */
} ParamType;

typedef struct Param {
    ParamType type;
    WeightFormat fmt;  /* P_WEIGHT, P_EXPERTS                                    */
    bool out;          /* written by the kernel                                  */
    bool optional;     /* some call passes no tensor (NULL)                      */
} Param;

/* One distinct kernel.  `name` is its signature (op, format, every dimension:
 * "gemm_bf16_3072x1024_res"); two calls share a kernel iff their names are
 * equal.  The literals of the body are the attributes of `node` (any node with
 * this signature: the name encodes every attribute the body reads) and, for
 * linear kernels, the flags below (a logits projection is a linear without
 * bias or residual whatever its node says). */
typedef struct Kernel {
    KernelKind kind;
    char name[128];
    int node;              /* a node with this signature                       */
    bool gemv;             /* linear: one token (decode form), else T tokens   */
    bool bias, residual;   /* linear: epilogues                                */
    int scratch;           /* floats of Program.scratch per token row it uses  */
    Param param[STEP_MAX_ARGS]; /* its formal parameters, in call order        */
    int n_params;
} Kernel;

/* ── steps ────────────────────────────────────────────────────────────────── */

/* A typed operand of a step. */
typedef enum {
    A_NULL,          /* an absent optional tensor (`id`: its ParamType)           */
    A_ACT,           /* activation view of value `id` (last_row: row T-1 only)    */
    A_WEIGHT,        /* weight `id` (Graph.weights: keyed by layer, role, expert) */
    A_WEIGHT_SCALE,  /* fp8 block multipliers of weight `id`                      */
    A_EXPERTS,       /* the routed experts' matrices of layer `id`, role `role`:
                        one slot per expert                                       */
    A_EXPERTS_SCALE, /* their fp8 block multipliers                               */
    A_K_CACHE, A_V_CACHE,   /* KV cache `id` (latent cache of MLA: K only)        */
    A_ROPE_COS, A_ROPE_SIN, /* RoPE table `id` (Graph.rope): cos/sin of this call's positions */
    A_TOKENS,        /* the entry point's arguments: token ids                    */
    A_HIDDEN_IN,     /*   the main model's hidden states (MTP)                    */
    A_LOGITS,        /*   the logits output                                       */
    A_HIDDEN_OUT,    /*   the final hidden states output (may be absent)          */
    A_T, A_POS,      /*   tokens in this call, first position                     */
    A_LOGITS_ROWS,   /* prefill: rows of logits this call writes (by logits mode) */
    A_SCRATCH,       /* the kernels' scratch buffer (Program.scratch_floats)      */
    A_INT,           /* the literal `id`                                          */
    A_T_IS_1         /* 1 when this call has one token, else 0                    */
} ArgKind;

typedef struct Arg {
    ArgKind kind;
    int id;
    WeightRole role;   /* A_EXPERTS, A_EXPERTS_SCALE                              */
    bool last_row;     /* A_ACT                                                   */
    bool out;          /* the kernel writes it (activations, caches)              */
} Arg;

typedef enum {
    S_CALL,         /* kernel(args…)                                             */
    S_COPY,         /* arg[0] ← arg[1], arg[2] rows of `width` floats            */
    S_SOFTCAP,      /* logits ← cap·tanh(logits / cap) over arg[0] rows; `value`  */
    S_ROPE_ANGLES   /* cos/sin of RoPE table `id` for arg[0] tokens from pos      */
} StepKind;

/* When a step runs (prefill's logits depend on the call's logits mode). */
typedef enum {
    G_ALWAYS,
    G_HIDDEN_OUT,   /* the caller asked for the final hidden states              */
    G_LOGITS_ALL,   /* logits of every token                                     */
    G_LOGITS_LAST,  /* logits of the last token only (exclusive with the above)  */
    G_LOGITS        /* any logits                                                */
} Guard;

typedef struct Step {
    StepKind kind;
    Guard guard;
    int node;          /* the IR node it implements (comments); -1 preamble      */
    int kernel;        /* S_CALL: index in Program.kernels                       */
    int id;            /* S_ROPE_ANGLES: RoPE table                              */
    int width;         /* S_COPY: floats per row                                 */
    double value;      /* S_SOFTCAP: the cap                                     */
    const char *remark;/* a note on this call (e.g. which MLA form), or NULL     */
    Arg arg[STEP_MAX_ARGS];
    int n_args;
} Step;

/* ── buffers ──────────────────────────────────────────────────────────────── */

/* An activation: a [T][width] view of the arena at a fixed offset.  Views
 * that share an offset and a role share a name (x, x_2, …: numbered by first
 * appearance of their offset). */
typedef struct View {
    char name[64];
    int64_t offset;    /* floats from the arena's start (per TMAX row block)     */
    int width;
} View;

/* A KV cache: `rows` rows (0 = the model's max context) of K and of V.  An MLA
 * cache keeps the latent and the rotated k_pe in K (v_width 0). */
typedef struct Cache {
    int rows;
    int k_width, v_width;      /* floats per row                                */
    bool ring;                 /* swa-tile: a ring of window + TMAX - 1 rows    */
} Cache;

/* A RoPE table in use: per call, cos/sin of [TMAX][half] angles from its
 * inverse frequencies (literals when folded, else computed at load time;
 * dynamic NTK recomputes them when a prompt starts). */
typedef struct Rope {
    int rope;                  /* Graph.rope index                              */
    int half;                  /* rotary dims / 2                               */
    bool folded, ntk;
} Rope;

/* ── weights ──────────────────────────────────────────────────────────────── */

/* Weight slots are the Graph's weights, keyed by (layer, role, expert); an fp8
 * matrix has a second slot for its block multipliers.  The program adds the
 * layout a loader needs: */

/* One member of every layer's slots (the union over layers, in first-seen
 * order): a role, and for routed experts' own matrices one slot per expert. */
typedef struct LayerSlot {
    WeightRole role;
    int weight;                /* the first weight of this role (shape, format) */
    int experts;               /* > 0: an array of one slot per routed expert   */
} LayerSlot;

/* The routed experts of one MoE variant: their slots are bound at start-up
 * from the names of `node`'s layer, for each of `layers` and each expert. */
typedef struct ExpertGroup {
    int node;                  /* the variant's first moe node (the template)   */
    int *layers; int n_layers;
} ExpertGroup;

typedef struct Program {
    const Graph *g;
    /* buffers, all sized here: nothing is allocated while a forward runs */
    View *views;               /* per value (Graph.vals)                        */
    int64_t arena_floats;      /* the activation arena, floats per TMAX rows    */
    Cache *caches; int n_caches;
    Rope *ropes; int n_ropes;
    int64_t scratch_floats;    /* kernels' scratch, floats per token row (× TMAX); 0 = none */
    int *decl[PH_COUNT];       /* per entry point: values whose view it names   */
    int n_decl[PH_COUNT];      /*   (one per distinct name)                     */
    /* weights */
    LayerSlot *layer_slots; int n_layer_slots;
    ExpertGroup *expert_groups; int n_expert_groups;
    int n_listed;              /* slots the loader table lists by name (scales included) */
    int64_t n_expert_slots;    /* slots of the routed experts' own matrices (scales included) */
    /* kernels and steps */
    Kernel *kernels; int n_kernels;   /* in order of first use                  */
    Step *steps[PH_COUNT];     /* per entry point, in order                     */
    int n_steps[PH_COUNT];
    bool has_phase[PH_COUNT];  /* PH_MTP only with an MTP module                */
} Program;

/* Build the program of a graph that passed the backend's check; 0, or -1 with a
 * message (program_free is needed either way). */
int program_build(const Graph *g, Program *p);
void program_free(Program *p);

/* fp8 matrices carry a block-scale tensor (weight_scale_inv) next to them. */
/* A matrix with a block-multiplier slot: fp8, or archc quantize's int8 / int4 / dense MXFP4 */
static inline bool weight_fp8(const Weight *w) { return weight_block_scaled(w); }

/* The weight of (layer, role) outside the routed experts' own matrices, or -1. */
int program_weight(const Graph *g, int layer, WeightRole role);

#endif
