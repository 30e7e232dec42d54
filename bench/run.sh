#!/usr/bin/env bash
# bench/run.sh — decode and prefill speed of the qwen3-0.6b example against the
# machine's ceilings, all measured in this one run.
#
#   bash bench/run.sh [MODEL.yaml]      (default examples/qwen3-0.6b.yaml)
#
# For f32 and bf16 weights: random weights (archc init-weights), a 128-token
# prefill and 64 decode steps at 1 and 2 threads.  Prints tokens/s, weight bytes
# read per decoded token, achieved GB/s and the ratios to the measured read
# bandwidth (decode roofline) and to the f32 matmul ceiling (prefill: OpenBLAS
# sgemm when libopenblas is installed, else the FMA peak).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-examples/qwen3-0.6b.yaml}
WORK=${BENCH_WORK:-/tmp/archc-bench}
mkdir -p "$WORK"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target archc bench_ceilings >/dev/null

# OpenBLAS does not recognise Zen 4 and would take its AVX2 kernels there; name
# SkylakeX (AVX-512) only where the CPU has AVX-512: on an AVX2-only CPU those
# kernels die with SIGILL (numpy's bundled OpenBLAS in the checks below included).
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX; fi
echo "== ceilings (measured before and after the model runs; the higher one counts)"
./build/bench_ceilings 2 | tee "$WORK/ceilings.txt"
# max over all measurements of NAME at THREADS
ceil() { awk -v n="$1" -v t="$2" '$2 ~ "^"n"=[0-9]" { split($2,a,"="); split($3,b,"="); if (b[2]==t && a[2]+0 > m) m = a[2]+0 } END { print m+0 }' "$WORK/ceilings.txt"; }
bw() { ceil read_bandwidth_gb_s "$1"; }
mm() { local s; s=$(ceil sgemm_gflops "$1"); [ "$s" != 0 ] || s=$(ceil fma_peak_gflops "$1"); echo "$s"; }
mmname=$(grep -q 'sgemm_gflops=[0-9]' "$WORK/ceilings.txt" && echo sgemm || echo fma_peak)

PROMPT=$(seq -s, 1000 1127)   # 128 token ids
RESULTS=$WORK/results.txt
: > "$RESULTS"
echo "== running $MODEL"
for dtype in f32 bf16; do
  W="$WORK/$(basename "$MODEL" .yaml)-$dtype"
  [ -f "$W/model.safetensors" ] || ./build/archc init-weights "$MODEL" -o "$W" --dtype "$dtype" --seed 1
  ./build/archc "$MODEL" --weights-format="$dtype" -o "$WORK/model-$dtype"
  bytes=$(./build/archc --emit=ir --weights-format="$dtype" "$MODEL" | awk '/weight bytes per decoded token/ {print $7}')
  esize=$([ "$dtype" = f32 ] && echo 4 || echo 2)
  for thr in 1 2; do
    # best of three runs: the machine is shared and noisy
    pf=0; dc=0
    for rep in 1 2 3; do
      line=$("$WORK/model-$dtype" --weights "$W" --tokens "$PROMPT" -n 64 --bench --threads "$thr" 2>/dev/null | grep '^bench ')
      p1=$(sed -E 's/.*prefill_tok_s=([0-9.]+).*/\1/' <<<"$line"); d1=$(sed -E 's/.*decode_tok_s=([0-9.]+).*/\1/' <<<"$line")
      pf=$(awk -v a="$pf" -v b="$p1" 'BEGIN { print (b > a ? b : a) }'); dc=$(awk -v a="$dc" -v b="$d1" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "archc $dtype $thr $pf $dc $bytes $esize" >> "$RESULTS"
    if [ -z "${BENCH_NO_PEER:-}" ]; then
      peer=$(python3 bench/peer_torch.py "$W" "$thr" 16 2>/dev/null | grep '^peer ' || true)
      if [ -n "$peer" ]; then
        ppf=$(sed -E 's/.*prefill_tok_s=([0-9.]+).*/\1/' <<<"$peer"); pdc=$(sed -E 's/.*decode_tok_s=([0-9.]+).*/\1/' <<<"$peer")
        echo "torch $dtype $thr $ppf $pdc" >> "$RESULTS"
      fi
    fi
  done
done

./build/bench_ceilings 2 | tee -a "$WORK/ceilings.txt"
printf '\n== %s: 128-token prefill, 64 decode steps (best of 3); peer: PyTorch + transformers on the same weights\n' "$MODEL"
printf '%-6s %-5s %-3s %11s %10s %12s %8s %6s %12s %8s\n' who dtype thr prefill_t/s decode_t/s bytes/token GB/s "%bw" prefill_GF/s "%$mmname"
while read -r who dtype thr pf dc bytes esize; do
  if [ "$who" = archc ]; then
    awk -v d="$dtype" -v t="$thr" -v pf="$pf" -v dc="$dc" -v by="$bytes" -v es="$esize" -v bw="$(bw "$thr")" -v mm="$(mm "$thr")" 'BEGIN {
      gbs = dc * by / 1e9; gf = pf * 2 * by / es / 1e9;
      printf "%-6s %-5s %-3s %11.1f %10.2f %12.0f %8.2f %5.0f%% %12.1f %7.0f%%\n", "archc", d, t, pf, dc, by, gbs, 100 * gbs / bw, gf, 100 * gf / mm }'
  else
    printf '%-6s %-5s %-3s %11.1f %10.2f\n' torch "$dtype" "$thr" "$pf" "$dc"
  fi
done < "$RESULTS"
