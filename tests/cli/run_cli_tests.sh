#!/usr/bin/env bash
# tests/cli/run_cli_tests.sh ARCHC ROOT WORK
#
# The generated binary's command line (DESIGN.md contract) and the loader's
# errors, on the tiny Llama example: every error must be one line on stderr that
# names what was wrong (the tensor, for checkpoint problems) and exit non-zero.
set -uo pipefail
ARCHC=$1; ROOT=$2; WORK=$3
mkdir -p "$WORK"
pass=0; fail=0
ok()   { pass=$((pass + 1)); echo "ok:   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL: $1"; }

# expect_error NAME PATTERN CMD… : non-zero exit, stderr matches PATTERN, one line
expect_error() {
  local name=$1 pat=$2; shift 2
  "$@" > "$WORK/out" 2> "$WORK/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0, expected failure"; return; fi
  if ! grep -qE -e "$pat" "$WORK/err"; then bad "$name: stderr does not match /$pat/:"; sed 's/^/      /' "$WORK/err"; return; fi
  if [ "$(grep -c . "$WORK/err")" -ne 1 ]; then bad "$name: expected one line on stderr:"; sed 's/^/      /' "$WORK/err"; return; fi
  ok "$name ($(head -1 "$WORK/err"))"
}

Y=$ROOT/examples/tiny-llama.yaml
CK=$ROOT/examples/tiny-llama
"$ARCHC" "$Y" -o "$WORK/m" || { echo "FAIL: cannot build the tiny model"; exit 1; }
M=$WORK/m

# ── normal runs
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids > "$WORK/a.txt" 2>/dev/null && \
  [ "$(tail -1 "$WORK/a.txt" | tr ',' '\n' | grep -c .)" -eq 6 ] && ok "greedy run prints 6 ids" || bad "greedy run"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids > "$WORK/b.txt" 2>/dev/null
cmp -s "$WORK/a.txt" "$WORK/b.txt" && ok "greedy is deterministic" || bad "greedy differs between runs"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids --threads 1 > "$WORK/c.txt" 2>/dev/null
[ "$(tail -1 "$WORK/a.txt")" = "$(tail -1 "$WORK/c.txt")" ] && ok "1 and 2 threads agree" || bad "thread count changes the result"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 0 --logits "$WORK/l.bin" > /dev/null 2>&1
[ "$(stat -c %s "$WORK/l.bin")" -eq $((4 * 1024 * 4)) ] && ok "--logits writes [T][vocab] float32" || bad "--logits size"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 4 --bench 2>/dev/null | grep -qE '^bench prefill_tokens=4 prefill_tok_s=[0-9.]+ decode_tokens=3 decode_tok_s=[0-9.]+ threads=[0-9]+$' \
  && ok "--bench line format" || bad "--bench line format"
"$M" --weights "$CK" --tokens 5,6,7 -n 8 --temp 0.9 --top-p 0.9 --seed 3 --print-ids > "$WORK/s1" 2>/dev/null
"$M" --weights "$CK" --tokens 5,6,7 -n 8 --temp 0.9 --top-p 0.9 --seed 3 --print-ids > "$WORK/s2" 2>/dev/null
"$M" --weights "$CK" --tokens 5,6,7 -n 8 --temp 0.9 --top-p 0.9 --seed 4 --print-ids > "$WORK/s3" 2>/dev/null
cmp -s "$WORK/s1" "$WORK/s2" && ok "sampling reproducible per seed" || bad "same seed, different samples"
cmp -s "$WORK/s1" "$WORK/s3" && bad "different seeds gave identical samples" || ok "different seeds differ"
"$M" --weights "$CK" --prompt "Once upon a time" -n 4 --print-ids > "$WORK/p.txt" 2>/dev/null && \
  head -1 "$WORK/p.txt" | grep -q "Once upon a time" && ok "--prompt tokenizes and echoes the text" || bad "--prompt"
"$M" --weights "$CK/model.safetensors" --tokens 1,2 -n 1 > /dev/null 2>&1 && ok "--weights FILE.safetensors" || bad "--weights FILE"
"$M" --help | grep -q -- "--weights" && ok "--help" || bad "--help"

