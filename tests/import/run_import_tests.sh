#!/usr/bin/env bash
# tests/import/run_import_tests.sh ARCHC DIR WORK
#
# archc import: the three spellings of a rope configuration (rope_scaling with
# rope_type, rope_scaling with the old `type`, transformers-5 rope_parameters,
# flat or nested per layer type) give the same description; bad configs fail
# with a message naming the file and the key, and leave no output.
set -uo pipefail
ARCHC=$1; DIR=$2; WORK=$3
mkdir -p "$WORK"
pass=0; fail=0
same() { # same A B: the imported descriptions are identical but for the header comment
  "$ARCHC" import "$DIR/$1.json" -o "$WORK/$1.yaml" && "$ARCHC" import "$DIR/$2.json" -o "$WORK/$2.yaml" || { fail=$((fail+1)); echo "FAIL import $1/$2"; return; }
  if diff <(grep -v '^#\|^name:' "$WORK/$1.yaml") <(grep -v '^#\|^name:' "$WORK/$2.yaml") > "$WORK/diff"; then
    "$ARCHC" --emit=ir "$WORK/$1.yaml" > /dev/null && { pass=$((pass+1)); echo "ok: $1 == $2"; } || { fail=$((fail+1)); echo "FAIL: $1 does not lower"; }
  else fail=$((fail+1)); echo "FAIL: $1 != $2"; cat "$WORK/diff"; fi
}
err() { # err NAME PATTERN
  rm -f "$WORK/$1.yaml"
  if "$ARCHC" import "$DIR/$1.json" -o "$WORK/$1.yaml" 2> "$WORK/err"; then fail=$((fail+1)); echo "FAIL: $1 imported"; return; fi
  if ! grep -qE -e "$2" "$WORK/err"; then fail=$((fail+1)); echo "FAIL: $1: message does not match /$2/:"; cat "$WORK/err"; return; fi
  if [ -e "$WORK/$1.yaml" ] || [ -e "$WORK/$1.yaml.tmp" ]; then fail=$((fail+1)); echo "FAIL: $1 left output behind"; return; fi
  pass=$((pass+1)); echo "ok: $1: $(head -1 "$WORK/err")"
}
same rope_scaling_rope_type rope_scaling_type
same rope_scaling_rope_type rope_parameters
same llama3_scaling llama3_parameters
same gemma3_nested_parameters gemma3_rope_scaling
grep -q 'kind: yarn' "$WORK/rope_parameters.yaml" && grep -q 'original_max_position: 128' "$WORK/rope_parameters.yaml" && { pass=$((pass+1)); echo "ok: yarn keys carried"; } || { fail=$((fail+1)); echo "FAIL: yarn keys"; }
grep -q 'kind: linear' "$WORK/gemma3_nested_parameters.yaml" && grep -q '{layers: 5, rope: global}' "$WORK/gemma3_nested_parameters.yaml" && { pass=$((pass+1)); echo "ok: gemma local/global pattern"; } || { fail=$((fail+1)); echo "FAIL: gemma pattern"; cat "$WORK/gemma3_nested_parameters.yaml"; }
err bad_model_type "bad_model_type.json:1:16: error: key 'model_type': unsupported model_type 'bert' \\(supported: llama"
err missing_key "missing_key.json: error: missing key 'hidden_size'"
err bad_json "bad_json.json:2:17: error: expected a JSON value"
err dynamic_rope "dynamic_rope.json: error: rope type 'dynamic' is not supported"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
