#!/usr/bin/env bash
# tests/quant/bad_input.sh ARCHC FIXTURES_DIR WORK_DIR
# archc quantize on inputs it cannot use: one clear line, a non-zero exit, and no
# output directory (nor a temporary one) left behind; compiled models refuse a
# checkpoint of another format, naming the tensor.
set -uo pipefail
ARCHC=$1; FXS=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
# expect EXIT_CODE MESSAGE_PART -- command…
expect() {
  local code=$1 msg=$2; shift 3
  "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local rc=$?
  [ $rc = "$code" ] || { cat "$WORK/err.txt"; fail "exit $rc, expected $code: $*"; }
  grep -qF -- "$msg" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$msg' in the message of: $*"; }
  echo "ok: $(head -n 1 "$WORK/err.txt")"
}
no_leftovers() {
  [ ! -e "$WORK/$1" ] || fail "$1 was created"
  ls -A "$WORK" | grep -q "^\.$1\." && fail "a temporary directory .$1.* was left behind"
  return 0
}
FX=$FXS/qwen3
expect 2 "expected int8, int4, fp8 or mxfp4" -- "$ARCHC" quantize "$FX" -o "$WORK/o1" --format int3
no_leftovers o1
expect 2 "usage: archc quantize" -- "$ARCHC" quantize "$FX" --format int8
expect 1 "not a checkpoint directory" -- "$ARCHC" quantize "$WORK/nonexistent" -o "$WORK/o2" --format int8
no_leftovers o2
expect 1 "the output is the input directory" -- "$ARCHC" quantize "$FX" -o "$FX" --format int8

# a checkpoint with an integer tensor
mkdir -p "$WORK/i32"
cp "$FX/config.json" "$WORK/i32/"
python3 - "$WORK/i32/model.safetensors" <<'PY'
import json, struct, sys
h = {"model.layers.0.mlp.up_proj.weight": {"dtype": "I32", "shape": [2, 32], "data_offsets": [0, 256]}}
b = json.dumps(h).encode(); b += b" " * ((8 - len(b) % 8) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b + bytes(256))
PY
expect 1 "tensor model.layers.0.mlp.up_proj.weight: dtype I32 cannot be quantised" -- "$ARCHC" quantize "$WORK/i32" -o "$WORK/o3" --format int4
no_leftovers o3
# no matrix to quantise
python3 - "$WORK/i32/model.safetensors" <<'PY'
import json, struct, sys
h = {"model.norm.weight": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}}
b = json.dumps(h).encode(); b += b" " * ((8 - len(b) % 8) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b + bytes(256))
PY
expect 1 "no tensor to quantise" -- "$ARCHC" quantize "$WORK/i32" -o "$WORK/o4" --format fp8
no_leftovers o4
# a matrix with an infinity
python3 - "$WORK/i32/model.safetensors" <<'PY'
import json, struct, sys
d = bytearray(64 * 4); d[4 * 5:4 * 6] = struct.pack("<f", float("inf"))
h = {"model.layers.0.mlp.up_proj.weight": {"dtype": "F32", "shape": [2, 32], "data_offsets": [0, 256]}}
b = json.dumps(h).encode(); b += b" " * ((8 - len(b) % 8) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b + bytes(d))
PY
expect 1 "tensor model.layers.0.mlp.up_proj.weight: holds a NaN or an infinity" -- "$ARCHC" quantize "$WORK/i32" -o "$WORK/o8" --format int8
no_leftovers o8
# a truncated checkpoint
mkdir -p "$WORK/trunc"; cp "$FX/config.json" "$WORK/trunc/"
head -c 5000 "$FX/model.safetensors" > "$WORK/trunc/model.safetensors"
expect 1 "archc quantize: error:" -- "$ARCHC" quantize "$WORK/trunc" -o "$WORK/o5" --format int8
no_leftovers o5

