#!/usr/bin/env bash
# tests/chat/run_cases.sh RENDER FAMILY
#
# Renders every case of tests/chat/cases/FAMILY.*.args with RENDER (a program
# taking the --render-chat command line: tests/chat/render_chat.c, or a
# generated model binary) and compares the output byte for byte with
# tests/chat/expected/FAMILY.CASE.txt, made by transformers
# (tools/make_chat_fixtures.py).  A case whose expected file is .error is one
# transformers refuses: RENDER must exit non-zero with one "error:" line.
set -uo pipefail
RENDER=$1; FAM=$2
DIR=$(cd "$(dirname "$0")" && pwd)
export TZ=UTC SOURCE_DATE_EPOCH=1764460800
pass=0; fail=0
OUT=$(mktemp); ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT
shopt -s nullglob
for a in "$DIR"/cases/"$FAM".*.args; do
  case_name=$(basename "$a" .args)
  mapfile -t args < "$a"
  conv=${args[0]}
  rest=("${args[@]:1}")
  "$RENDER" --weights "$DIR/models/$FAM" --render-chat "$DIR/$conv" "${rest[@]}" > "$OUT" 2> "$ERR"
  rc=$?
  if [ -f "$DIR/expected/$case_name.txt" ]; then
    if [ $rc -eq 0 ] && cmp -s "$OUT" "$DIR/expected/$case_name.txt"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL $case_name (exit $rc)"
      head -c 600 "$ERR"
      diff <(cat "$DIR/expected/$case_name.txt") "$OUT" | head -20
    fi
  else
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l < "$ERR")" -eq 1 ] && grep -q '^error: ' "$ERR"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL $case_name: transformers refuses it ($(head -c 200 "$DIR/expected/$case_name.error")), got exit $rc"
      head -c 300 "$ERR"
    fi
  fi
done
echo "$FAM: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
