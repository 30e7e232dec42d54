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
"$M" --weights "$CK" --tokens 5,6,7,8 -n 5 --logits "$WORK/w0.l" --decode-logits "$WORK/w0.d" --print-ids > "$WORK/w0.txt" 2>/dev/null
"$M" --weights "$CK" --tokens 5,6,7,8 -n 5 --logits "$WORK/w1.l" --decode-logits "$WORK/w1.d" --print-ids --bench --warmup > "$WORK/w1.txt" 2>/dev/null
cmp -s "$WORK/w0.l" "$WORK/w1.l" && cmp -s "$WORK/w0.d" "$WORK/w1.d" && [ "$(grep -E "^[0-9]+(,[0-9]+)*$" "$WORK/w0.txt")" = "$(grep -E "^[0-9]+(,[0-9]+)*$" "$WORK/w1.txt")" ] \
  && ok "--warmup leaves logits and ids unchanged" || bad "--warmup changes the result"
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


# ── hostile input (issue 13): numeric flags, paths, outputs, malformed checkpoints
expect_error "--temp nan" "--temp: expected a number in \[0, 100\], got 'nan'" "$M" --weights "$CK" --tokens 1 --temp nan
expect_error "--top-p nan" "--top-p: expected a number in \[0, 1\], got 'nan'" "$M" --weights "$CK" --tokens 1 --top-p nan
expect_error "--temp inf" "--temp: expected a number in \[0, 100\], got 'inf'" "$M" --weights "$CK" --tokens 1 --temp inf
expect_error "--temp negative" "--temp: expected a number in \[0, 100\], got '-0.5'" "$M" --weights "$CK" --tokens 1 --temp -0.5
expect_error "--top-p above 1" "--top-p: expected a number in \[0, 1\], got '1.5'" "$M" --weights "$CK" --tokens 1 --top-p 1.5
expect_error "-n overflow" "-n: expected an integer in \[0, 2147483647\], got '99999999999999999999'" "$M" --weights "$CK" --tokens 1 -n 99999999999999999999
expect_error "-n trailing junk" "-n: expected an integer in \[0, 2147483647\], got '5x'" "$M" --weights "$CK" --tokens 1 -n 5x
expect_error "-n negative" "-n: expected an integer in \[0, 2147483647\], got '-3'" "$M" --weights "$CK" --tokens 1 -n -3
expect_error "--seed negative" "--seed: expected an integer in \[0, 18446744073709551615\], got '-1'" "$M" --weights "$CK" --tokens 1 --seed -1
expect_error "--seed leading blank" "--seed: expected an integer" "$M" --weights "$CK" --tokens 1 --seed " 1"
expect_error "--seed overflow" "--seed: expected an integer" "$M" --weights "$CK" --tokens 1 --seed 99999999999999999999999
expect_error "--threads 0" "--threads: expected an integer in \[1, 1024\], got '0'" "$M" --weights "$CK" --tokens 1 --threads 0
expect_error "--threads absurd" "--threads: expected an integer in \[1, 1024\], got '5000'" "$M" --weights "$CK" --tokens 1 --threads 5000
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids --threads 1000 > "$WORK/t1000.txt" 2> "$WORK/t1000.err"
[ "$(tail -1 "$WORK/a.txt")" = "$(tail -1 "$WORK/t1000.txt")" ] && grep -qE '^note: --threads 1000: using [0-9]+, the number of CPUs available$' "$WORK/t1000.err" \
  && ok "--threads 1000 capped at the CPUs, with a note" || { bad "--threads 1000"; cat "$WORK/t1000.err"; }
