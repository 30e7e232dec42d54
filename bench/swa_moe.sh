#!/usr/bin/env bash
# bench/swa_moe.sh — a sliding-window model and a MoE model shaped like the
# small flagships, scaled to this machine, bf16 random weights:
#
#   gemma-3-1b (real config: 26 layers, hidden 1152, 5 local (window 512) : 1
#     global, head_dim 256, tied 262k vocabulary)
#   qwen3-30b-a3b with 4 of its 48 layers (hidden 2048, 128 experts, top 8,
#     expert width 768, 32/4 heads of 128)
#
#   bash bench/swa_moe.sh [PROMPT_TOKENS]     (default 1024: past the 512 window)
#
# Prints prefill and decode tokens/s at 2 threads (best of 2), the weight bytes
# a decode step reads (active experts only for the MoE), the KV cache bytes at
# the prompt length, and the achieved read bandwidth against the measured one.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-1024}
WORK=${BENCH_WORK:-/tmp/archc-bench-swa-moe}
mkdir -p "$WORK"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target archc bench_ceilings >/dev/null
cat > "$WORK/gemma3-1b.yaml" <<'YAML'
name: gemma-3-1b-shape
family: gemma3_text
vocab: 262144
hidden: 1152
layers: 26
max_context: 4096
norm: {kind: rmsnorm_gemma, eps: 1e-06}
rope:
  local: {kind: default, theta: 10000}
  global: {kind: default, theta: 1000000}
attention: {kind: gqa, heads: 4, kv_heads: 1, head_dim: 256, qk_norm: head, scale: 0.0625}
ffn: {kind: geglu_tanh, intermediate: 6912}
blocks:
  - {layers: all, norms: sandwich}
  - {layers: 0-4, window: 512}
  - {layers: 5, rope: global}
  - {layers: 6-10, window: 512}
  - {layers: 11, rope: global}
  - {layers: 12-16, window: 512}
  - {layers: 17, rope: global}
  - {layers: 18-22, window: 512}
  - {layers: 23, rope: global}
  - {layers: 24-25, window: 512}
tie_embeddings: true
embed_scale: sqrt_hidden
weights: {names: hf, format: bf16}
YAML
sed -e 's/^layers: 48/layers: 4/' -e 's/^max_context: .*/max_context: 4096/' -e 's/format: [a-z0-9]*/format: bf16/' \
    -e 's/^name: .*/name: qwen3-30b-a3b-4-layers/' examples/qwen3-30b-a3b.yaml > "$WORK/qwen3-moe.yaml"
BW=$(./build/bench_ceilings 2 | awk '$2 ~ /^read_bandwidth_gb_s=/ && $3 == "threads=2" { split($2, a, "="); print a[2] }' | sort -g | tail -1)
PROMPT=$(seq -s, 1000 $((999 + P)))
printf 'read bandwidth %s GB/s (2 threads); prompt %d tokens, 32 decode steps\n' "$BW" "$P"
printf '%-24s %11s %10s %14s %14s %8s %6s\n' model prefill_t/s decode_t/s weight_B/token all_weights_B GB/s "%bw"
for m in gemma3-1b qwen3-moe; do
  Y="$WORK/$m.yaml"
  [ -f "$WORK/w-$m/model.safetensors" ] || ./build/archc init-weights "$Y" -o "$WORK/w-$m" --dtype bf16 --seed 1 >/dev/null
  ./build/archc "$Y" -o "$WORK/$m"
  IR=$(./build/archc --emit=ir "$Y")
  WB=$(awk '/weight bytes per decoded token/ {print $7}' <<<"$IR")
  WALL=$(awk '/weight bytes per decoded token/ {gsub(/\)/, "", $10); print $10}' <<<"$IR")
  pf=0; dc=0
  for rep in 1 2; do
    line=$("$WORK/$m" --weights "$WORK/w-$m" --tokens "$PROMPT" -n 32 --bench --threads 2 2>/dev/null | grep '^bench ')
    p1=$(sed -E 's/.*prefill_tok_s=([0-9.]+).*/\1/' <<<"$line"); d1=$(sed -E 's/.*decode_tok_s=([0-9.]+).*/\1/' <<<"$line")
    pf=$(awk -v a="$pf" -v b="$p1" 'BEGIN { print (b > a ? b : a) }'); dc=$(awk -v a="$dc" -v b="$d1" 'BEGIN { print (b > a ? b : a) }')
  done
  awk -v m="$m" -v pf="$pf" -v dc="$dc" -v wb="$WB" -v wall="$WALL" -v bw="$BW" 'BEGIN {
    gbs = dc * wb / 1e9; printf "%-24s %11.1f %10.2f %14.0f %14.0f %8.2f %5.0f%%\n", m, pf, dc, wb, wall, gbs, 100 * gbs / bw }'
done
