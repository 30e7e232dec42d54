/*
 * frontend/spec_names.c — YAML spellings of the spec enums, for printing.
 */
#include "spec.h"

const char *norm_kind_name(NormKind k) {
    switch (k) {
    case NORM_RMS: return "rmsnorm";
    case NORM_RMS_GEMMA: return "rmsnorm_gemma";
    case NORM_L2: return "l2";
    }
    return "?";
}

const char *rope_kind_name(RopeKind k) {
    switch (k) {
    case ROPE_DEFAULT: return "default";
    case ROPE_LINEAR: return "linear";
    case ROPE_LLAMA3: return "llama3";
    case ROPE_YARN: return "yarn";
    case ROPE_DYNAMIC_NTK: return "dynamic_ntk";
    }
    return "?";
}

const char *act_kind_name(ActKind k) {
    switch (k) {
    case ACT_SWIGLU: return "swiglu";
    case ACT_GEGLU_TANH: return "geglu_tanh";
    case ACT_SWIGLU_OAI: return "swiglu_oai";
    }
    return "?";
}

const char *wfmt_name(WeightFormat f) {
    switch (f) {
    case WFMT_F32: return "f32";
    case WFMT_BF16: return "bf16";
    case WFMT_F16: return "f16";
    case WFMT_FP8_E4M3: return "fp8_e4m3";
    case WFMT_MXFP4: return "mxfp4";
    case WFMT_U8: return "u8";
    case WFMT_I8: return "int8";
    case WFMT_I4: return "int4";
    case WFMT_MXFP4_DENSE: return "mxfp4_dense";
    }
    return "?";
}