grep -q 'threads' "$WORK/t1000.err" && [ "$(grep -oE '[0-9]+ threads$' "$WORK/t1000.err" | cut -d' ' -f1)" -le "$(nproc)" ] && ok "--threads 1000 runs at most $(nproc) threads" || bad "--threads cap"
# the sampler: --top-p 0 keeps only the most likely token (= greedy), for any seed
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids --temp 1.5 --top-p 0 --seed 7 > "$WORK/tp0.txt" 2>/dev/null
[ "$(tail -1 "$WORK/a.txt")" = "$(tail -1 "$WORK/tp0.txt")" ] && ok "--top-p 0 is greedy" || bad "--top-p 0 picked outside the nucleus"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 6 --print-ids --temp 1 --top-p 0.0001 --seed 9 > "$WORK/tp1.txt" 2>/dev/null
[ "$(tail -1 "$WORK/a.txt")" = "$(tail -1 "$WORK/tp1.txt")" ] && ok "tiny --top-p keeps the top token" || bad "tiny --top-p"
# outputs: never an input, never a directory, nothing left behind on failure
cp "$CK/model.safetensors" "$WORK/w.safetensors"; sum_w=$(cksum < "$WORK/w.safetensors")
expect_error "--logits is the weights" "--logits .*w.safetensors: is an input of this run" "$M" --weights "$WORK/w.safetensors" --tokens 1 --logits "$WORK/w.safetensors"
[ "$(cksum < "$WORK/w.safetensors")" = "$sum_w" ] && ok "weights unchanged" || bad "--logits overwrote the weights"
ln -sf "$WORK/w.safetensors" "$WORK/link.bin"
expect_error "--decode-logits is a link to the weights" "--decode-logits .*link.bin: is an input of this run" "$M" --weights "$WORK/w.safetensors" --tokens 1 --decode-logits "$WORK/link.bin"
expect_error "--logits is the tokenizer" "--logits .*tokenizer.json: is an input of this run" "$M" --weights "$CK" --tokens 1 --logits "$CK/tokenizer.json"
expect_error "--logits is the binary" "--logits .*: is this program's own executable" "$M" --weights "$CK" --tokens 1 --logits "$M"
mkdir -p "$WORK/outdir"
expect_error "--logits is a directory" "--logits .*outdir: is a directory, expected a file to write" "$M" --weights "$CK" --tokens 1 --logits "$WORK/outdir"
expect_error "--logits in a missing directory" "--logits .*/nodir/l.bin: cannot create a file in its directory" "$M" --weights "$CK" --tokens 1 --logits "$WORK/nodir/l.bin"
expect_error "--logits = --decode-logits" "--logits and --decode-logits name the same file" "$M" --weights "$CK" --tokens 1 --logits "$WORK/same.bin" --decode-logits "$WORK/same.bin"
rm -f "$WORK/fail.bin"
expect_error "failed run writes no --logits" "exceeds the compiled context" "$M" --weights "$CK" --tokens 1,2 -n 600 --logits "$WORK/fail.bin"
[ ! -e "$WORK/fail.bin" ] && [ -z "$(ls "$WORK" | grep -F 'fail.bin')" ] && ok "no output file, no temporary left" || bad "failed run left $(ls "$WORK" | grep -F fail.bin)"
"$M" --weights "$CK" --tokens 5,6,7,8 -n 0 --decode-logits "$WORK/d0.bin" > /dev/null 2>&1
[ -f "$WORK/d0.bin" ] && [ ! -s "$WORK/d0.bin" ] && ok "--decode-logits with -n 0 writes an empty file" || bad "--decode-logits -n 0"
# a directory where a file is expected
mkdir -p "$WORK/dirck/model.safetensors"
expect_error "model.safetensors is a directory" "dirck/model.safetensors: is a directory, expected a .safetensors file" "$M" --weights "$WORK/dirck" --tokens 1
expect_error "--weights is a device" "/dev/null: is a character device, expected a .safetensors file" "$M" --weights /dev/null --tokens 1
mkdir -p "$WORK/dirtok/tokenizer.json" && cp "$CK/model.safetensors" "$WORK/dirtok/"
expect_error "tokenizer.json is a directory" "--prompt needs a tokenizer: .*dirtok/tokenizer.json: is a directory, expected a regular file" "$M" --weights "$WORK/dirtok" --prompt hi
mkdir -p "$WORK/dirshard/shard.safetensors"
printf '{"weight_map": {"model.embed_tokens.weight": "shard.safetensors"}}' > "$WORK/dirshard/model.safetensors.index.json"
expect_error "shard is a directory" "dirshard/shard.safetensors: is a directory" "$M" --weights "$WORK/dirshard" --tokens 1
mkdir -p "$WORK/diridx/model.safetensors.index.json"
expect_error "index.json is a directory" "model.safetensors.index.json: is a directory, expected a regular file" "$M" --weights "$WORK/diridx" --tokens 1
# index.json: shards outside the directory, malformed JSON
mkdir -p "$WORK/trav"
printf '{"weight_map": {"model.embed_tokens.weight": "../w.safetensors"}}' > "$WORK/trav/model.safetensors.index.json"
expect_error "index shard with .." "weight_map: shard name for tensor 'model.embed_tokens.weight' contains '..'" "$M" --weights "$WORK/trav" --tokens 1
printf '{"weight_map": {"model.embed_tokens.weight": "/etc/passwd"}}' > "$WORK/trav/model.safetensors.index.json"
expect_error "index shard absolute" "shard name for tensor 'model.embed_tokens.weight' is an absolute path" "$M" --weights "$WORK/trav" --tokens 1
printf '{"weight_map": {"model.embed_tokens.weight": 7}}' > "$WORK/trav/model.safetensors.index.json"
expect_error "index shard not a string" "shard name for tensor 'model.embed_tokens.weight' is not a string" "$M" --weights "$WORK/trav" --tokens 1
{ printf '{"weight_map":'; for i in $(seq 600); do printf '['; done; } > "$WORK/trav/model.safetensors.index.json"
expect_error "index nested 600 deep" "model.safetensors.index.json: line 1, column [0-9]+: nesting deeper than 512 levels" "$M" --weights "$WORK/trav" --tokens 1
printf '{"weight_map": {"a": "x.safetensors"}, "n": 1e400}' > "$WORK/trav/model.safetensors.index.json"
expect_error "index number 1e400" "model.safetensors.index.json: line 1, column 45: number out of range" "$M" --weights "$WORK/trav" --tokens 1
printf '{"weight_map": {"a\xc0\xaf": "x.safetensors"}}' > "$WORK/trav/model.safetensors.index.json"
expect_error "index invalid UTF-8" "model.safetensors.index.json: line 1, column 19: invalid UTF-8 in string" "$M" --weights "$WORK/trav" --tokens 1
# the same tensor in two shards
mkdir -p "$WORK/dup2"
cp "$CK/model.safetensors" "$WORK/dup2/a.safetensors"; cp "$CK/model.safetensors" "$WORK/dup2/b.safetensors"
printf '{"weight_map": {"model.norm.weight": "a.safetensors", "lm_head.weight": "b.safetensors"}}' > "$WORK/dup2/model.safetensors.index.json"
expect_error "tensor in two shards" "b.safetensors: tensor '.*' is also in .*a.safetensors" "$M" --weights "$WORK/dup2" --tokens 1
# hand-made safetensors headers: mkst FILE HEADER DATA_BYTES
mkst() {
  local len=${#2}
  { printf "$(printf '\\%03o\\%03o\\%03o' $((len & 255)) $(((len >> 8) & 255)) $(((len >> 16) & 255)))\0\0\0\0\0"; printf '%s' "$2"; head -c "$3" /dev/zero; } > "$1"
}
st_case() { # st_case NAME PATTERN HEADER DATA_BYTES
  mkdir -p "$WORK/st"; mkst "$WORK/st/model.safetensors" "$3" "$4"
  expect_error "$1" "$2" "$M" --weights "$WORK/st" --tokens 1
}
mkdir -p "$WORK/st"; mkst "$WORK/st/model.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 0
truncate -s 40 "$WORK/st/model.safetensors"
expect_error "header longer than the file" "file truncated: header says 54 bytes, file has 32" "$M" --weights "$WORK/st" --tokens 1
printf '\377\377\377\377\377\377\377\377' > "$WORK/st/model.safetensors"
expect_error "header length 2^64-1" "file truncated: header says 18446744073709551615 bytes" "$M" --weights "$WORK/st" --tokens 1
st_case "begin > end" "tensor 'a': data_offsets \[8, 4\] out of range" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}' 16
st_case "end > data" "tensor 'a': data_offsets \[0, 400\] out of range .*truncated" '{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}' 16
st_case "offset 1e300" "tensor 'a': data_offsets must be two integers" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e300]}}' 16
st_case "offset NaN" "tensor 'a': data_offsets must be two integers" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[NaN,4]}}' 16
st_case "offset fractional" "tensor 'a': data_offsets must be two integers" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}' 16
st_case "shape negative" "tensor 'a': shape dimension 0 is not an integer" '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}' 16
st_case "shape product overflows" "tensor 'a': shape has more than 2\^64 elements" '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}' 16
st_case "numel*size overflows" "tensor 'a': 0 bytes of data for 4611686018427387904 elements of F32" '{"a":{"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]}}' 16
st_case "duplicate tensor name" "tensor 'a' appears twice in the header" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}' 16
st_case "overlapping tensors" "tensors 'a' and 'b' overlap" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}' 16
st_case "unknown dtype" "tensor 'a': unknown dtype 'F33'" '{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}' 16
st_case "too many dims" "tensor 'a': 7 dimensions" '{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1],"data_offsets":[0,1]}}' 16
st_case "header not an object" "header is not a JSON object" '[1,2]' 16
st_case "header bad JSON" "bad header JSON: line 1, column 7: " '{"a":{]' 16

expect_error "--tokens trailing comma" "--tokens: expected a token id after the last ','" "$M" --weights "$CK" --tokens 1,2,
# interrupted: the temporary output is removed (stopped while running, then SIGINT)
rm -f "$WORK"/sig.bin*
"$M" --weights "$CK" --tokens 1 -n 510 --decode-logits "$WORK/sig.bin" --threads 1 > /dev/null 2>&1 & sig_pid=$!
for i in $(seq 400); do ls "$WORK" | grep -q 'sig.bin.tmp' && break; sleep 0.005; done
kill -STOP $sig_pid 2>/dev/null; kill -INT $sig_pid 2>/dev/null; kill -CONT $sig_pid 2>/dev/null; wait $sig_pid; sig_rc=$?
if [ $sig_rc -eq 0 ]; then ok "interrupted run (skipped: it finished first)"
else [ -z "$(ls "$WORK" | grep -F sig.bin)" ] && ok "interrupted run leaves no output or temporary (exit $sig_rc)" || bad "interrupted run left $(ls "$WORK" | grep -F sig.bin)"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
