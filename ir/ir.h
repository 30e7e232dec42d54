/*
 * ir/ir.h — the graph IR.
 *
 * A Graph is a flat, topologically ordered array of Nodes over typed Values
 * (activations) plus a table of Weights (checkpoint tensors).  Nodes refer to
 * values and weights by index, never by pointer, so passes can append and
 * reorder freely and dumps print stable %N names.
 *
 *   Value    one activation tensor [T, width] f32 (T = tokens in this call,
 *            symbolic; bounded by Graph.tmax, the prefill chunk)
 *   Weight   one tensor of the checkpoint: its HF name, shape and storage format,
 *            and what it is to the model: (layer, role, expert), ir/roles.h
 *   Node     one LLM-level op (ir/ops.h) with a fat attribute block: only the
 *            fields that op uses are meaningful (listed per op in ops.h / lower.c)
 *
 * The KV cache is not a Value: kv_store / attention nodes name their cache by
 * the `cache` index (one per attention layer).
 */
#ifndef ARCHC_IR_H
#define ARCHC_IR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "spec.h"
#include "archc_rt.h"   /* RtRopeParams: a RoPE variant's parameters, as the runtime takes them */

typedef enum {
#define OP(e, name, nin, elt, w) e,
#include "ops.h"
#undef OP
    OP_COUNT
} Op;

typedef struct OpInfo { const char *name; int n_inputs; bool elementwise; bool reads_weights; } OpInfo;
extern const OpInfo op_info[OP_COUNT];

typedef struct Value {
    int width;          /* columns; rows are T                                     */
    char role[24];      /* readable name for dumps and emitted code: "x", "q", …   */
    int producer;       /* node index                                              */
    int layer;          /* -1 outside layers                                       */
    int64_t offset;     /* memplan: float offset in the activation arena (per TMAX row block) */
    int last_use;       /* liveness: last node index reading it (memplan)          */
    bool is_int;        /* token ids                                               */
} Value;

typedef enum {
    WR_NONE = -1,
#define ROLE(e, member, routed) e,
#include "roles.h"
#undef ROLE
    WR_COUNT
} WeightRole;

typedef struct RoleInfo { const char *member; bool routed; } RoleInfo;
extern const RoleInfo role_info[WR_COUNT];

enum { W_OPTIONAL = 1, W_VECTOR = 2 /* 1-D, widened to f32 at load */, W_MTP = 4 /* read only by the MTP draft */,
       W_SCALE_F16 = 8 /* int8 / int4 (archc quantize): its block scales are f16, not f32 */ };

typedef struct Weight {
    char name[160];     /* checkpoint tensor name                                  */
    WeightRole role;    /* what it is (ir/roles.h)                                 */
    int expert;         /* routed expert index for one expert's own matrix, else -1 */
    int ndim;
    int64_t shape[4];
    WeightFormat fmt;   /* storage format of this tensor                           */
    int flags;
    int alias;          /* >= 0: this slot reuses weight `alias` (tied embeddings, or a view) */
    int64_t view_offset; /* view: elements from the start of `alias` (Qwen-1 c_attn → q, k, v) */
    int layer;          /* -1 outside the layers; the MTP module is layer n_layers */
} Weight;

/* Routing and expert attributes of a `moe` node (DeepSeek, Qwen3-MoE, gpt-oss, Llama 4). */
typedef struct MoeAttrs {
    int experts, top_k;
    int intermediate;           /* each routed expert's width                        */
    int shared, shared_width;   /* shared experts: count and the block's total width */
    bool stacked;               /* all experts of the layer in one tensor (gpt-oss, Llama 4) */
    bool bias;                  /* biases on the experts' projections (gpt-oss)      */
    bool gate_up_interleaved;   /* gate/up rows interleaved in one tensor (gpt-oss)  */
    RouterScore score;          /* softmax or sigmoid                                */
    bool router_bias;           /* bias added to the router logits (gpt-oss)         */
    bool select_bias;           /* e_score_correction_bias: selection only (DeepSeek-V3) */
    bool softmax_after_topk;    /* top-k on the logits, then softmax over the k      */
    int groups, top_groups;     /* group-limited routing (0 = none)                  */
    bool group_max;             /* groups ranked by their best score, else the sum of the top two */
    bool normalize;             /* renormalise the top-k weights                     */
    double scale;               /* routed_scaling_factor (1 = none)                  */
    bool scale_input;           /* the router score multiplies the expert input (Llama 4) */
} MoeAttrs;

