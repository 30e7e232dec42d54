#!/usr/bin/env bash
# tests/cuda/run_errors.sh ARCHC FIXTURES_DIR WORK_DIR
#
# What the CUDA backend refuses, with a clear message and no output file:
# formats it does not run yet (archc quantize's int8), --cc with --target=cuda,
# and a binary built for the emulator asked to run without a device.
set -uo pipefail
ARCHC=$1; FXS=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
expect() {   # DESCRIPTION EXPECTED_TEXT COMMAND…
  local what=$1 want=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ $rc = 0 ] || ! grep -q -- "$want" <<< "$out"; then
    echo "FAIL: $what: exit $rc, output: $out"; fail=1
  else
    echo "ok: $what: $(grep -m1 -- "$want" <<< "$out")"
  fi
}
"$ARCHC" quantize "$FXS/qwen3" -o "$WORK/q8" --format int8 > /dev/null
"$ARCHC" import "$WORK/q8" -o "$WORK/q8.yaml"
expect "int8 weights" "not yet supported by the CUDA backend: weights in format int8" "$ARCHC" "$WORK/q8.yaml" -o "$WORK/q8.cu"
[ ! -e "$WORK/q8.cu" ] || { echo "FAIL: a .cu was written"; fail=1; }
"$ARCHC" import "$FXS/qwen3/config.json" -o "$WORK/m.yaml"
expect "--cc with --target=cuda" "picks the C compiler" "$ARCHC" "$WORK/m.yaml" -o "$WORK/m" --target=cuda --cc=gcc
"$ARCHC" "$WORK/m.yaml" -o "$WORK/emu" --target=cuda-emu 2> /dev/null
expect "no device" "no usable CUDA device" env ARCHC_CUDA_EMU_NO_DEVICE=1 "$WORK/emu" --weights "$FXS/qwen3" --tokens 1,2 -n 2
exit $fail