# ── argument errors
expect_error "unknown flag" "unknown option '--frobnicate'" "$M" --weights "$CK" --tokens 1 --frobnicate
expect_error "missing value" "--threads needs a value" "$M" --weights "$CK" --tokens 1 --threads
expect_error "bad -n" "-n: expected an integer" "$M" --weights "$CK" --tokens 1 -n lots
expect_error "bad token list" "--tokens: expected" "$M" --weights "$CK" --tokens 1,x,3
expect_error "token out of range" "token id 5000 is out of range \(vocab size 1024\)" "$M" --weights "$CK" --tokens 1,5000
expect_error "no --weights" "--weights PATH is required" "$M" --tokens 1
expect_error "no prompt" "give --prompt TEXT or --tokens IDS" "$M" --weights "$CK"
expect_error "nonexistent weights" "no such file or directory" "$M" --weights "$WORK/nope" --tokens 1
expect_error "context overflow" "exceeds the compiled context of 512" "$M" --weights "$CK" --tokens 1,2,3 -n 600
expect_error "bad temperature" "--temp: expected a number" "$M" --weights "$CK" --tokens 1 --temp hot
mkdir -p "$WORK/notok" && cp "$CK/model.safetensors" "$CK/config.json" "$WORK/notok/"
expect_error "--prompt without tokenizer" "--prompt needs a tokenizer: .*tokenizer.json" "$M" --weights "$WORK/notok" --prompt hi

# ── checkpoint errors name the tensor
mk() { # mk NAME SED-EXPRESSION DTYPE : a checkpoint from an edited description
  sed "$2" "$Y" > "$WORK/$1.yaml"
  "$ARCHC" init-weights "$WORK/$1.yaml" -o "$WORK/$1" --dtype "$3" --seed 1 > /dev/null
}
mk wide 's/intermediate: 384/intermediate: 256/' f32
expect_error "wrong shape" "tensor model.layers.0.mlp.gate_proj.weight: expected shape \[384, 128\], checkpoint has \[256, 128\]" "$M" --weights "$WORK/wide" --tokens 1
mk half 's/format: f32/format: bf16/' bf16
expect_error "wrong dtype" "tensor model.embed_tokens.weight: expected dtype F32, checkpoint has BF16" "$M" --weights "$WORK/half" --tokens 1
mk tied 's/^tokens:/tie_embeddings: true\ntokens:/' f32
expect_error "missing tensor" "tensor lm_head.weight: missing from checkpoint" "$M" --weights "$WORK/tied" --tokens 1
mkdir -p "$WORK/trunc"
head -c 300000 "$CK/model.safetensors" > "$WORK/trunc/model.safetensors"
expect_error "truncated file" "tensor '.*': data_offsets .* out of range .*truncated" "$M" --weights "$WORK/trunc" --tokens 1
printf 'garbage' > "$WORK/trunc/model.safetensors"
expect_error "no header" "file truncated|header" "$M" --weights "$WORK/trunc" --tokens 1
# a sharded checkpoint whose index names a missing shard
mkdir -p "$WORK/shard"
printf '{"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}' > "$WORK/shard/model.safetensors.index.json"
expect_error "missing shard" "shard model-00001-of-00002.safetensors \(holding tensor 'model.embed_tokens.weight'\) is missing" "$M" --weights "$WORK/shard" --tokens 1
# the same checkpoint split into two shards loads and gives the same ids
mkdir -p "$WORK/sharded"
cp "$CK/model.safetensors" "$WORK/sharded/model-00001-of-00001.safetensors"
printf '{"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00001.safetensors"}}' > "$WORK/sharded/model.safetensors.index.json"
"$M" --weights "$WORK/sharded" --tokens 5,6,7,8 -n 6 --print-ids > "$WORK/d.txt" 2>/dev/null
[ "$(tail -1 "$WORK/a.txt")" = "$(tail -1 "$WORK/d.txt")" ] && ok "sharded checkpoint via index.json" || bad "sharded checkpoint"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
