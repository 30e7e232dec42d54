#!/usr/bin/env bash
# tools/cuda_check.sh prepare [--emu]   (here: builds everything into build-gpu/)
# tools/cuda_check.sh run               (on the GPU machine, in the repository root)
#
# The GPU validation of the CUDA backend (issue 9) in one short script, for a
# machine that has a GPU but no libyaml and little time:
#
#   prepare  configures a small archc without LLVM in build-gpu/archc (its only
#            shared library, libyaml, is copied beside it), then builds with
#            --target=cuda: every dense fixture of tests/fixtures (all passes
#            on), qwen3/gemma3/olmo2 with each pass off, and the
#            qwen3-0.6b example for bf16 weights (the bench); and
#            bench/cuda_bw.cu.  With --emu the fixtures are built for the CPU
#            emulator instead (--target=cuda-emu), to try the run step here.
#   run      on the device: every fixture's prefill and decode logits against
#            transformers (max relative error, tolerance 1e-4) and its greedy
#            tokens (device argmax), one table; then the bench: HBM read
#            bandwidth, qwen3-0.6b (random bf16 weights made there with
#            build-gpu/archc init-weights) prefill and decode tok/s with
#            separate launches, the decode graph and the persistent kernel
#            (decode-persistent), and decode's fraction of the bandwidth.
#
# With the device tool: run `tools/cuda_check.sh prepare` here, then on the
# device `bash tools/cuda_check.sh run` with build-gpu carried.  It needs a C
# compiler there (for tests/compare_logits.c).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build-gpu
FIXTURES="deepseek_v2 deepseek_v3 deepseek_v3_fp8 deepseek_v3_mtp gemma3 glm4_moe gpt_oss gpt_oss_mxfp4 kimi_k2 llama llama4 llama_bf16 llama_tied mistral olmo2 qwen1 qwen2 qwen3 qwen3_f16 qwen3_moe qwen3_yarn smollm3"
PASSES="rope-fold qknorm-fuse epilogue-fuse swa-tile memplan"
PASS_FIXTURES="qwen3 gemma3 olmo2"
PERSISTENT_FIXTURES="qwen3 gemma3 qwen1 llama olmo2 smollm3"   # decode-persistent (dense models)

prepare() {
  local target=cuda
  [ "${1:-}" = "--emu" ] && target=cuda-emu
  mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/yaml"
  cmake -S "$ROOT" -B "$OUT/archc" -DCMAKE_BUILD_TYPE=Release -DARCHC_LLVM=OFF > "$OUT/cmake.log"
  cmake --build "$OUT/archc" --target archc archc_rt -j"$(nproc)" > "$OUT/build.log"
  local A=$OUT/archc/archc
  cp "$(ldd "$A" | awk '/libyaml/ {print $3}')" "$OUT/lib/"
  echo "$target" > "$OUT/target"
  for fx in $FIXTURES; do
    "$A" import "$ROOT/tests/fixtures/$fx/config.json" -o "$OUT/yaml/$fx.yaml" > /dev/null
    "$A" "$OUT/yaml/$fx.yaml" -o "$OUT/bin/$fx" --target=$target
  done
  for fx in $PASS_FIXTURES; do
    for p in $PASSES; do "$A" "$OUT/yaml/$fx.yaml" -o "$OUT/bin/$fx.no-$p" --target=$target --disable-pass=$p; done
  done
  for fx in $PERSISTENT_FIXTURES; do
    "$A" "$OUT/yaml/$fx.yaml" -o "$OUT/bin/$fx.persistent" --target=$target --enable-pass=decode-persistent
  done
  if [ "$target" = cuda ]; then
    "$A" "$ROOT/examples/qwen3-0.6b.yaml" -o "$OUT/bin/qwen3-0.6b.persistent" --target=cuda --weights-format=bf16 \
      --enable-pass=decode-persistent
    "$A" "$ROOT/examples/qwen3-0.6b.yaml" -o "$OUT/bin/qwen3-0.6b" --target=cuda --weights-format=bf16
    "$A" "$ROOT/examples/qwen3-0.6b.yaml" -o "$OUT/qwen3-0.6b.cu" --weights-format=bf16
    grep -o 'weight bytes read per decoded token: [0-9]*' "$OUT/qwen3-0.6b.cu" | grep -o '[0-9]*$' > "$OUT/qwen3-0.6b.bytes"
    nvcc -O3 -arch=sm_90 "$ROOT/bench/cuda_bw.cu" -o "$OUT/bin/cuda_bw"
  fi
  du -sh "$OUT/bin" "$OUT/lib"
  echo "prepared $OUT ($target); on the device: bash tools/cuda_check.sh run"
}

# max_rel_err of a compare_logits line ("ok: max_rel_err=…" or "FAIL: …")
rel() { sed -n 's/.*max_rel_err=\([^ ]*\).*/\1/p' | head -n 1; }