# a non-empty output directory is left as it was
mkdir -p "$WORK/full"; echo keep > "$WORK/full/file"
expect 1 "an existing directory must be empty" -- "$ARCHC" quantize "$FX" -o "$WORK/full" --format int8
[ "$(cat "$WORK/full/file")" = keep ] && [ "$(ls -A "$WORK/full")" = file ] || fail "the existing directory was changed"
ls -A "$WORK" | grep -q "^\.full\." && fail "a temporary directory was left behind"

# quantising a quantised checkpoint
"$ARCHC" quantize "$FX" -o "$WORK/q8" --format int8 2>/dev/null || fail "quantize int8"
expect 1 "already quantised" -- "$ARCHC" quantize "$WORK/q8" -o "$WORK/o6" --format int4
no_leftovers o6

# a model compiled for int8 refuses the f32 checkpoint, and the f32 model the int8 one
"$ARCHC" import "$WORK/q8" -o "$WORK/q8.yaml" && "$ARCHC" "$WORK/q8.yaml" -o "$WORK/q8m" || fail "compile int8"
"$ARCHC" import "$FX/config.json" -o "$WORK/f32.yaml" && "$ARCHC" "$WORK/f32.yaml" -o "$WORK/f32m" || fail "compile f32"
expect 1 "expected dtype I8, checkpoint has F32" -- "$WORK/q8m" --weights "$FX" --tokens 1,2 -n 1
expect 1 "expected dtype F32, checkpoint has I8" -- "$WORK/f32m" --weights "$WORK/q8" --tokens 1,2 -n 1
# int4 model on an int8 checkpoint: the scale tensors have the same names, the matrices another dtype
"$ARCHC" quantize "$FX" -o "$WORK/q4" --format int4 2>/dev/null && "$ARCHC" import "$WORK/q4" -o "$WORK/q4.yaml" \
  && "$ARCHC" "$WORK/q4.yaml" -o "$WORK/q4m" || fail "compile int4"
expect 1 "tensor model.layers.0.self_attn.q_proj.weight: expected" -- "$WORK/q4m" --weights "$WORK/q8" --tokens 1,2 -n 1

# --keep: kept tensors stay as stored and the compiled model reads them so
"$ARCHC" quantize "$FX" -o "$WORK/keep" --format int4 --keep "*.o_proj.weight" --keep lm_head 2>/dev/null || fail "quantize --keep"
python3 -c "import json,sys; h=open(sys.argv[1],'rb').read(); import struct; n=struct.unpack('<Q',h[:8])[0]; d=json.loads(h[8:8+n]);
assert d['model.layers.0.self_attn.o_proj.weight']['dtype']=='F32' and 'model.layers.0.self_attn.o_proj.weight_scale' not in d
assert d['lm_head.weight']['dtype']=='F32' and d['model.layers.0.self_attn.q_proj.weight']['dtype']=='U8'" "$WORK/keep/model.safetensors" \
  || fail "--keep: kept tensors not as stored"
"$ARCHC" import "$WORK/keep" -o "$WORK/keep.yaml" && grep -q 'keep: \["\*.o_proj.weight", "lm_head"\]' "$WORK/keep.yaml" || fail "import --keep"
"$ARCHC" "$WORK/keep.yaml" -o "$WORK/keepm" || fail "compile --keep"
"$WORK/keepm" --weights "$WORK/keep" --tokens 1,2,3 -n 2 > /dev/null || fail "run --keep"
echo "ok: --keep: o_proj and lm_head kept f32, the model runs"
expect 2 "expected 1 … 127 letters" -- "$ARCHC" quantize "$FX" -o "$WORK/o7" --format int8 --keep 'a"b'
no_leftovers o7
"$ARCHC" quantize "$FX" -o "$WORK/keepg" --format int8 --keep gate_proj 2>/dev/null || fail "quantize --keep gate_proj"
"$ARCHC" import "$WORK/keepg" -o "$WORK/keepg.yaml" || fail "import --keep gate_proj"
expect 1 "one kernel reads both in one format" -- "$ARCHC" "$WORK/keepg.yaml" -o "$WORK/keepgm"
# a stacked-expert layer (Llama 4) with only its down projection kept: one kernel reads both
"$ARCHC" quantize "$FXS/llama4" -o "$WORK/keeps" --format int4 --keep experts.down_proj 2>/dev/null || fail "quantize --keep experts.down_proj"
"$ARCHC" import "$WORK/keeps" -o "$WORK/keeps.yaml" || fail "import --keep experts.down_proj"
expect 1 "keeps model.layers.1.feed_forward.experts.down_proj but not model.layers.1.feed_forward.experts.gate_up_proj" -- \
  "$ARCHC" "$WORK/keeps.yaml" -o "$WORK/keepsm"
