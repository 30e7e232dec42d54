#!/usr/bin/env bash
# tests/import/run_import_tests.sh ARCHC DIR WORK
#
# archc import: the three spellings of a rope configuration (rope_scaling with
# rope_type, rope_scaling with the old `type`, transformers-5 rope_parameters,
# flat or nested per layer type) give the same description; bad configs fail
# with a message naming the file and the key, and leave no output; the
# config.json of `archc init-weights` reads back as the same program.
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

# archc init-weights writes a config.json that `archc import` turns back into
# the same program (frontend/hf_config.c; init-weights compares the emitted C
# and warns on a difference): every example and every fixture's description,
# and the negative case, a Llama with a q/k norm, which no Llama config says.
ROOT=$(cd "$DIR/../.." && pwd)
roundtrip() { # roundtrip NAME YAML
  rm -rf "$WORK/rt-$1"
  if ! "$ARCHC" init-weights "$2" -o "$WORK/rt-$1" --config-only 2> "$WORK/rt-err"; then fail=$((fail+1)); echo "FAIL: init-weights $1"; cat "$WORK/rt-err"; return; fi
  if [ -s "$WORK/rt-err" ]; then fail=$((fail+1)); echo "FAIL: round trip of $1:"; cat "$WORK/rt-err"; return; fi
  pass=$((pass+1)); echo "ok: $1 round-trips through config.json"
}
for y in "$ROOT"/examples/*.yaml; do roundtrip "$(basename "$y" .yaml)" "$y"; done
for d in "$ROOT"/tests/fixtures/*/; do
  n=$(basename "$d")
  if "$ARCHC" import "$d" -o "$WORK/fx-$n.yaml" 2> "$WORK/rt-err"; then roundtrip "fixture-$n" "$WORK/fx-$n.yaml"
  else fail=$((fail+1)); echo "FAIL: import fixture $n"; cat "$WORK/rt-err"; fi
done
sed 's/kind: gqa,/kind: gqa, qk_norm: head,/' "$ROOT/examples/tiny-llama.yaml" > "$WORK/llama-qknorm.yaml"
if "$ARCHC" init-weights "$WORK/llama-qknorm.yaml" -o "$WORK/rt-llama-qknorm" --config-only 2> "$WORK/rt-err" &&
   grep -q "warning: .*the llama config.json cannot describe this model exactly" "$WORK/rt-err"; then pass=$((pass+1)); echo "ok: llama + qk_norm warns"
else fail=$((fail+1)); echo "FAIL: llama + qk_norm did not warn"; cat "$WORK/rt-err"; fi
# the bug this guards: a quantised random DeepSeek-shaped checkpoint must import
# (the config used to lack the MLA ranks and the routing keys)
rm -rf "$WORK/ds" "$WORK/ds-q"
if "$ARCHC" init-weights "$WORK/fx-deepseek_v3.yaml" -o "$WORK/ds" --seed 1 2> "$WORK/rt-err" &&
   "$ARCHC" quantize "$WORK/ds" -o "$WORK/ds-q" --format int8 > /dev/null 2>> "$WORK/rt-err" &&
   "$ARCHC" import "$WORK/ds-q" -o "$WORK/ds-q.yaml" 2>> "$WORK/rt-err" && grep -q 'kv_lora_rank: 32' "$WORK/ds-q.yaml" &&
   grep -q 'format: int8' "$WORK/ds-q.yaml" && "$ARCHC" --emit=ir "$WORK/ds-q.yaml" > /dev/null 2>> "$WORK/rt-err"; then
  pass=$((pass+1)); echo "ok: init-weights -> quantize -> import (deepseek_v3)"
else fail=$((fail+1)); echo "FAIL: init-weights -> quantize -> import (deepseek_v3)"; cat "$WORK/rt-err"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
