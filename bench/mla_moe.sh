#!/usr/bin/env bash
# bench/mla_moe.sh — DeepSeek-style MLA + MoE at a size this machine can run:
# the real per-head MLA shape (kv_lora_rank 512, nope 128, rope 64, v 128) on
# 16 heads, hidden 1024, 2 layers (1 dense + 1 MoE with 64 experts, top 6,
# 1 shared), bf16 random weights.
#
#   bash bench/mla_moe.sh [CONTEXTS…]     (default: 256 1024 4096)
#
# For each context: prefill that many tokens, then 16 decode steps, with the
# mla-absorb pass on and off.  Prints decode tokens/s and the bytes a decode
# step moves: weights (active experts only) plus the KV reads — the latent
# cache (r + dr values per token) when absorbed; when materialised, also the
# K_nope/V rebuilt for every cached token (heads·(dn+dv) values, written and
# read back) and the kv_b_proj weights read once per step either way.
set -euo pipefail
cd "$(dirname "$0")/.."
CTXS=${*:-256 1024 4096}
WORK=${BENCH_WORK:-/tmp/archc-bench-mla}
mkdir -p "$WORK"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target archc bench_ceilings >/dev/null
cat > "$WORK/mla.yaml" <<'YAML'
name: mla-moe-bench
family: deepseek_v3
vocab: 32000
hidden: 1024
layers: 2
max_context: 4200
norm: {kind: rmsnorm, eps: 1e-06}
rope: {kind: yarn, theta: 10000, dims: 64, layout: interleaved, factor: 40, original_max_position: 4096,
       beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1}
attention: {kind: mla, heads: 16, q_lora_rank: 384, kv_lora_rank: 512, qk_nope_dim: 128, qk_rope_dim: 64, v_dim: 128,
            scale: 0.13523378}
ffn:
  dense: {kind: swiglu, intermediate: 4096}
  moe:
    kind: swiglu
    intermediate: 512
    experts: 64
    top_k: 6
    shared: 1
    router: {score: sigmoid, select_bias: true, groups: 8, top_groups: 4, normalize: true, scale: 2.5}
blocks:
  - {layers: all, norms: pre, ffn: moe}
  - {layers: 0, ffn: dense}
weights: {names: hf, format: bf16}
YAML
[ -f "$WORK/w/model.safetensors" ] || ./build/archc init-weights "$WORK/mla.yaml" -o "$WORK/w" --dtype bf16 --seed 1
./build/archc "$WORK/mla.yaml" -o "$WORK/on"
./build/archc "$WORK/mla.yaml" -o "$WORK/off" --disable-pass=mla-absorb
IR=$(./build/archc --emit=ir "$WORK/mla.yaml")
WB=$(awk '/weight bytes per decoded token/ {print $7}' <<<"$IR")
WALL=$(awk '/weight bytes per decoded token/ {gsub(/\)/, "", $10); print $10}' <<<"$IR")
BW=$(./build/bench_ceilings 2 | awk '$2 ~ /^read_bandwidth_gb_s=/ && $3 == "threads=2" { split($2, a, "="); print a[2] }' | sort -g | tail -1)
echo "weights: $WB bytes read per decoded token (active experts), $WALL in all; read bandwidth ${BW:-?} GB/s (2 threads)"
LAYERS=2 R=512 DR=64 NH=16 DN=128 DV=128
printf '%-8s %-13s %10s %14s %14s %8s\n' context mla-absorb decode_t/s kv_bytes/token bytes/token GB/s
for ctx in $CTXS; do
  PROMPT=$(seq -s, 1 "$ctx")
  for mode in on off; do
    best=0
    for rep in 1 2; do
      line=$("$WORK/$mode" --weights "$WORK/w" --tokens "$PROMPT" -n 16 --bench --threads 2 2>/dev/null | grep '^bench ')
      d=$(sed -E 's/.*decode_tok_s=([0-9.]+).*/\1/' <<<"$line")
      best=$(awk -v a="$best" -v b="$d" 'BEGIN { print (b > a ? b : a) }')
    done
    kv=$(awk -v c="$ctx" -v L=$LAYERS -v r=$R -v dr=$DR -v nh=$NH -v dn=$DN -v dv=$DV -v m=$mode 'BEGIN {
      lat = c * (r + dr) * 4; mat = (m == "off") ? 2 * c * nh * (dn + dv) * 4 : 0; print L * (lat + mat) }')
    awk -v c="$ctx" -v m="$mode" -v d="$best" -v kv="$kv" -v wb="$WB" 'BEGIN {
      printf "%-8d %-13s %10.2f %14.0f %14.0f %8.2f\n", c, m, d, kv, wb + kv, d * (wb + kv) / 1e9 }'
  done
done
