#!/usr/bin/env bash
# tests/tokenizer/run_released.sh — archc's tokenizer on a released vocabulary.
#
#   run_released.sh NAME TEST_RELEASED_BIN WORKDIR
#
# llama.cpp's test vocabularies ($ARCHC_VOCAB_DIR, default ../llama.cpp/models
# next to the source tree) hold released tokenizers as GGUF
# (ggml-vocab-NAME.gguf) with test strings (.inp) and the ids Hugging Face's
# tokenizer gave for them (.out).  tools/gguf_vocab_to_hf.py rebuilds the
# tokenizer.json; archc's ids must equal the .out ones exactly.  When the Python
# `tokenizers` package is there, a second corpus (the repository's o200k / NFC /
# tokenizer cases and the .inp strings, 656 strings with Unicode edge cases) is tokenized by
# `tokenizers` on the same converted tokenizer.json and archc must agree on
# every string too — a check against HF on the converted file, as good as the
# conversion, which the .out check validates.
# Exit 77 (skipped) when the vocabulary or the Python `gguf` package is absent.
set -u
NAME=$1 BIN=$2 WORK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VOCABS=${ARCHC_VOCAB_DIR:-$ROOT/../llama.cpp/models}
G=$VOCABS/ggml-vocab-$NAME.gguf
for f in "$G" "$G.inp" "$G.out"; do
  [ -f "$f" ] || { echo "SKIP: $f not found (set ARCHC_VOCAB_DIR to llama.cpp's models/)"; exit 77; }
done
python3 -c 'import gguf' 2>/dev/null || { echo "SKIP: the Python package gguf is not installed"; exit 77; }
D=$WORK/released-$NAME
mkdir -p "$D"
if [ ! -s "$D/tokenizer.json" ] || [ "$G" -nt "$D/tokenizer.json" ] || [ "$ROOT/tools/gguf_vocab_to_hf.py" -nt "$D/tokenizer.json" ]; then
  python3 "$ROOT/tools/gguf_vocab_to_hf.py" "$G" "$D" || { echo "FAIL: conversion"; exit 1; }
fi
rc=0
echo "== $NAME: llama.cpp's strings against the released tokenizer's ids"
"$BIN" "$D/tokenizer.json" "$G.inp" "$G.out" || rc=1
if python3 -c 'import tokenizers' 2>/dev/null; then
  echo "== $NAME: Unicode corpus against \`tokenizers\` on the converted tokenizer.json"
  python3 - "$D/tokenizer.json" "$D/corpus.inp" "$D/corpus.out" "$HERE" "$G.inp" <<'PY' || rc=1
import glob, json, os, sys
from tokenizers import Tokenizer
tok, inp, out, here, ginp = sys.argv[1:6]
texts = []
for f in sorted(glob.glob(os.path.join(here, "*.cases.json"))):
    texts += [c["text"] for c in json.load(open(f, encoding="utf-8"))]
texts += open(ginp, encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")[:-1]
texts += ["".join(t.split("\n")) for t in texts if "\n" in t]  # the same without newlines
t = Tokenizer.from_file(tok)
seen, cases = set(), []
for s in texts:
    if s not in seen and "\n__ggml_vocab_test__\n" not in s:
        seen.add(s)
        cases.append((s, t.encode(s, add_special_tokens=False).ids))
with open(inp, "w", encoding="utf-8", newline="") as f:
    f.write("".join(s + "\n__ggml_vocab_test__\n" for s, _ in cases))
with open(out, "w") as f:
    f.write("".join("".join(f" {i}" for i in ids) + "\n" for _, ids in cases))
print(f"{len(cases)} strings")
PY
  "$BIN" "$D/tokenizer.json" "$D/corpus.inp" "$D/corpus.out" || rc=1
else
  echo "(the Python package tokenizers is not installed: the corpus check is skipped)"
fi
exit $rc
