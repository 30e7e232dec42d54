#!/usr/bin/env bash
# tests/cuda/mla/run_vs_c.sh ARCHC COMPARE MODEL.yaml WORK_DIR DTYPE [archc flags…]
#
# MLA on the CUDA backend without a fixture: random weights (archc init-weights
# --dtype DTYPE, seed 1), the model built for the CPU emulator (--target=cuda-emu)
# and as C with the same flags; a 37-token prompt (three blocks of 16 queries in
# the materialised kernel; with --prefill-chunk=4, ten chunks over a growing
# cache) and 8 greedy tokens.  The emulator's prefill logits (every token) and
# cached-decode logits must be within 1e-4 max relative error of the C build's,
# and the greedy tokens identical.  ARCHC_CUDA_GRAPH=0 in the environment runs
# decode without the graph.
set -euo pipefail
ARCHC=$1; COMPARE=$2; MODEL=$3; WORK=$4; DTYPE=$5; shift 5
mkdir -p "$WORK"
VOCAB=$(sed -n 's/^vocab: *\([0-9]*\).*/\1/p' "$MODEL")
"$ARCHC" init-weights "$MODEL" -o "$WORK/w" --dtype "$DTYPE" --seed 1 > /dev/null
WF=()
[ "$DTYPE" = f32 ] || WF=(--weights-format="$DTYPE")
"$ARCHC" "$MODEL" -o "$WORK/c" "${WF[@]}" "$@"
"$ARCHC" "$MODEL" -o "$WORK/emu" --target=cuda-emu "${WF[@]}" "$@"
PROMPT=5,17,200,3,99,42,7,8,150,23,61,77,2,13,101,250,33,4,19,88,120,9,64,31,250,11,6,140,73,28,190,55,12,230,47,81,36
for b in c emu; do
  "$WORK/$b" --weights "$WORK/w" --tokens "$PROMPT" -n 8 --logits "$WORK/$b.logits" --decode-logits "$WORK/$b.decode" \
      --print-ids --threads 1 > "$WORK/$b.out"
done
echo "prefill logits (emulator vs C):"
"$COMPARE" "$WORK/c.logits" "$WORK/emu.logits" "$VOCAB" 1e-4
echo "decode logits (emulator vs C):"
"$COMPARE" "$WORK/c.decode" "$WORK/emu.decode" "$VOCAB" 1e-4
GOT=$(tail -n 1 "$WORK/emu.out"); WANT=$(tail -n 1 "$WORK/c.out")
if [ "$GOT" != "$WANT" ]; then
  echo "FAIL: greedy tokens differ"; echo "  C:        $WANT"; echo "  emulator: $GOT"; exit 1
fi
echo "ok: greedy tokens identical ($GOT)"
