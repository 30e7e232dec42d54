#!/usr/bin/env bash
# tests/run_mtp.sh ARCHC COMPARE FIXTURE_DIR WORK_DIR [archc flags…]
#
# Self-speculative decoding with the MTP module (--mtp) on a fixture whose
# checkpoint carries one: the tokens and the logits they were drawn from are
# those of transformers (8 steps), a longer run gives exactly the tokens of
# plain decoding, and both accepted and rejected drafts occurred.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; shift 4
mkdir -p "$WORK"
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
grep -q '^mtp:' "$WORK/m.yaml" || { echo "FAIL: the imported YAML has no mtp: entry"; exit 1; }
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m" "$@"
PROMPT=$(tr -d '\n' < "$FX/prompt_ids.txt")
"$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 8 --mtp --decode-logits "$WORK/dl.bin" --print-ids --threads 2 > "$WORK/a.txt"
"$COMPARE" "$FX/decode_logits.bin" "$WORK/dl.bin" 512 1e-4
[ "$(tail -n 1 "$WORK/a.txt")" = "$(tr -d '\n' < "$FX/greedy_ids.txt")" ] || { echo "FAIL: --mtp tokens differ from transformers"; exit 1; }
"$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 48 --mtp --print-ids --bench --threads 2 > "$WORK/b.txt"
"$WORK/m" --weights "$FX" --tokens "$PROMPT" -n 48 --print-ids --threads 2 > "$WORK/c.txt" 2>/dev/null
WITH=$(grep -v '^bench' "$WORK/b.txt" | tail -n 1); WITHOUT=$(tail -n 1 "$WORK/c.txt")
[ "$WITH" = "$WITHOUT" ] || { echo "FAIL: 48 tokens differ with --mtp"; echo " with:    $WITH"; echo " without: $WITHOUT"; exit 1; }
BENCH=$(grep '^bench' "$WORK/b.txt")
DRAFTED=$(echo "$BENCH" | sed -n 's/.*mtp_drafted=\([0-9]*\).*/\1/p'); ACCEPTED=$(echo "$BENCH" | sed -n 's/.*mtp_accepted=\([0-9]*\).*/\1/p')
echo "$BENCH"
[ "$ACCEPTED" -ge 1 ] && [ "$DRAFTED" -gt "$ACCEPTED" ] || { echo "FAIL: expected both accepted and rejected drafts"; exit 1; }
echo "ok: --mtp gives the same tokens; $ACCEPTED of $DRAFTED drafts accepted"