typedef struct Node {
    Op op;
    int in[3];          /* value ids (-1 unused)                                   */
    int out;            /* value id (-1 for ops that only write the cache)         */
    int w[4];           /* weight ids (-1 unused)                                  */
    int layer;          /* -1 outside layers                                       */
    SrcLoc loc;         /* YAML node it came from                                  */
    char note[48];      /* what it is, e.g. "q_proj", "post_attention_layernorm"   */
    bool dead;          /* removed by a pass; dropped by graph_compact             */
    /* attributes — see ops.h for which op uses which */
    int n_in, n_out;            /* linear: in/out features; others: widths       */
    int heads, kv_heads, head_dim, v_dim;
    int group;                  /* rmsnorm: values per normalised group          */
    double eps;
    NormKind norm_kind;
    int rope;                   /* rope variant index, -1 none                   */
    int rot_dims;               /* rotary dims per head (<= head_dim)            */
    double scale;               /* attention softmax scale; embed: multiplier    */
    int window, chunk;          /* attention masks (0 = none)                    */
    int logn_seq;               /* attention: Qwen-1 LogN, q × ln(p+1)/ln(logn_seq) once p+1 > logn_seq; 0 = off */
    double temp_floor, temp_scale; /* attention: Llama 4 temperature tuning, q × (1 + temp_scale·ln(1 + ⌊(p+1)/temp_floor⌋)); 0 = off */
    double softcap;
    ActKind act; double act_limit, act_alpha;
    bool residual;              /* linear: accumulate into in[1] (y = in[1] + xWᵀ) */
    QkNormKind qk_norm;         /* fused q/k norm kind                           */
    int cache;                  /* KV cache index                                */
    bool all_rows;              /* logits: every token (else only the last)      */
    /* moe: routing and experts; mla_attention: the latent dims (v_dim, rot_dims above) */
    MoeAttrs moe;
    int latent, nope_dim;       /* mla_attention: kv_lora_rank, qk_nope_head_dim  */
    /* moe, attention, mla_attention: the YAML variant the attributes came from, for
     * grouping (one expert-table loop per MoE variant) and messages only */
    int variant;
    char variant_name[SPEC_NAME_MAX];
    SrcLoc variant_loc;
    int ring;                   /* swa-tile: cache rows of a ring buffer (0 = full) */
    bool grouped;               /* moe: expert-group pass (tokens grouped per expert) */
    bool absorbed;              /* mla_attention: mla-absorb pass (decode attends over the latent) */
    bool mtp;                   /* part of the multi-token-prediction module (emitted in forward_mtp) */
} Node;

/* One RoPE variant: what lowering copied from the description, and after
 * rope-fold its constant-folded table.  Node.rope indexes Graph.rope[]. */
typedef struct RopeTable {
    char name[SPEC_NAME_MAX];   /* the variant's name (C identifiers: rope_cos_<name>) */
    RopeKind kind;
    RopeLayout layout;
    RtRopeParams params;        /* theta, scaling; .dims is unset: see `dims`    */
    int ntk_seq_length;         /* dynamic NTK (Qwen-1): training length         */
    int dims;                   /* rotary dims; 0 = no node uses the variant     */
    bool folded;                /* inv_freq and mscale are compile-time literals */
    float inv_freq[512];        /* dims/2 entries                                */
    float mscale;               /* cos/sin multiplier (YaRN attention factor)    */
} RopeTable;

/* Model-level facts, copied from the description by lowering. */
typedef struct GraphModel {
    char name[128], family[32];
    const char *file;           /* the YAML path, for messages and comments (like SrcLoc.file) */
    SrcLoc loc;                 /* the document root                             */
    int vocab, hidden, n_layers, max_context, mtp_depth, eos_token;
    WeightFormat weight_format; /* storage format of the matrices                */
    int fp8_block[2];           /* fp8: weight_scale_inv block [rows, cols]      */
    WeightFormat kept_format;   /* int8/int4/mxfp4_dense: the unquantised matrices' format */
    bool scale_f16;             /* int8/int4: block scales stored as f16 (weights: {scale: f16}) */
    char weight_prefix[64];     /* tensor-name prefix                            */
} GraphModel;

