#!/usr/bin/env python3
"""bench/quant_quality.py - helpers of bench/quant_quality.sh (numpy only).

    quant_quality.py untie SRC_DIR DST_DIR
        DST_DIR/model.safetensors = SRC's tensors plus lm_head.weight, a copy of
        model.embed_tokens.weight (streamed, never held whole); config.json with
        tie_word_embeddings false.  The same model, written untied, so that
        llama.cpp can be given exactly the tensors archc quantises (archc
        quantize unties a tied embedding: the lm_head is quantised, the
        embedding kept; llama.cpp's tied GGUF has one tensor for both).

    quant_quality.py ids N VOCAB SEED
        N token ids, uniform in [0, VOCAB), comma-separated.

    quant_quality.py compare REF.f32 V LABEL:FILE.f32 ...
        Each FILE holds [T][V] float32 logits of the same prompt as REF.  Prints
        per file: mean and max over the T positions of KL(p_ref || p_file) (nats,
        softmax in float64) and the positions whose argmax agrees with REF's.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np


def untie(src, dst):
    os.makedirs(dst, exist_ok=True)
    path = os.path.join(src, "model.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    meta = header.pop("__metadata__", None)
    emb = header["model.embed_tokens.weight"]
    if "lm_head.weight" in header:
        sys.exit("untie: %s already has lm_head.weight" % src)
    end = max(v["data_offsets"][1] for v in header.values())
    e0, e1 = emb["data_offsets"]
    out = dict(header)
    out["lm_head.weight"] = {"dtype": emb["dtype"], "shape": emb["shape"], "data_offsets": [end, end + (e1 - e0)]}
    if meta is not None:
        out["__metadata__"] = meta
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = os.path.join(dst, "model.safetensors.tmp")
    with open(path, "rb") as fi, open(tmp, "wb") as fo:
        fo.write(struct.pack("<Q", len(h)))
        fo.write(h)
        fi.seek(base)
        left = end
        while left:
            b = fi.read(min(left, 1 << 26))
            if not b:
                sys.exit("untie: %s is truncated" % path)
            fo.write(b)
            left -= len(b)
        fi.seek(base + e0)
        left = e1 - e0
        while left:
            b = fi.read(min(left, 1 << 26))
            fo.write(b)
            left -= len(b)
    os.replace(tmp, os.path.join(dst, "model.safetensors"))
    cfg = json.load(open(os.path.join(src, "config.json")))
    cfg["tie_word_embeddings"] = False
    json.dump(cfg, open(os.path.join(dst, "config.json"), "w"), indent=2)
    for fn in os.listdir(src):
        if fn.startswith("tokenizer") or fn == "generation_config.json":
            shutil.copy(os.path.join(src, fn), dst)


def log_softmax(z):
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def compare(ref_path, V, files):
    ref = np.fromfile(ref_path, np.float32).reshape(-1, V)
    lr = log_softmax(ref)
    pr = np.exp(lr)
    top = ref.argmax(axis=1)
    for item in files:
        label, path = item.split(":", 1)
        q = np.fromfile(path, np.float32)
        if q.size != ref.size:
            print("%s n/a (%d logits, want %d)" % (label, q.size, ref.size))
            continue
        q = q.reshape(-1, V)
        kl = (pr * (lr - log_softmax(q))).sum(axis=1)
        agree = int((q.argmax(axis=1) == top).sum())
        print("%s %.3e %.3e %d %d" % (label, kl.mean(), kl.max(), agree, ref.shape[0]))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "untie":
        untie(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "ids":
        rng = np.random.default_rng(int(sys.argv[4]))
        print(",".join(str(int(i)) for i in rng.integers(0, int(sys.argv[3]), int(sys.argv[2]))))
    elif len(sys.argv) >= 5 and sys.argv[1] == "compare":
        compare(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
