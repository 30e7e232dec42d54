#!/usr/bin/env bash
# tests/cuda/run_persistent.sh ARCHC COMPARE FIXTURE_DIR WORK_DIR [archc flags…]
#
# The decode-persistent pass on the CUDA emulator: the decode step runs as one
# persistent kernel over its instruction list (a grid of one block on the
# emulator).  Its decode logits equal those of the ordinary launches (1e-4;
# the same kernels, so in practice to rounding), the greedy tokens are
# identical (with --decode-logits, and with the device argmax), and
# ARCHC_CUDA_PERSISTENT=0 falls back to the graph.  Also: the .cu prints the
# instruction list, and the pass is off unless enabled.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; shift 4
mkdir -p "$WORK"
V=$(grep -o '"vocab_size": *[0-9]*' "$FX/config.json" | grep -o '[0-9]*$')
P=$(tr -d '\n' < "$FX/prompt_ids.txt")
WANT=$(tr -d '\n' < "$FX/greedy_ids.txt")
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/plain.cu" "$@"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/pers.cu" --enable-pass=decode-persistent "$@"
! grep -q decode_persistent_kernel "$WORK/plain.cu" || { echo "FAIL: the pass ran without --enable-pass"; exit 1; }
grep -q "cu_instr(&prog\[0\]" "$WORK/pers.cu" || { echo "FAIL: no instruction list in the .cu"; exit 1; }
"$ARCHC" "$WORK/m.yaml" -o "$WORK/plain" --target=cuda-emu "$@" 2> /dev/null
"$ARCHC" "$WORK/m.yaml" -o "$WORK/pers" --target=cuda-emu --enable-pass=decode-persistent "$@" 2> /dev/null
"$WORK/plain" --weights "$FX" --tokens "$P" -n 8 --decode-logits "$WORK/plain.bin" --print-ids > "$WORK/plain.txt" 2> /dev/null
"$WORK/pers" --weights "$FX" --tokens "$P" -n 8 --decode-logits "$WORK/pers.bin" --print-ids > "$WORK/pers.txt" 2> /dev/null
echo "decode, persistent against separate launches:"
"$COMPARE" "$WORK/plain.bin" "$WORK/pers.bin" "$V" 1e-4
echo "decode, persistent against transformers:"
"$COMPARE" "$FX/decode_logits.bin" "$WORK/pers.bin" "$V" 1e-4
for how in "" "ARCHC_CUDA_PERSISTENT=0"; do
  GOT=$(env $how "$WORK/pers" --weights "$FX" --tokens "$P" -n 8 --print-ids 2> /dev/null | tail -n 1)
  [ "$GOT" = "$WANT" ] || { echo "FAIL ($how): greedy tokens $GOT, transformers $WANT"; exit 1; }
done
[ "$(tail -n 1 "$WORK/pers.txt")" = "$WANT" ] || { echo "FAIL: greedy tokens with --decode-logits"; exit 1; }
echo "ok: $(grep -c 'cu_instr(&prog' "$WORK/pers.cu") instructions; greedy tokens identical ($WANT), device argmax and fallback too"
