#!/usr/bin/env bash
# tests/quant/sharded.sh ARCHC COMPARE FIXTURE WORK
# Sharded in and out: a sharded int8 output (--shard-size) is re-read by the
# compiled model and gives the same logits as the single-file one; the
# tokenizer files and generation_config.json are copied.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4
rm -rf "$WORK"; mkdir -p "$WORK"
V=$(grep -o '"vocab_size": *[0-9]*' "$FX/config.json" | grep -o '[0-9]*$')
PROMPT=$(tr -d '\n' < "$FX/prompt_ids.txt")
mkdir "$WORK/in"; cp "$FX/config.json" "$FX/model.safetensors" "$WORK/in/"
echo '{"bos_token_id": 1}' > "$WORK/in/generation_config.json"
echo '{"model": {}}' > "$WORK/in/tokenizer.json"
"$ARCHC" quantize "$WORK/in" -o "$WORK/one" --format int8
"$ARCHC" quantize "$WORK/in" -o "$WORK/many" --format int8 --shard-size 65536
N=$(ls "$WORK/many"/model-*-of-*.safetensors | wc -l)
[ "$N" -gt 1 ] || { echo "FAIL: expected several shards, got $N"; exit 1; }
[ -f "$WORK/many/model.safetensors.index.json" ] || { echo "FAIL: no index"; exit 1; }
cmp "$WORK/in/generation_config.json" "$WORK/many/generation_config.json"
cmp "$WORK/in/tokenizer.json" "$WORK/many/tokenizer.json"
# the sharded output quantised again from a sharded input gives the same tensors
"$ARCHC" import "$WORK/one" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m"
"$WORK/m" --weights "$WORK/one" --tokens "$PROMPT" -n 2 --logits "$WORK/one.bin" --threads 2 > /dev/null
"$WORK/m" --weights "$WORK/many" --tokens "$PROMPT" -n 2 --logits "$WORK/many.bin" --threads 2 > /dev/null
"$COMPARE" "$WORK/one.bin" "$WORK/many.bin" "$V" 0
echo "ok: $N shards, same logits"
