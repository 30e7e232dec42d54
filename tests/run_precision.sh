#!/usr/bin/env bash
# tests/run_precision.sh ARCHC COMPARE FIXTURE_DIR WORK_DIR MAX_MEAN_KL [archc flags…]
#
# --precision=bf16 on a bf16 checkpoint: the prefill products round the
# activations to bf16 (where the CPU has AVX512_BF16), so the logits are no
# longer exact.  Checked against transformers' fp32 reference by mean KL and
# argmax agreement (compare_logits --kl), and the default precision of the
# same binary must still be exact (1e-4), so the flag cannot leak.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; KL=$5; shift 5
mkdir -p "$WORK"
V=$(grep -o '"vocab_size": *[0-9]*' "$FX/config.json" | grep -o '[0-9]*$')
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m" "$@"
PROMPT=$(tr -d '\n' < "$FX/prompt_ids.txt")
"$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 0 --logits "$WORK/bf16.bin" --threads 2 --precision bf16
"$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 0 --logits "$WORK/f32.bin" --threads 2 --precision f32
echo "--precision=bf16 against the fp32 reference:"
"$COMPARE" --kl "$FX/logits.bin" "$WORK/bf16.bin" "$V" "$KL"
echo "--precision=f32 (default), exact:"
"$COMPARE" "$FX/logits.bin" "$WORK/f32.bin" "$V" 1e-4
if [ -n "${ARCHC_PRECISION_MUST_DIFFER:-}" ]; then   # the bf16 path ran: its logits are not the exact ones
  if "$COMPARE" "$WORK/f32.bin" "$WORK/bf16.bin" "$V" 1e-6 > /dev/null; then echo "FAIL: --precision bf16 changed nothing"; exit 1; fi
  echo "ok: --precision bf16 differs from f32 by more than 1e-6"
fi
if "$WORK/m" --weights "$FX" --tokens 1 -n 0 --precision fp64 2>"$WORK/err.txt"; then
  echo "FAIL: --precision fp64 was accepted"; exit 1
fi
grep -q "expected f32 or bf16" "$WORK/err.txt" || { echo "FAIL: unclear error: $(cat "$WORK/err.txt")"; exit 1; }
echo ok
