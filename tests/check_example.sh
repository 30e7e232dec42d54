#!/usr/bin/env bash
# tests/check_example.sh ARCHC ROOT NAME WORK — see tests/examples.cmake.
set -euo pipefail
ARCHC=$1; ROOT=$2; NAME=$3; WORK=$4/$NAME
mkdir -p "$WORK"
cd "$ROOT"
"$ARCHC" import "examples/hf/$NAME.json" -o "$WORK/imported.yaml"
if ! diff -u "examples/$NAME.yaml" "$WORK/imported.yaml"; then
  echo "FAIL: archc import examples/hf/$NAME.json differs from examples/$NAME.yaml (tools/update_examples.sh regenerates)"
  exit 1
fi
"$ARCHC" --emit=ir "examples/$NAME.yaml" > "$WORK/ir.txt"
grep -q '^; passes run: rope-fold qknorm-fuse epilogue-fuse swa-tile expert-group mla-absorb memplan' "$WORK/ir.txt"
rm -f "$WORK/m.c"
if "$ARCHC" "examples/$NAME.yaml" -o "$WORK/m.c" 2> "$WORK/err.txt"; then
  ${CC:-cc} -O1 -march=native -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$ROOT/runtime" -c "$WORK/m.c" -o "$WORK/m.o"
  echo "ok: $NAME imports, lowers, emits $(wc -l < "$WORK/m.c") lines of C that compile with -Werror"
else
  if ! grep -q 'error: not yet supported' "$WORK/err.txt"; then
    echo "FAIL: unexpected error:"; cat "$WORK/err.txt"; exit 1
  fi
  if [ -e "$WORK/m.c" ] || [ -e "$WORK/m.c.tmp" ]; then echo "FAIL: output left behind after an error"; exit 1; fi
  echo "ok: $NAME imports and lowers; C: $(head -1 "$WORK/err.txt")"
fi