# fp8 keeps the embedding bf16 (DeepSeek's layout): --quantize-embeddings is refused
expect 2 "--quantize-embeddings: not with --format fp8" -- "$ARCHC" quantize "$FX" -o "$WORK/o9" --format fp8 --quantize-embeddings
no_leftovers o9
# quantize_embeddings is a key of the int8/int4/mxfp4_dense formats only
sed 's/^weights: .*/weights: {names: hf, format: f32, quantize_embeddings: true}/' "$(dirname "$0")/../../examples/tiny-llama.yaml" > "$WORK/qe.yaml"
expect 1 "quantize_embeddings': only with format int8, int4 or mxfp4_dense" -- "$ARCHC" "$WORK/qe.yaml" -o "$WORK/qe.c"
# --scale-dtype: f16 or f32, and only for int8 / int4
expect 2 "--scale-dtype 'bf16': expected f16 or f32" -- "$ARCHC" quantize "$FX" -o "$WORK/o10" --format int8 --scale-dtype bf16
no_leftovers o10
expect 2 "--scale-dtype: only with --format int8 or int4" -- "$ARCHC" quantize "$FX" -o "$WORK/o11" --format fp8 --scale-dtype f16
no_leftovers o11
# a block scale past f16's range (max|w| / 127 > 65504) is refused by name, and quantises with f32 scales
python3 - "$WORK/i32/model.safetensors" <<'PY'
import json, struct, sys
d = bytearray(64 * 4); d[4 * 5:4 * 6] = struct.pack("<f", 1e8)
h = {"model.layers.0.mlp.up_proj.weight": {"dtype": "F32", "shape": [2, 32], "data_offsets": [0, 256]}}
b = json.dumps(h).encode(); b += b" " * ((8 - len(b) % 8) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b + bytes(d))
PY
expect 1 "tensor model.layers.0.mlp.up_proj.weight: a block scale exceeds the largest f16" -- "$ARCHC" quantize "$WORK/i32" -o "$WORK/o12" --format int8
no_leftovers o12
"$ARCHC" quantize "$WORK/i32" -o "$WORK/o13" --format int8 --scale-dtype f32 2>/dev/null || fail "--scale-dtype f32 with a large block scale"
echo "ok: --scale-dtype f32 quantises it"
# a model compiled for f16 scales refuses a checkpoint with f32 ones, naming the scale tensor
"$ARCHC" quantize "$FX" -o "$WORK/q8s" --format int8 --scale-dtype f32 2>/dev/null || fail "quantize --scale-dtype f32"
expect 1 "model.layers.0.self_attn.q_proj.weight_scale" -- "$WORK/q8m" --weights "$WORK/q8s" --tokens 1,2 -n 1
# the description's scale key: int8 / int4 only
sed 's/^weights: .*/weights: {names: hf, format: f32, scale: f16}/' "$(dirname "$0")/../../examples/tiny-llama.yaml" > "$WORK/sc.yaml"
expect 1 "key 'scale': only with format int8 or int4" -- "$ARCHC" "$WORK/sc.yaml" -o "$WORK/sc.c"
echo "ok: all bad inputs refused"
