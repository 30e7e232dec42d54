#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py — (re)generate the hand-made seed inputs of the
runtime fuzz corpora in tests/fuzz/corpus/{json,safetensors,tokenizer,tiktoken}/:
small valid inputs of each kind (trimmed copies of the test tokenizers, a tiny
safetensors file, an index) and the malformed cases fixed for issue 13.
Files minimised by libFuzzer (-merge=1) and crash reproducers are added next to
them by tools/fuzz.sh --save; this script only writes the seed_* files.

    python3 tests/fuzz/make_seeds.py
"""
import json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(kind, name, data):
    d = os.path.join(CORPUS, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


# ── json
put("json", "config.json", open(os.path.join(ROOT, "examples/tiny-llama/config.json"), "rb").read())
put("json", "numbers.json", '[0, -0, 1.5, -2e-3, 1E+10, 123456789012345678901234567890, 1e-400, NaN, Infinity, -Infinity]')
put("json", "strings.json", r'{"a": "\u00e9\ud83d\ude00\n\t\"\\\/", "b": "\u2581x", "": "", "c\u0000d": 1, "a": 2}')
put("json", "nested.json", "[" * 100 + "]" * 100)
put("json", "big_object.json", json.dumps({"k%d" % i: i for i in range(40)}))
put("json", "bad_1e400.json", '{"theta": 1e400}')
put("json", "bad_deep.json", "[" * 600 + "]" * 600)
put("json", "bad_surrogate.json", r'["\ud800"]')
put("json", "bad_low_surrogate.json", r'["\udc00\ud800"]')
put("json", "bad_utf8.json", b'["\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"]')
put("json", "bad_number.json", '[01, 1., .5, +1, -]')
put("json", "bad_trailing.json", '{"a": [1, 2,], }')
put("json", "bad_control.json", '"tab\there"')


# ── safetensors
def st(tensors, data, pad=True, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(tensors, separators=(",", ":"))
    h = h.encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


ok = {"__metadata__": {"format": "pt"},
      "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
      "n": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
      "h": {"dtype": "F16", "shape": [2], "data_offsets": [32, 36]},
      "q": {"dtype": "U8", "shape": [3], "data_offsets": [36, 39]},
      "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [39, 39]}}
put("safetensors", "valid.safetensors", st(ok, bytes(range(39))))
mis = {"b": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
       "f": {"dtype": "F32", "shape": [2], "data_offsets": [2, 10]},
       "g": {"dtype": "BF16", "shape": [1], "data_offsets": [11, 13]}}
put("safetensors", "misaligned.safetensors", st(mis, bytes(range(13))))
put("safetensors", "unpadded_header.safetensors", st({"f": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8), pad=False))
put("safetensors", "bad_header_too_long.safetensors", struct.pack("<Q", 1000) + b'{"a":1}')
put("safetensors", "bad_header_max.safetensors", b"\xff" * 8)
for name, hdr in [
    ("begin_gt_end", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}'),
    ("end_past_data", '{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}'),
    ("offset_1e300", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e300]}}'),
    ("offset_nan", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[NaN,4]}}'),
    ("offset_negative", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}'),
    ("shape_negative", '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}'),
    ("shape_overflow", '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}'),
    ("bytes_overflow", '{"a":{"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]}}'),
    ("duplicate_name", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
    ("overlap", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
    ("unknown_dtype", '{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}'),
    ("seven_dims", '{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1],"data_offsets":[0,1]}}'),
    ("not_object", '[1,2]'),
    ("entry_not_object", '{"a":5}'),
]:
    put("safetensors", "bad_" + name + ".safetensors", st(None, bytes(16), raw_header=hdr))
put("safetensors", "index.json", json.dumps({"metadata": {"total_size": 8},
    "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}))
put("safetensors", "index_subdir.json", '{"weight_map": {"a": "sub/x.safetensors", "b": "a..b/y.safetensors"}}')
put("safetensors", "bad_index_traversal.json", '{"weight_map": {"a": "../../etc/passwd"}}')
put("safetensors", "bad_index_absolute.json", '{"weight_map": {"a": "/etc/passwd"}}')
put("safetensors", "bad_index_nul.json", '{"weight_map": {"a": "x\\u0000y"}}')
put("safetensors", "bad_index_not_string.json", '{"weight_map": {"a": 7}}')
put("safetensors", "bad_index_no_map.json", '{"metadata": {}}')


# ── tokenizer.json: trimmed test tokenizers (ids < K), then malformed variants
def trim(name, K=300):
    d = json.load(open(os.path.join(ROOT, "tests/tokenizer/%s.json" % name)))
    m = d["model"]
    m["vocab"] = {k: v for k, v in m["vocab"].items() if v < K}
    keep = []
    for x in m.get("merges") or []:
        a, b = x.split(" ", 1) if isinstance(x, str) else x
        if a in m["vocab"] and b in m["vocab"] and a + b in m["vocab"]:
            keep.append(x)
    m["merges"] = keep
    d["added_tokens"] = [a for a in d["added_tokens"] if a["id"] < K]
    return d


texts = {"gpt2": "Hello world, it's 12345!", "llama2": "Once upon a time \xe4\xbd\xa0", "llama3": "The  cat\n\nsat 1234567",
         "qwen2": "<|im_start|>user caf\u00e9<|im_end|>"}
for n in ["gpt2", "llama2", "llama3", "qwen2"]:
    d = trim(n, 40 if n == "llama2" else 300)   # llama2's 260 byte tokens are added tokens: fewer kept
    text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    put("tokenizer", n + ".json", text)
    put("tokenizer", n + "_with_text.json", text.encode() + b"\0" + texts[n].encode("utf-8", "surrogatepass"))
base = trim("llama3")


def variant(name, f):
    d = json.loads(json.dumps(base))
    f(d)
    put("tokenizer", "bad_" + name + ".json", json.dumps(d, separators=(",", ":")))


def set_bos(d, v):
    for p in d["post_processor"]["processors"]:
        if p["type"] == "TemplateProcessing":
            for s in p["special_tokens"].values():
                s["ids"] = [v]


variant("bos_negative", lambda d: set_bos(d, -1))
variant("bos_out_of_vocab", lambda d: set_bos(d, 10 ** 6))
variant("bos_fraction", lambda d: set_bos(d, 1.5))
variant("added_id_2p31", lambda d: d["added_tokens"].append(dict(d["added_tokens"][0], id=2 ** 31 - 1, content="<big>")))
variant("added_id_1p5e9", lambda d: d["added_tokens"].append(dict(d["added_tokens"][0], id=1.5e9, content="<big>")))
variant("added_id_missing", lambda d: d["added_tokens"].append({"content": "<x>"}))
variant("added_empty", lambda d: d["added_tokens"].append(dict(d["added_tokens"][0], content="")))
variant("vocab_id_negative", lambda d: d["model"]["vocab"].update({"zz": -5}))
variant("vocab_id_huge", lambda d: d["model"]["vocab"].update({"zz": 2 ** 31 - 1}))
variant("vocab_duplicate_id", lambda d: d["model"]["vocab"].update({"zz": 7}))
variant("merge_unknown", lambda d: d["model"]["merges"].append("qqq rrr"))
variant("merge_result_unknown", lambda d: d["model"]["merges"].append("a b") if "a" in d["model"]["vocab"] and "b" in d["model"]["vocab"] and "ab" not in d["model"]["vocab"] else d["model"]["merges"].append(["!", "!"]))
variant("merge_not_pair", lambda d: d["model"]["merges"].append(["a"]))
variant("merges_not_array", lambda d: d["model"].__setitem__("merges", {"a": 1}))
variant("added_not_array", lambda d: d.__setitem__("added_tokens", 5))
put("tokenizer", "bad_duplicate_token.json", '{"model":{"type":"BPE","vocab":{"a":0,"a":1},"merges":[]}}')
put("tokenizer", "bad_not_object.json", '[]')
put("tokenizer", "minimal.json", '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}\0abba')
put("tokenizer", "metaspace.json", json.dumps({"model": {"type": "BPE", "vocab": {"\u2581": 0, "a": 1, "\u2581a": 2, "<0x41>": 3},
    "merges": ["\u2581 a"], "byte_fallback": True, "unk_token": "a", "fuse_unk": True},
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "Replace", "pattern": {"String": "x"}, "content": "aa"}]}}) + "\0A xa\xe9")

# ── qwen.tiktoken: the test vocabulary, trimmed, and malformed variants
lines = open(os.path.join(ROOT, "tests/tokenizer/qwen1/qwen.tiktoken"), "rb").read().split(b"\n")
lines = [l for l in lines if l]
put("tiktoken", "qwen_300.tiktoken", b"\n".join(lines[:300]) + b"\n")
put("tiktoken", "qwen_300_with_text.tiktoken", b"\n".join(lines[:300]) + b"\n\0Hello world <|im_start|>x<|extra_3|>")
put("tiktoken", "crlf.tiktoken", b"\r\n".join(lines[:260]) + b"\r\n")
head = b"\n".join(lines[:256]) + b"\n"
put("tiktoken", "bad_base64.tiktoken", head + b"QQ*= 256\n")
put("tiktoken", "bad_base64_padding.tiktoken", head + b"QQ==QQ 256\n")
put("tiktoken", "bad_base64_bits.tiktoken", head + b"QR== 256\n")
put("tiktoken", "bad_rank_duplicate.tiktoken", head + b"QUE= 255\n")
put("tiktoken", "bad_rank_huge.tiktoken", head + b"QUE= 99999999999999999999\n")
put("tiktoken", "bad_rank_junk.tiktoken", head + b"QUE= 256x\n")
put("tiktoken", "bad_rank_missing.tiktoken", head + b"QUE=\n")
put("tiktoken", "bad_no_space.tiktoken", head + b"QUE=256\n")
put("tiktoken", "bad_duplicate_bytes.tiktoken", head + b"QQ== 256\n")
put("tiktoken", "bad_missing_byte.tiktoken", b"\n".join(lines[1:256]) + b"\n")
