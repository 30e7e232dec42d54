#!/usr/bin/env bash
# tests/cuda/run_greedy.sh ARCHC FIXTURE_DIR WORK_DIR [archc flags…]
#
# Greedy generation without --decode-logits on the CUDA emulator build: the
# binary then takes each decode step's argmax on the device (forward_greedy)
# and copies back one id.  The tokens must equal transformers' greedy tokens,
# with the decode step replayed as a CUDA graph and launched directly
# (ARCHC_CUDA_GRAPH=0).
set -euo pipefail
ARCHC=$1; FX=$2; WORK=$3; shift 3
mkdir -p "$WORK"
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m" --target=cuda-emu "$@"
PROMPT=$(tr -d '\n' < "$FX/prompt_ids.txt")
WANT=$(tr -d '\n' < "$FX/greedy_ids.txt")
for graph in 1 0; do
  GOT=$(ARCHC_CUDA_GRAPH=$graph "$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 8 --print-ids | tail -n 1)
  if [ "$GOT" != "$WANT" ]; then
    echo "FAIL (ARCHC_CUDA_GRAPH=$graph): greedy tokens differ"
    echo "  transformers: $WANT"
    echo "  archc:        $GOT"
    exit 1
  fi
  echo "ok: device argmax, ARCHC_CUDA_GRAPH=$graph: greedy tokens identical ($GOT)"
done