/* One decoder layer (the MTP module's layer included), for comments. */
typedef struct GraphLayer {
    bool mla, nope;             /* latent attention; no RoPE                     */
    NormPlacement norms;
    int window;                 /* sliding window (0 = none)                     */
    SrcLoc loc;                 /* the `blocks:` entry                           */
} GraphLayer;

typedef struct Graph {
    GraphModel model;
    GraphLayer layer[SPEC_MAX_LAYERS + 1];
    Node *nodes;   int n_nodes, cap_nodes;
    Value *vals;   int n_vals, cap_vals;
    Weight *weights; int n_weights, cap_weights;
    RopeTable rope[SPEC_MAX_VARIANTS]; int n_rope;
    int n_caches;               /* attention layers with a KV cache              */
    int cache_kv_width[SPEC_MAX_LAYERS]; /* per cache: kv_heads*head_dim (K), same for V */
    int cache_v_width[SPEC_MAX_LAYERS];
    int cache_rows[SPEC_MAX_LAYERS];     /* 0 = max_context rows; swa-tile: a ring */
    int tmax;                   /* tokens per prefill chunk                      */
    int64_t arena_floats;       /* memplan: arena size in floats per token row    */
    bool memplanned;
    bool decode_persistent;     /* decode-persistent pass: the CUDA backend prints the decode step as one persistent kernel */
    const char *passes_run[16]; int n_passes_run;
} Graph;

/* ir/graph.c */
void graph_init(Graph *g);
void graph_free(Graph *g);
int graph_add_value(Graph *g, int width, const char *role, int layer);
Node *graph_add_node(Graph *g, Op op, int layer, SrcLoc loc);
int graph_add_weight(Graph *g, const char *name, WeightRole role, int ndim,
                     const int64_t *shape, WeightFormat fmt, int flags, int layer);
void graph_compact(Graph *g);   /* drop dead nodes, keep order                  */
void graph_liveness(Graph *g);  /* fill Value.last_use                          */
int graph_verify(const Graph *g, const char *after);  /* 0 ok; else prints and returns -1 */
void graph_print(const Graph *g, FILE *f);
int64_t graph_weight_bytes(const Graph *g);  /* bytes read per decoded token    */
int64_t graph_weight_bytes_all(const Graph *g); /* every weight once             */
int64_t graph_kv_bytes(const Graph *g);      /* KV cache bytes at max_context   */
const Node *graph_layer_moe(const Graph *g, int layer); /* the layer's moe node, or NULL */
size_t wfmt_bytes(WeightFormat f);
/* fp8 weights: the [rows, cols] of one weight_scale_inv block (weights.block, default 128 × 128),
 * and the shape of a weight's multiplier tensor, [ceil(out/rows), ceil(in/cols)] */
void graph_fp8_block(const Graph *g, int block[2]);
void graph_fp8_scale_shape(const Graph *g, const Weight *w, int64_t shape[2]);            /* bytes per element (f32/bf16/f16) */
/* Block-scaled matrices (fp8, and archc quantize's int8 / int4 / dense MXFP4): whether a weight
 * has a multiplier tensor; its name suffix ("_scale_inv", "_scale", "_scales") and bytes per
 * multiplier (4: f32, 1: e8m0).  int8/int4/MXFP4 blocks are 1 × 32 (graph_fp8_block). */
bool weight_block_scaled(const Weight *w);
const char *weight_scale_suffix(const Weight *w);
int weight_scale_elem_bytes(const Weight *w);
/* Bytes of a matrix as stored (int4 and MXFP4: half a byte per weight), its scales excluded. */
int64_t weight_stored_bytes(const Weight *w);

/* ir/lower.c — ModelSpec → Graph.  Returns 0, or -1 with a diagnostic
 * ("not yet supported: …") for features the backend cannot lower yet. */
int lower_model(const ModelSpec *spec, Graph *g);

#endif
