/*
 * ir/roles.h — the weight-role table: what a checkpoint tensor is to the model.
 *
 * Columns:  ROLE(ENUM, "member", routed)
 *   member   the role's name: the member of the emitted weight struct (codegen) and
 *            of LayerWeights for per-layer roles
 *   routed   1 for the routed experts' tensors (a decoded token reads top_k of them)
 *
 * A Weight is identified by (layer, role, expert): layer -1 outside the layers
 * (the MTP module's weights are those of layer n_layers), expert >= 0 only for one
 * expert's own matrix (DeepSeek / Qwen3-MoE layouts; stacked layouts keep all
 * experts in one tensor, expert -1).
 */
/*    enum                        member                     routed */
ROLE(WR_EMBED,                   "embed",                   0) /* token embedding table          */
ROLE(WR_LM_HEAD,                 "lm_head",                 0) /* vocabulary projection          */
ROLE(WR_FINAL_NORM,              "final_norm",              0)
ROLE(WR_INPUT_NORM,              "input_norm",              0) /* before attention               */
ROLE(WR_POST_ATTN_NORM,          "post_attn_norm",          0) /* on the attention output        */
ROLE(WR_PRE_FFN_NORM,            "pre_ffn_norm",            0)
ROLE(WR_POST_FFN_NORM,           "post_ffn_norm",           0)
/* attention */
ROLE(WR_C_ATTN,                  "c_attn",                  0) /* Qwen-1 fused q|k|v             */
ROLE(WR_C_ATTN_BIAS,             "c_attn_bias",             0)
ROLE(WR_Q_PROJ,                  "q_proj",                  0)
ROLE(WR_K_PROJ,                  "k_proj",                  0)
ROLE(WR_V_PROJ,                  "v_proj",                  0)
ROLE(WR_O_PROJ,                  "o_proj",                  0)
ROLE(WR_Q_BIAS,                  "q_bias",                  0)
ROLE(WR_K_BIAS,                  "k_bias",                  0)
ROLE(WR_V_BIAS,                  "v_bias",                  0)
ROLE(WR_O_BIAS,                  "o_bias",                  0)
ROLE(WR_Q_NORM,                  "q_norm",                  0)
ROLE(WR_K_NORM,                  "k_norm",                  0)
ROLE(WR_SINKS,                   "sinks",                   0) /* gpt-oss per-head sink logits   */
/* multi-head latent attention */
ROLE(WR_Q_A_PROJ,                "q_a_proj",                0)
ROLE(WR_Q_A_BIAS,                "q_a_bias",                0)
ROLE(WR_Q_A_NORM,                "q_a_norm",                0)
ROLE(WR_Q_B_PROJ,                "q_b_proj",                0)
ROLE(WR_KV_A_PROJ,               "kv_a_proj",               0)
ROLE(WR_KV_A_BIAS,               "kv_a_bias",               0)
ROLE(WR_KV_A_NORM,               "kv_a_norm",               0)
ROLE(WR_KV_B_PROJ,               "kv_b_proj",               0)
/* dense feed-forward */
ROLE(WR_GATE_PROJ,               "gate_proj",               0)
ROLE(WR_UP_PROJ,                 "up_proj",                 0)
ROLE(WR_DOWN_PROJ,               "down_proj",               0)
ROLE(WR_GATE_BIAS,               "gate_bias",               0)
ROLE(WR_UP_BIAS,                 "up_bias",                 0)
ROLE(WR_DOWN_BIAS,               "down_bias",               0)
/* mixture of experts */
ROLE(WR_ROUTER,                  "router",                  0)
ROLE(WR_ROUTER_BIAS,             "router_bias",             0) /* added to the logits (gpt-oss)  */
ROLE(WR_ROUTER_SELECT_BIAS,      "router_select_bias",      0) /* selection only (DeepSeek-V3)   */
ROLE(WR_EXPERTS_GATE,            "experts_gate",            1) /* one expert's matrix            */
ROLE(WR_EXPERTS_UP,              "experts_up",              1)
ROLE(WR_EXPERTS_DOWN,            "experts_down",            1) /* one expert's, or all (stacked) */
ROLE(WR_EXPERTS_GATE_UP,         "experts_gate_up",         1) /* stacked                        */
ROLE(WR_EXPERTS_GATE_UP_SCALES,  "experts_gate_up_scales",  1) /* MXFP4 e8m0 exponents           */
ROLE(WR_EXPERTS_DOWN_SCALES,     "experts_down_scales",     1)
ROLE(WR_EXPERTS_GATE_UP_BIAS,    "experts_gate_up_bias",    1)
ROLE(WR_EXPERTS_DOWN_BIAS,       "experts_down_bias",       1)
ROLE(WR_SHARED_GATE,             "shared_gate",             0)
ROLE(WR_SHARED_UP,               "shared_up",               0)
ROLE(WR_SHARED_DOWN,             "shared_down",             0)
/* multi-token prediction module */
ROLE(WR_MTP_EMBED,               "mtp_embed",               0)
ROLE(WR_ENORM,                   "enorm",                   0)
ROLE(WR_HNORM,                   "hnorm",                   0)
ROLE(WR_EH_PROJ,                 "eh_proj",                 0)
ROLE(WR_MTP_NORM,                "mtp_norm",                0)
ROLE(WR_MTP_HEAD,                "mtp_head",                0)
