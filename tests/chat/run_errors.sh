#!/usr/bin/env bash
# tests/chat/run_errors.sh RENDER
#
# Templates outside the supported subset, malformed ones and hostile ones
# (tests/chat/errors/NAME.jinja): RENDER must exit with status 1 within a few
# seconds, printing one line that contains NAME.expect (the feature and the
# template line) — never crash, hang or exhaust memory.
set -uo pipefail
RENDER=$1
DIR=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
ERR=$(mktemp); OUT=$(mktemp)
trap 'rm -f "$ERR" "$OUT"' EXIT
for t in "$DIR"/errors/*.jinja; do
  name=$(basename "$t" .jinja)
  want=$(cat "$DIR/errors/$name.expect")
  timeout 20 "$RENDER" --weights "$DIR/models/qwen3" --render-chat "$DIR/conversations/basic.json" \
      --chat-template "$t" > "$OUT" 2> "$ERR"
  rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l < "$ERR")" -eq 1 ] && grep -qF -- "$want" "$ERR" && [ ! -s "$OUT" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name (exit $rc): want '$want', got: $(head -c 400 "$ERR")"
  fi
done
echo "errors: $pass passed, $fail failed"
[ $fail -eq 0 ]
