#!/usr/bin/env bash
# tests/cuda/run_quant_vs_c.sh ARCHC COMPARE FIXTURE_DIR FORMAT WORK_DIR [archc flags…]
#
# A checkpoint made by `archc quantize --format FORMAT` from a fixture, run by
# the C build and by the CUDA build on the emulator (--target=cuda-emu): the
# same prefill and decode logits (max relative error 1e-4) and the same greedy
# tokens.  (The C build's own distance to the fp32 model is tests/quant's job.)
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; FMT=$4; WORK=$5; shift 5
rm -rf "$WORK"; mkdir -p "$WORK"
V=$(grep -o '"vocab_size": *[0-9]*' "$FX/config.json" | grep -o '[0-9]*$')
P=$(tr -d '\n' < "$FX/prompt_ids.txt")
"$ARCHC" quantize "$FX" -o "$WORK/q" --format "$FMT" > /dev/null
"$ARCHC" import "$WORK/q" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/c" "$@"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/cu" --target=cuda-emu "$@"
"$WORK/c" --weights "$WORK/q" --tokens "$P" -n 8 --logits "$WORK/c.bin" --decode-logits "$WORK/cd.bin" --print-ids > "$WORK/c.txt" 2> /dev/null
"$WORK/cu" --weights "$WORK/q" --tokens "$P" -n 8 --logits "$WORK/cu.bin" --decode-logits "$WORK/cud.bin" --print-ids > "$WORK/cu.txt" 2> /dev/null
echo "prefill, CUDA (emulator) against C:"; "$COMPARE" "$WORK/c.bin" "$WORK/cu.bin" "$V" 1e-4
echo "decode, CUDA (emulator) against C:"; "$COMPARE" "$WORK/cd.bin" "$WORK/cud.bin" "$V" 1e-4
[ "$(tail -n 1 "$WORK/c.txt")" = "$(tail -n 1 "$WORK/cu.txt")" ] || { echo "FAIL: greedy tokens differ"; exit 1; }
echo "ok: greedy tokens identical ($(tail -n 1 "$WORK/cu.txt"))"
