#!/usr/bin/env bash
# tests/cuda/mla/run_nvcc.sh ARCHC WORK_DIR MODEL.yaml…
#
# Every MLA model's .cu (f32 and bf16 weights, mla-absorb on and off) compiles
# with nvcc for sm_90: the kernels the emulator checks are also valid CUDA.
# Exit 77 (skipped) when there is no nvcc.
set -euo pipefail
ARCHC=$1; WORK=$2; shift 2
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "skipped: no nvcc"; exit 77; }
HERE=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$WORK"
for model in "$@"; do
  base=$(basename "$model" .yaml)
  for variant in "" "--weights-format=bf16" "--disable-pass=mla-absorb"; do
    out="$WORK/$base${variant//[^a-z0-9]/_}.cu"
    "$ARCHC" "$model" -o "$out" $variant
    "$NVCC" -O3 -std=c++17 -arch=sm_90 -I"$HERE/runtime" -diag-suppress 550 -c "$out" -o "${out%.cu}.o"
    echo "ok: $(basename "$out") compiles with nvcc"
  done
done
