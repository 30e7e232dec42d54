#!/usr/bin/env python3
"""tests/hostile/gen.py ROOT OUT — build the generated hostile inputs.

Every case whose input is big or derived (from the tiny checkpoint, its
tokenizer, or just very deep) is written here at test time instead of being
committed.  Each generated case has its expectations committed as
tests/hostile/<kind>/NAME.expect; this script only makes the input:

  OUT/yaml/NAME.yaml                     (or a directory / nothing)
  OUT/import/NAME.json
  OUT/safetensors/NAME/                  a --weights directory
  OUT/tokenizer/NAME/                    a --weights directory with a tokenizer

Standard library only.
"""
import json
import os
import shutil
import struct
import sys

ROOT, OUT = sys.argv[1], sys.argv[2]
CK = os.path.join(ROOT, "examples", "tiny-llama")
TINY_YAML = open(os.path.join(ROOT, "examples", "tiny-llama.yaml"), "rb").read()
DEEP = 100000


def mkdir(p):
    os.makedirs(p, exist_ok=True)
    return p


def write(path, data):
    mkdir(os.path.dirname(path))
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


# ── YAML ─────────────────────────────────────────────────────────────────────
def gen_yaml():
    d = mkdir(os.path.join(OUT, "yaml"))
    y = lambda n: os.path.join(d, n + ".yaml")
    body = TINY_YAML.decode()
    # 100,000 nested flow sequences as the value of a key the parser must read
    write(y("deep_flow"), body.replace("vocab: 1024", "vocab: " + "[" * DEEP + "]" * DEEP))
    # 100,000 nested block mappings
    lines = ["name: deep", "family: llama", "vocab: 1024"]
    write(y("deep_block"), "\n".join(lines) + "\nhidden:\n" + "".join(" " * (i + 1) + "a%d:\n" % i for i in range(3000)) +
          " " * 3001 + "b: 1\n")
    write(y("deep_mixed"), body.replace("name: tiny-llama", "name: " + "{a: [" * (DEEP // 2) + "]}" * (DEEP // 2)))
    # invalid UTF-8 in a string, and raw binary garbage
    write(y("invalid_utf8"), TINY_YAML.replace(b"name: tiny-llama", b"name: tiny-\xff\xfe\xc3\x28llama"))
    write(y("invalid_utf8_key"), TINY_YAML.replace(b"hidden: 128", b"hid\xc0\xafden: 128"))
    garbage = bytes((i * 131 + 7 * (i >> 3) + 11) & 0xFF for i in range(4096))
    write(y("binary_garbage"), garbage)
    write(y("nul_bytes"), TINY_YAML.replace(b"family: llama", b"family: lla\x00ma"))
    # a 1 MB name and a 1 MB weight prefix: either rejected or emitted safely
    write(y("huge_name"), TINY_YAML.replace(b"name: tiny-llama", b"name: " + b"A" * (1 << 20)))
    write(y("huge_prefix"), TINY_YAML.replace(b"weights: {names: hf, format: f32}",
                                              b"weights: {names: hf, format: f32, prefix: " + b"p" * (1 << 20) + b"}"))
    # 10,000 variants / block entries (no hang, no fixed-size overflow)
    many = "\n".join("  v%d: {kind: swiglu, intermediate: 384}" % i for i in range(10000))
    write(y("many_variants"), body.replace("ffn: {kind: swiglu, intermediate: 384}", "ffn:\n" + many))
    blocks = "\n".join("  - {layers: all, norms: pre}" for _ in range(100000))
    write(y("many_blocks"), body.replace("  - {layers: all, norms: pre}", blocks))
    # a directory named like a description
    mkdir(y("is_directory"))
    # nothing: the file does not exist
    if os.path.exists(y("nonexistent")):
        os.remove(y("nonexistent"))


# ── import ───────────────────────────────────────────────────────────────────
def gen_import():
    d = mkdir(os.path.join(OUT, "import"))
    base = json.load(open(os.path.join(ROOT, "tests", "fixtures", "llama", "config.json")))
    txt = json.dumps(base, indent=2)
    write(os.path.join(d, "deep_array.json"),
          txt.replace('"vocab_size": ', '"vocab_size": ' + "[" * DEEP + "]" * DEEP + ', "x": '))
    write(os.path.join(d, "deep_object.json"), '{"a":' * DEEP + "1" + "}" * DEEP)
    write(os.path.join(d, "binary_garbage.json"), bytes((i * 131 + 11) & 0xFF for i in range(2048)))
    write(os.path.join(d, "huge_string.json"), txt.replace('"model_type": "llama"', '"model_type": "' + "l" * (1 << 22) + '"'))
    write(os.path.join(d, "huge_number.json"), txt.replace('"hidden_size": 64', '"hidden_size": 1' + "0" * 100000))
    write(os.path.join(d, "invalid_utf8.json"), txt.encode().replace(b'"model_type": "llama"', b'"model_type": "lla\xff\xfema"'))
    mkdir(os.path.join(d, "is_directory.json"))


# ── safetensors ──────────────────────────────────────────────────────────────
def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def st_bytes(header, data, pad_to=8, hlen=None, header_bytes=None):
    hb = header_bytes if header_bytes is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad_to:
        while (8 + len(hb)) % pad_to:
            hb += b" "
    return struct.pack("<Q", len(hb) if hlen is None else hlen) + hb + data


def gen_safetensors():
    hdr, data = read_st(os.path.join(CK, "model.safetensors"))
    d = mkdir(os.path.join(OUT, "safetensors"))
    V = "model.norm.weight"   # the victim: [128] F32, 512 bytes

    def case(name, content=None, files=None):
        cd = os.path.join(d, name)
        if os.path.exists(cd):
            shutil.rmtree(cd)
        mkdir(cd)
        shutil.copy(os.path.join(CK, "config.json"), cd)
        if content is not None:
            write(os.path.join(cd, "model.safetensors"), content)
        for rel, c in (files or {}).items():
            if c is None:
                mkdir(os.path.join(cd, rel))
            else:
                write(os.path.join(cd, rel), c)
        return cd

    def mut(fn):
        h = json.loads(json.dumps(hdr))
        fn(h)
        return h

    def setv(key, val):
        return lambda h: h[V].__setitem__(key, val)

    b, e = hdr[V]["data_offsets"]
    good = st_bytes(hdr, data)
    case("header_len_huge", st_bytes(hdr, data, hlen=1 << 63))
    case("header_len_past_eof", st_bytes(hdr, data, hlen=len(good)))
    case("header_len_zero", st_bytes(hdr, data, hlen=0))
    case("header_garbage", st_bytes(None, data, header_bytes=b"\x00\xff\xfe not json {{{ " + b"x" * 100))
    case("header_array", st_bytes(None, data, header_bytes=b"[1, 2, 3]"))
    case("header_deep", st_bytes(None, data, header_bytes=b"[" * DEEP + b"]" * DEEP))
    case("header_truncated", good[:8 + 2000])
    case("empty_file", b"")
    case("five_bytes", b"\x10\x00\x00\x00\x00")
    case("offsets_reversed", st_bytes(mut(setv("data_offsets", [e, b])), data))
    case("offsets_overflow", st_bytes(mut(setv("data_offsets", [(1 << 64) - 512, 1 << 64])), data))
    case("offsets_wrap", st_bytes(mut(setv("data_offsets", [(1 << 64) - 256, 256])), data))
    case("offsets_negative", st_bytes(mut(setv("data_offsets", [-512, 0])), data))
    case("offsets_float", st_bytes(mut(setv("data_offsets", [0.5, 512.5])), data))
    case("offsets_huge_double", st_bytes(mut(setv("data_offsets", [1e300, 1e300 + 512])), data))
    case("offsets_past_data", st_bytes(mut(setv("data_offsets", [len(data), len(data) + 512])), data))
    case("offsets_size_mismatch", st_bytes(mut(setv("data_offsets", [b, b + 256])), data))
    other = "model.layers.0.input_layernorm.weight"
    case("offsets_overlap", st_bytes(mut(setv("data_offsets", list(hdr[other]["data_offsets"]))), data))
    case("offsets_missing", st_bytes(mut(lambda h: h[V].pop("data_offsets")), data))
    case("offsets_three", st_bytes(mut(setv("data_offsets", [b, e, e])), data))
    case("offsets_not_array", st_bytes(mut(setv("data_offsets", "0-512")), data))
    case("dtype_wrong_same_size", st_bytes(mut(setv("dtype", "I32")), data))
    case("dtype_unknown", st_bytes(mut(setv("dtype", "Q4_K")), data))
    case("dtype_not_string", st_bytes(mut(setv("dtype", 5)), data))
    case("shape_wrong_same_numel", st_bytes(mut(setv("shape", [64, 2])), data))
    case("shape_negative", st_bytes(mut(setv("shape", [-128])), data))
    case("shape_negative_pair", st_bytes(mut(setv("shape", [-1, -128])), data))
    case("shape_overflow", st_bytes(mut(setv("shape", [1 << 62, 1 << 62, 4])), data))
    case("shape_not_array", st_bytes(mut(setv("shape", "128")), data))
    case("shape_float", st_bytes(mut(setv("shape", [128.5])), data))
    case("shape_deep_rank", st_bytes(mut(setv("shape", [1] * 10000 + [128])), data))
    # the victim twice in the header, both entries identical (JSON allows it; the checkpoint is ambiguous)
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    dup = b'"%s":%s,' % (V.encode(), json.dumps(hdr[V], separators=(",", ":")).encode())
    case("duplicate_tensor", st_bytes(None, data, header_bytes=b"{" + dup + hb[1:]))
    case("metadata_not_object", st_bytes(mut(lambda h: h.__setitem__("__metadata__", [1, 2])), data))
    # misaligned data: the buffer starts at 8 + N with N ≡ 2 (mod 4); then every tensor starts 2 bytes in
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    while (8 + len(hb)) % 4 != 2:
        hb += b" "
    case("misaligned_buffer", struct.pack("<Q", len(hb)) + hb + data)
    shifted = mut(lambda h: [t.__setitem__("data_offsets", [t["data_offsets"][0] + 2, t["data_offsets"][1] + 2])
                            for k, t in h.items() if k != "__metadata__"])
    case("misaligned_offsets", st_bytes(shifted, b"\0\0" + data))
    # truncated in the middle of the tensor stored last
    last = max((k for k in hdr if k != "__metadata__"), key=lambda k: hdr[k]["data_offsets"][1])
    lb, le = hdr[last]["data_offsets"]
    hlen = len(good) - len(data)
    case("truncated_data", good[:hlen + (lb + le) // 2])
    with open(os.path.join(d, "truncated_data.tensor"), "w") as f:
        f.write(last)
    case("is_directory", None, {"model.safetensors": None})
    # sharded checkpoints: model.safetensors.index.json
    shard = "model-00001-of-00001.safetensors"
    wm = {k: shard for k in hdr if k != "__metadata__"}

    def index(name, m, extra=None, raw=None):
        files = {shard: good, "model.safetensors.index.json": raw if raw is not None else json.dumps({"metadata": {}, "weight_map": m})}
        files.update(extra or {})
        case(name, None, files)

    outside = case("zz_outside", good)   # a valid checkpoint outside the victim directories
    index("index_traversal_etc", dict(wm, **{V: "../../../../../../../../etc/passwd"}))
    index("index_traversal_real", dict(wm, **{V: "../zz_outside/model.safetensors"}))
    index("index_absolute_real", dict(wm, **{V: os.path.abspath(os.path.join(outside, "model.safetensors"))}))
    index("index_shard_is_dir", dict(wm, **{V: "shard_dir.safetensors"}), {"shard_dir.safetensors": None})
    index("index_shard_missing", dict(wm, **{V: "model-00002-of-00002.safetensors"}))
    index("index_not_json", None, raw=b'{"weight_map": {"model.norm.weight": ')
    index("index_map_not_object", None, raw=json.dumps({"metadata": {}, "weight_map": [shard]}))
    index("index_shard_not_string", dict(wm, **{V: 5}))
    index("index_deep", None, raw=b'{"weight_map": ' + b"[" * DEEP + b"]" * DEEP + b"}")
    index("index_shard_empty_name", dict(wm, **{V: ""}))


# ── tokenizers ───────────────────────────────────────────────────────────────
def gen_tokenizer():
    d = mkdir(os.path.join(OUT, "tokenizer"))
    tj = open(os.path.join(CK, "tokenizer.json"), "rb").read()
    tok = json.loads(tj)

    def case(name, fname, content):
        cd = os.path.join(d, name)
        if os.path.exists(cd):
            shutil.rmtree(cd)
        mkdir(cd)
        shutil.copy(os.path.join(CK, "config.json"), cd)
        os.symlink(os.path.abspath(os.path.join(CK, "model.safetensors")), os.path.join(cd, "model.safetensors"))
        if content is None:
            mkdir(os.path.join(cd, fname))
        else:
            write(os.path.join(cd, fname), content)

    def mut(fn):
        t = json.loads(tj)
        fn(t)
        return json.dumps(t, ensure_ascii=False)

    def tp(t):
        return t["post_processor"]["processors"][1]

    def bos_ids(v):
        return lambda t: tp(t)["special_tokens"]["<|begin_of_text|>"].__setitem__("ids", [v])

    case("bos_negative", "tokenizer.json", mut(bos_ids(-1)))
    case("bos_huge", "tokenizer.json", mut(bos_ids(2147483647)))
    case("bos_unknown_name", "tokenizer.json",
         mut(lambda t: tp(t)["single"][0]["SpecialToken"].__setitem__("id", "<|no_such_token|>")))

    def added(v):
        return lambda t: t["added_tokens"].append({"id": v, "content": "<|evil|>", "single_word": False, "lstrip": False,
                                                   "rstrip": False, "normalized": False, "special": True})
    case("added_id_int_max", "tokenizer.json", mut(added(2147483647)))
    case("added_id_1p5e9", "tokenizer.json", mut(added(1500000000)))
    case("added_id_negative", "tokenizer.json", mut(added(-7)))
    case("added_id_1e300", "tokenizer.json", mut(added(1e300)))
    case("added_id_2p63", "tokenizer.json", mut(added(1 << 63)))
    case("vocab_id_negative", "tokenizer.json", mut(lambda t: t["model"]["vocab"].__setitem__("zzqq", -3)))
    case("vocab_id_huge", "tokenizer.json", mut(lambda t: t["model"]["vocab"].__setitem__("zzqq", 2000000000)))
    case("vocab_not_object", "tokenizer.json", mut(lambda t: t["model"].__setitem__("vocab", ["a", "b"])))
    case("merges_unknown_tokens", "tokenizer.json", mut(lambda t: t["model"]["merges"].insert(0, ["zzqq", "xxyy"])))
    case("merges_bad_entry", "tokenizer.json", mut(lambda t: t["model"]["merges"].insert(0, 12345)))
    case("model_unigram", "tokenizer.json", mut(lambda t: t["model"].__setitem__("type", "Unigram")))
    case("no_model", "tokenizer.json", "{}")
    case("invalid_json", "tokenizer.json", tj[: len(tj) // 2])
    case("deep_nesting", "tokenizer.json", b'{"normalizer": ' + b"[" * DEEP + b"]" * DEEP + b"," + tj[1:])
    case("empty_file", "tokenizer.json", b"")
    case("is_directory", "tokenizer.json", None)
    # qwen.tiktoken: "BASE64 RANK" per line
    tt = open(os.path.join(ROOT, "tests", "tokenizer", "qwen1", "qwen.tiktoken"), "rb").read()
    lines = tt.split(b"\n")
    def ttcase(name, line_no, text):
        ls = list(lines)
        b64 = ls[line_no].split(b" ")[0]
        ls[line_no] = text.replace(b"B64", b64)
        case(name, "qwen.tiktoken", b"\n".join(ls))
    # line 301 holds rank 300: replace it
    ttcase("tiktoken_bad_base64", 300, b"!!!*** 300")
    ttcase("tiktoken_missing_rank", 300, b"B64")
    ttcase("tiktoken_huge_rank", 300, b"B64 99999999999")
    ttcase("tiktoken_int_max_rank", 300, b"B64 2147483647")
    ttcase("tiktoken_negative_rank", 300, b"B64 -5")
    ttcase("tiktoken_junk_rank", 300, b"B64 300x")
    case("tiktoken_empty", "qwen.tiktoken", b"")
    case("tiktoken_garbage", "qwen.tiktoken", bytes((i * 131 + 11) & 0xFF for i in range(4096)))


kinds = sys.argv[3:] or ["yaml", "import", "safetensors", "tokenizer"]
for k in kinds:
    globals()["gen_" + k]()