check_fixture() {   # NAME BINARY
  local fx=$1 bin=$2 F=$ROOT/tests/fixtures/$1 W=$OUT/work/$2
  mkdir -p "$W"
  local V P want got pre dec gr
  V=$(grep -o '"vocab_size": *[0-9]*' "$F/config.json" | grep -o '[0-9]*$')
  P=$(tr -d '\n' < "$F/prompt_ids.txt")
  want=$(tr -d '\n' < "$F/greedy_ids.txt")
  if ! "$OUT/bin/$bin" --weights "$F" --tokens "$P" -n 8 --logits "$W/l.bin" --decode-logits "$W/d.bin" --print-ids > "$W/out" 2> "$W/err"; then
    printf "| %-22s | run failed: %s |\n" "$bin" "$(tail -n 1 "$W/err")"; FAILS=$((FAILS + 1)); return
  fi
  pre=$("$OUT/cmp" "$F/logits.bin" "$W/l.bin" "$V" 1e-4 2>&1 || true)
  dec=$("$OUT/cmp" "$F/decode_logits.bin" "$W/d.bin" "$V" 1e-4 2>&1 || true)
  got=$("$OUT/bin/$bin" --weights "$F" --tokens "$P" -n 8 --print-ids 2>/dev/null | tail -n 1)   # device argmax
  gr=$([ "$got" = "$want" ] && [ "$(tail -n 1 "$W/out")" = "$want" ] && echo identical || echo DIFFERENT)
  local ok=ok
  case "$pre$dec" in *FAIL*) ok=FAIL ;; esac
  [ "$gr" = identical ] || ok=FAIL
  [ $ok = ok ] || FAILS=$((FAILS + 1))
  printf "| %-22s | %-9s | %-9s | %-9s | %-4s |\n" "$bin" "$(echo "$pre" | rel)" "$(echo "$dec" | rel)" "$gr" "$ok"
}

run() {
  [ -d "$OUT/bin" ] || { echo "error: $OUT/bin missing: run tools/cuda_check.sh prepare here and carry build-gpu"; exit 1; }
  local target
  target=$(cat "$OUT/target")
  cc -O2 -o "$OUT/cmp" "$ROOT/tests/compare_logits.c" -lm
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv,noheader || true
  FAILS=0
  echo
  echo "Exactness ($target): max relative error against transformers (tolerance 1e-4), greedy tokens (device argmax)"
  echo "| fixture                | prefill   | decode    | greedy    | ok   |"
  echo "|---|---|---|---|---|"
  for fx in $FIXTURES; do check_fixture "$fx" "$fx"; done
  for fx in $PASS_FIXTURES; do for p in $PASSES; do check_fixture "$fx" "$fx.no-$p"; done; done
  for fx in $PERSISTENT_FIXTURES; do check_fixture "$fx" "$fx.persistent"; done
  echo "fixture failures: $FAILS"
  [ "$target" = cuda ] || { echo "(emulator build: no bench)"; exit $((FAILS > 0)); }

  echo
  echo "Bench: qwen3-0.6b, random bf16 weights, 128-token prompt, 128 decoded tokens"
  local bw
  bw=$("$OUT/bin/cuda_bw" | tee /dev/stderr | sed -n 's/.*read_GBps=\([0-9.]*\).*/\1/p')
  local WD=${TMPDIR:-/tmp}/archc-q06-bf16
  [ -f "$WD/model.safetensors" ] || LD_LIBRARY_PATH=$OUT/lib "$OUT/archc/archc" init-weights "$ROOT/examples/qwen3-0.6b.yaml" -o "$WD" --dtype bf16 --seed 1
  local toks
  toks=$(seq -s, 1 128)
  local bytes
  bytes=$(cat "$OUT/qwen3-0.6b.bytes")
  # decode: separate launches, the CUDA graph, and the persistent kernel (decode-persistent), interleaved
  for rep in 1 2 3; do
    for mode in launches graph persistent; do
      bin=qwen3-0.6b; env="ARCHC_CUDA_GRAPH=1"
      [ $mode = launches ] && env="ARCHC_CUDA_GRAPH=0"
      [ $mode = persistent ] && bin=qwen3-0.6b.persistent
      env $env "$OUT/bin/$bin" --weights "$WD" --tokens "$toks" -n 129 --bench 2> /dev/null | grep '^bench' |
        awk -v m=$mode -v bw="$bw" -v b="${bytes:-0}" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          frac = (bw > 0 && b > 0) ? v["decode_tok_s"] * b / (bw * 1e9) : 0
          printf "%-10s prefill_tok_s=%s decode_tok_s=%s bytes_per_token=%s hbm_fraction=%.3f\n", m, v["prefill_tok_s"], v["decode_tok_s"], b, frac }'
    done
  done
  exit $((FAILS > 0))
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) run ;;
  *) echo "usage: tools/cuda_check.sh prepare [--emu] | run"; exit 2 ;;
esac
