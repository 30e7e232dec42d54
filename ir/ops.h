/*
 * ir/ops.h — the op table, the single source of truth for the IR's ops.
 *
 * Columns:  OP(ENUM, "name", n_inputs, elementwise, reads_weights)
 *   n_inputs       activation inputs (weights are referenced separately)
 *   elementwise    1 if out[t][i] depends only on in[t][i] (fusable into epilogues)
 *   reads_weights  1 if the op references weight tensors
 *
 * Activations are always 2-D [T, n] f32: T is the symbolic token count of the call.
 * Ops that touch the KV cache name it by layer (attrs).  Fused ops are produced only
 * by passes; lowering never creates them.
 */
/*  enum               name                 in elt  w   */
OP(OP_INPUT,          "input",              0,  0,  0) /* token ids (int), [T]                        */
OP(OP_EMBED,          "embed",              1,  0,  1) /* rows of the embedding table (× scale)       */
OP(OP_RMSNORM,        "rmsnorm",            1,  0,  1) /* RMSNorm over groups of `group` values       */
OP(OP_LINEAR,         "linear",             1,  0,  1) /* y = x·Wᵀ (+ b)                              */
OP(OP_BIAS,           "bias",               1,  1,  1) /* y = x + b (row-broadcast)                   */
OP(OP_ADD,            "add",                2,  1,  0) /* y = a + b                                   */
OP(OP_ROPE,           "rope",               1,  0,  0) /* rotate each head of x by its position       */
OP(OP_KV_STORE,       "kv_store",           2,  0,  0) /* write k, v rows into the layer's cache      */
OP(OP_ATTENTION,      "attention",          1,  0,  0) /* softmax(q·Kᵀ·scale + mask)·V over the cache */
OP(OP_GLU,            "glu",                2,  1,  0) /* y = act(gate) ⊙ up                          */
OP(OP_LOGITS,         "logits",             1,  0,  1) /* final projection to the vocabulary          */
OP(OP_MOE,            "moe",                1,  0,  1) /* router + top-k experts (+ shared experts)   */
OP(OP_MLA_ATTENTION,  "mla_attention",      2,  0,  1) /* MLA over the latent cache (q, c_kv|k_pe)    */
/* multi-token prediction (DeepSeek-V3 / GLM-4.5 MTP module; forward_mtp only) */
OP(OP_HIDDEN_IN,      "hidden_in",          0,  0,  0) /* the main model's final hidden states, [T, H] */
OP(OP_CONCAT,         "concat",             2,  0,  0) /* y = [a | b] per token                       */
/* fused ops (passes only) */
OP(OP_QK_ROPE_STORE,  "qk_norm_rope_store", 3,  0,  1) /* qknorm-fuse: q/k norm + rope + cache write   */
OP(OP_LINEAR_GLU,     "linear_glu",         1,  0,  1) /* epilogue-fuse: act(x·Wgᵀ) ⊙ (x·Wuᵀ)         */
