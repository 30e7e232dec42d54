/*
 * runtime/safetensors.h — load Hugging Face safetensors checkpoints (mmap) and
 * bind their tensors to the slots a generated model expects; write them too
 * (archc init-weights, tests).
 *
 * A checkpoint is either one .safetensors file, or a directory holding
 * model.safetensors or model.safetensors.index.json (+ shards).  Files are
 * read into huge-page memory or mmap'd, read-only (st_load_mode); binding hands
 * out pointers into them, so no further copy of a matrix is made.  1-D float tensors (norm weights, biases) may be widened to
 * f32 when the caller asks for that with ST_WIDEN_TO_F32.
 */
#ifndef ARCHC_SAFETENSORS_H
#define ARCHC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ST_F32, ST_F16, ST_BF16, ST_F64,
    ST_I64, ST_I32, ST_I16, ST_I8,
    ST_U64, ST_U32, ST_U16, ST_U8, ST_BOOL,
    ST_F8_E4M3, ST_F8_E5M2, ST_F8_E8M0,
    ST_DTYPE_COUNT
} StDtype;

/* How st_open brings files into memory: ST_LOAD_AUTO reads a checkpoint that
 * fits in half of RAM into memory on huge pages (faster decode) and maps larger
 * ones; ST_LOAD_MMAP always maps (the page cache is shared with other
 * processes; no copy), pre-faulting what fits; ST_LOAD_LAZY maps and touches
 * nothing (archc import and quantize, which read headers or stream tensors).
 * Set before st_open (the binary's --mmap). */
enum { ST_LOAD_AUTO = 0, ST_LOAD_MMAP = 1, ST_LOAD_LAZY = 2 };
extern int st_load_mode;

const char *st_dtype_name(StDtype t);        /* "F32", "BF16", … (safetensors spelling) */
size_t st_dtype_size(StDtype t);             /* bytes per element                       */

#define ST_MAX_DIMS 6

/* One tensor the model expects.  `slot` receives a pointer to the data.       */
enum {
    ST_OPTIONAL     = 1, /* absent is fine: *slot = NULL                              */
    ST_WIDEN_TO_F32 = 2, /* accept F32/BF16/F16 and hand out f32 (copied if needed)  */
};
typedef struct StExpect {
    const char *name;            /* full tensor name, e.g. model.layers.0.mlp.up_proj.weight */
    StDtype dtype;               /* expected dtype (ignored with ST_WIDEN_TO_F32)            */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int flags;
    const void **slot;
} StExpect;

typedef struct StCheckpoint StCheckpoint;

/* Open a file or directory.  NULL on error with a one-line message in err
 * (naming the path, and the tensor for per-tensor problems: bad offsets,
 * overflowing shapes, truncated data, unknown dtype, overlapping data, a name
 * that appears twice).  A tensor whose data is not aligned to its element size
 * is copied into an aligned buffer by st_bind (the mmap stays read-only). */
StCheckpoint *st_open(const char *path, char *err, size_t errlen);
/* Parse one safetensors file held in memory (data, size) under the display
 * name `name`, with every check st_open makes; the tensors point into `data`,
 * which must outlive the checkpoint.  For tests and the fuzzers. */
StCheckpoint *st_open_memory(const void *data, size_t size, const char *name, char *err, size_t errlen);
/* Parse model.safetensors.index.json text: the distinct shard file names of its
 * weight_map in order of first appearance (*shards, malloc'd strings) and, for
 * each, the first tensor it holds (*first_tensor).  A shard name that is not a
 * plain relative path inside the directory (absolute, "..", empty, NUL) is an
 * error naming the tensor.  0, or -1 with "INDEX_PATH: …" in err. */
int st_index_shards(const char *text, size_t len, const char *index_path, char ***shards, char ***first_tensor, int *n_shards,
                    char *err, size_t errlen);
/* Check every expected tensor (presence, dtype, shape) and fill the slots.
 * Returns 0, or -1 with the first mismatch in err, e.g.
 *   "tensor model.layers.0.self_attn.q_proj.weight: expected shape [64, 64], checkpoint has [64, 32]" */
int st_bind(StCheckpoint *ck, const StExpect *want, int n, char *err, size_t errlen);
/* Look up one tensor; NULL if absent. */
typedef struct StTensor {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} StTensor;
const StTensor *st_find(const StCheckpoint *ck, const char *name);
int st_count(const StCheckpoint *ck);
int st_file_count(const StCheckpoint *ck);                 /* the files it maps (one per shard) */
const char *st_file_path(const StCheckpoint *ck, int i);
const StTensor *st_tensor(const StCheckpoint *ck, int i);
void st_close(StCheckpoint *ck);

/* Write one .safetensors file (header padded to 8 bytes, {"format":"pt"} metadata).
 * Written to a temporary file in its directory and renamed on success; names
 * are JSON-escaped. */
typedef struct StWrite {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;            /* nbytes = numel * st_dtype_size(dtype) */
} StWrite;
int st_write(const char *path, const StWrite *t, int n, char *err, size_t errlen);

/* Conversions used by loaders and kernels. */
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);            /* round to nearest even */
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);

#ifdef __cplusplus
}
#endif

#endif
