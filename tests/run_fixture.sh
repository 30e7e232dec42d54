#!/usr/bin/env bash
# tests/run_fixture.sh ARCHC COMPARE FIXTURE_DIR WORK_DIR [archc flags…]
#
# The exactness test of one fixture: import its config.json, compile it into an
# executable (with the given flags, e.g. --disable-pass=memplan), run the prompt,
# and compare the prefill logits (max relative error <= 1e-4), the logits each of
# the 8 greedy tokens was drawn from (cached decode, same tolerance) and the
# tokens themselves (identical) with what transformers produced.
# ARCHC_TEST_RUNNER (e.g. "qemu-aarch64 -cpu cortex-a53", "env ARCHC_ISA=x86-64")
# is put before the built binary: for --target builds (tests/edge.cmake).
# ARCHC_TEST_THREADS (default 2) is the thread count the binary runs with.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; shift 4
mkdir -p "$WORK"
V=$(python3 -c "import json,sys; print(json.load(open('$FX/config.json'))['vocab_size'])" 2>/dev/null \
    || grep -o '"vocab_size": *[0-9]*' "$FX/config.json" | grep -o '[0-9]*$')
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m" "$@"
PROMPT=$(tr -d '\n' < "$FX/prompt_ids.txt")
${ARCHC_TEST_RUNNER:-} "$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 8 --logits "$WORK/logits.bin" \
    --decode-logits "$WORK/decode_logits.bin" --print-ids --threads "${ARCHC_TEST_THREADS:-2}" > "$WORK/out.txt"
echo "prefill logits:"
"$COMPARE" "$FX/logits.bin" "$WORK/logits.bin" "$V" 1e-4
echo "decode logits:"
"$COMPARE" "$FX/decode_logits.bin" "$WORK/decode_logits.bin" "$V" 1e-4
if [ -f "$FX/fp32_logits.bin" ]; then
  # quantised checkpoint: its loss against the fp32 model it was made from (KL, argmax agreement)
  echo "against the unquantised fp32 model:"
  "$COMPARE" --kl "$FX/fp32_logits.bin" "$WORK/logits.bin" "$V" "$(cat "$FX/fp32_kl_limit.txt")"
fi
GOT=$(tail -n 1 "$WORK/out.txt")
WANT=$(tr -d '\n' < "$FX/greedy_ids.txt")
if [ "$GOT" != "$WANT" ]; then
  echo "FAIL: greedy tokens differ"
  echo "  transformers: $WANT"
  echo "  archc:        $GOT"
  exit 1
fi
echo "ok: greedy tokens identical ($GOT)"
