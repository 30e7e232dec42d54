#!/usr/bin/env bash
# tools/check_emit_identical.sh ARCHC OUT_DIR [REF_DIR]
#
# A refactoring safety net for ir/, passes/ and codegen/: emit the C (and the IR
# dump) of every model description the tests compile, with every pass
# configuration the tests use, into OUT_DIR, using the given archc binary.  With
# REF_DIR (an earlier OUT_DIR, e.g. made with the binary before a change), compare
# the two trees and list every file that differs; exit 1 if any does.
#
# Inputs: examples/*.yaml, and the YAML `archc import` makes of every
# tests/fixtures/*/config.json (as tests/run_fixture.sh does).
# Variants of each input (see tests/fixtures.cmake):
#   all          all passes on
#   no-PASS      --disable-pass=PASS, for every pass of `archc --list-passes`
#   chunk4       --prefill-chunk=4
#   bf16, f16    --weights-format=bf16 / f16 (bench/run.sh; skipped for inputs that
#                are quantised, whose format the option cannot express)
# Per input and variant: NAME.VARIANT.c (or .err with the diagnostic when archc
# refuses, e.g. "not yet supported"), and NAME.VARIANT.ir from --emit=ir.
# Paths in the emitted files are relative ("examples/x.yaml", "fixtures/x.yaml")
# so two runs in different directories compare equal.
set -euo pipefail
ARCHC=$(realpath "$1"); OUT=$(realpath -m "$2"); REF=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$OUT"
mkdir -p "$OUT/in/examples" "$OUT/in/fixtures" "$OUT/emit"
cp "$ROOT"/examples/*.yaml "$OUT/in/examples/"
for fx in "$ROOT"/tests/fixtures/*/; do
  [ -f "$fx/logits.bin" ] || continue
  "$ARCHC" import "$fx/config.json" -o "$OUT/in/fixtures/$(basename "$fx").yaml" > /dev/null
done

VARIANTS=("all:" "chunk4:--prefill-chunk=4" "bf16:--weights-format=bf16" "f16:--weights-format=f16")
while read -r pass _; do VARIANTS+=("no-$pass:--disable-pass=$pass"); done < <("$ARCHC" --list-passes)

# one job per (input, variant), two at a time
jobs_list() {
  cd "$OUT/in"
  for y in examples/*.yaml fixtures/*.yaml; do
    for v in "${VARIANTS[@]}"; do
      case "${v%%:*}" in bf16|f16) grep -q 'format: *\(fp8\|mxfp4\)' "$y" && continue ;; esac
      printf '%s\t%s\t%s\n' "$y" "${v%%:*}" "${v#*:}"
    done
  done
}
one() {  # YAML VARIANT FLAGS
  local y=$1 v=$2 flags=$3 base
  base="$OUT/emit/$(echo "${y%.yaml}" | tr / _).$v"
  cd "$OUT/in"
  # shellcheck disable=SC2086
  "$ARCHC" --emit=ir $flags "$y" > "$base.ir" 2> "$base.ir.err" || true
  [ -s "$base.ir.err" ] || rm -f "$base.ir.err"
  # shellcheck disable=SC2086
  if ! "$ARCHC" $flags "$y" -o "$base.c" 2> "$base.err"; then rm -f "$base.c"; fi
  [ -s "$base.err" ] || rm -f "$base.err"
}
export -f one; export ARCHC OUT
jobs_list | tr '\t' '\n' | xargs -d '\n' -n 3 -P 2 bash -c 'one "$0" "$1" "$2"'
N=$(find "$OUT/emit" -type f | wc -l)
echo "$N files in $OUT/emit ($(find "$OUT/emit" -name '*.c' | wc -l) C files)"

[ -n "$REF" ] || exit 0
REF=$(realpath "$REF")
if diff -rq "$REF/in" "$OUT/in" > /dev/null && diff -rq "$REF/emit" "$OUT/emit" > /dev/null; then
  echo "identical: all $N files match $REF"
  exit 0
fi
echo "DIFFERENT from $REF:"
diff -rq "$REF/in" "$OUT/in" || true
diff -rq "$REF/emit" "$OUT/emit" | sed "s|$REF/emit/||; s|$OUT/emit/||" || true
exit 1
