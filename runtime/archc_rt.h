/*
 * runtime/archc_rt.h — the contract between a generated model file and the runtime.
 *
 * A generated model.c defines the weights it expects, a forward function, and
 *
 *     int main(int argc, char **argv) { return rt_main(argc, argv, &archc_model); }
 *
 * rt_main (runtime/main.c) does everything that is not the model: the command
 * line (see DESIGN.md "Contracts"), opening the checkpoint and binding every
 * weight (runtime/safetensors.c), the tokenizer (runtime/tokenizer.c), the
 * generation loop with the sampler, --logits / --print-ids / --bench, and the
 * thread pool the kernels use.
 */
#ifndef ARCHC_RT_H
#define ARCHC_RT_H

#include <stddef.h>
#include <stdint.h>
#include "safetensors.h"

#ifdef __cplusplus   /* the CUDA backend's .cu files include this header */
extern "C" {
#define RT_NORETURN [[noreturn]]
#else
#define RT_NORETURN _Noreturn
#endif

typedef struct RtModel {
    const char *name;            /* model name from the YAML                           */
    const char *source;          /* YAML path it was compiled from                     */
    int vocab;                   /* logits per token                                   */
    int max_context;             /* KV cache capacity in tokens                        */
    int eos_token;               /* -1: none (generation runs for -n tokens)           */
    int64_t weight_bytes;        /* bytes of weights read per decoded token (dense)    */
    StExpect *weights;           /* every tensor the code reads, with its slot         */
    int n_weights;
    /* Called once after the weights are bound: allocate the KV cache and the
     * activation arena, run load-time weight transforms.  0 or -1 (err set). */
    int (*init)(char *err, size_t errlen);
    /* Run n tokens at positions pos .. pos+n-1 (pos tokens are already cached).
     * Writes logits for every token ([n][vocab]) when all_logits, else only for
     * the last token ([vocab]); hidden_out (or NULL) receives the final hidden
     * states, after the final norm ([n][hidden]). */
    void (*forward)(const int *tokens, int n, int pos, float *logits, int all_logits, float *hidden_out);
    void (*release)(void);
    int hidden;                  /* hidden size                                        */
    /* Multi-token prediction (NULL when the model has none): the MTP module on
     * positions pos .. pos+n-1, given the main model's final hidden states there
     * and the tokens that followed them; writes the draft logits of the last
     * position ([vocab]).  It keeps its own KV cache. */
    void (*mtp)(const float *hidden, const int *tokens, int n, int pos, float *logits);
    /* Optional (the CUDA backend; NULL for C models):
     * probe: is the machine able to run this model at all (a GPU)?  Called
     *   before the weights are read; 0, or -1 with err set.
     * forward_greedy: one decode step of `token` at `pos`, returning the id of
     *   the largest logit (ties: the lower id, as sampler_argmax) without
     *   handing the logits out; used for greedy generation without
     *   --decode-logits. */
    int (*probe)(char *err, size_t errlen);
    int (*forward_greedy)(int token, int pos);
} RtModel;

int rt_main(int argc, char **argv, const RtModel *model);

/* ── instruction-set dispatch (runtime/isa.c) ───────────────────────────────
 * A --target build compiles the model once per instruction-set variant; its
 * main() hands the variants, best first, to rt_dispatch_main, which runs the
 * first one this CPU (and OS) supports.  ARCHC_ISA=NAME in the environment
 * forces a variant (an error if the CPU lacks it). */
enum {
    RT_CPU_X86_V3 = 1u << 0,       /* AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE + OS AVX state */
    RT_CPU_AVXVNNI = 1u << 1,      /* AVX-VNNI (VEX-encoded)                               */
    RT_CPU_X86_V4 = 1u << 2,       /* AVX-512 F/BW/CD/DQ/VL + OS ZMM state                 */
    RT_CPU_AVX512BF16 = 1u << 3,
    RT_CPU_AVX512VNNI = 1u << 4,
    RT_CPU_ARM_DOTPROD = 1u << 8,  /* AArch64 SDOT/UDOT (HWCAP_ASIMDDP)                    */
};
typedef struct RtVariant {
    const char *name;              /* "x86-64-v4+bf16+vnni", "armv8.2-a+dotprod", …        */
    unsigned needs;                /* RT_CPU_* bits the variant was compiled for          */
    const RtModel *(*model)(void);
} RtVariant;
unsigned rt_cpu_features(void);
int rt_dispatch_main(int argc, char **argv, const RtVariant *variants, int n_variants);
extern const char *rt_isa_name;    /* the variant running; "native" for a -march=native build */
/* Intel AMX (tile registers, TDPBF16PS) for --precision=bf16 prefill: 1 when
 * the CPU has AMX-TILE and AMX-BF16 and Linux granted this process the tile
 * state (arch_prctl ARCH_REQ_XCOMP_PERM), once; ARCHC_AMX=0 in the
 * environment switches it off (the AVX512_BF16 kernels run instead). */
int rt_amx_ready(void);
int rt_cpu_vendor_intel(void);    /* CPUID vendor is GenuineIntel (kernel choices tuned per vendor) */

/* ── thread pool (runtime/threadpool.c) ─────────────────────────────────────
 * rt_parallel_for splits [0, n) into contiguous chunks that the threads claim
 * in turn (about four per thread), calls fn(ctx, begin, end) on each and
 * returns when all are done; fn must accept any sub-range.  The calling thread
 * takes part.  With one thread (or n = 1) it is a plain call. */
typedef void (*RtRangeFn)(void *ctx, int begin, int end);
void rt_parallel_for(int n, RtRangeFn fn, void *ctx);
void rt_threads_init(int n_threads);   /* 0 = number of CPUs available; capped at that */
int rt_cpu_count(void);                /* CPUs this process may run on (affinity), ≥ 1 */
int rt_threads(void);
void rt_threads_shutdown(void);

/* ── arithmetic precision (--precision) ─────────────────────────────────────
 * RT_PRECISION_F32 (default): every product and sum in f32, exact to the
 * reference within the fixtures' tolerance.  RT_PRECISION_BF16: prefill
 * matrix products of bf16 weights round the activations to bf16 and use the
 * CPU's bf16 dot-product instructions (AVX512_BF16; AMX tiles for prefill
 * where rt_amx_ready), as transformers does
 * when it runs a model in bf16; faster, not exact.  Without those
 * instructions, and for decode (memory-bound), it changes nothing. */
enum { RT_PRECISION_F32 = 0, RT_PRECISION_BF16 = 1 };
extern int rt_precision;

/* ── misc ─────────────────────────────────────────────────────────────────── */
double rt_now(void);                         /* monotonic seconds                    */
void *rt_alloc(size_t bytes);                /* 64-byte aligned, zeroed; exits on OOM */
void rt_free(void *p);
RT_NORETURN void rt_die(const char *fmt, ...); /* "error: …" on stderr, exit 1          */


/* ── RoPE frequencies (runtime/rope.c) ──────────────────────────────────────
 * One function computes the inverse frequencies of every RoPE kind exactly as
 * Hugging Face does (f32 arithmetic where HF uses f32 tensors, double where it
 * uses Python floats).  archc calls it at compile time (rope-fold: the table is
 * emitted as literals); with rope-fold disabled the generated code calls it at
 * load time.  Both therefore agree bit for bit. */
typedef enum { RT_ROPE_DEFAULT, RT_ROPE_LINEAR, RT_ROPE_LLAMA3, RT_ROPE_YARN } RtRopeKind;
typedef struct RtRopeParams {
    RtRopeKind kind;
    double theta;
    int dims;                       /* rotary dims (table has dims/2 entries)       */
    double factor;
    int original_max_position;
    double low_freq_factor, high_freq_factor;   /* llama3                          */
    double beta_fast, beta_slow;                /* yarn                            */
    int truncate;                               /* yarn                            */
    int has_attention_factor; double attention_factor;
    int has_mscale; double mscale;
    int has_mscale_all_dim; double mscale_all_dim;
} RtRopeParams;
/* Fills inv_freq[dims/2] and *mscale (the cos/sin multiplier; 1 unless YaRN). */
void rt_rope_inv_freq(const RtRopeParams *p, float *inv_freq, float *mscale);
/* cos/sin for positions pos .. pos+T-1: cos[t*(dims/2) + i] = mscale*cos(f32(p*inv_freq[i])). */
void rt_rope_angles(const float *inv_freq, int half, float mscale, int pos, int T, float *cos_out, float *sin_out);

#ifdef __cplusplus
}
#endif

#endif
