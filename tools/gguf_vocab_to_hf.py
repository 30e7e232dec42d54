#!/usr/bin/env python3
"""tools/gguf_vocab_to_hf.py — a Hugging Face tokenizer.json (+ a minimal
tokenizer_config.json) from a llama.cpp vocabulary GGUF.

  gguf_vocab_to_hf.py VOCAB.gguf OUTDIR

llama.cpp's test vocabularies (models/ggml-vocab-*.gguf) carry the released
tokenizers of several model families, with `.inp`/`.out` files holding test
strings and the ids Hugging Face's tokenizer gave for them.  This rebuilds the
tokenizer.json those ids came from, so that archc's runtime/tokenizer.c can be
checked against them (tests/tokenizer/run_released.sh):

  * tokenizer.ggml.model "gpt2" (byte-level BPE): vocab and merges as stored;
    control / user-defined tokens become added_tokens (padding entries
    "[PADn]" that only fill the embedding matrix are left out); the
    pre-tokenizer named by tokenizer.ggml.pre is written as the released
    tokenizer.json of that family writes it (its Split regexes, ByteLevel);
  * tokenizer.ggml.model "llama" (SentencePiece BPE, Llama 2): vocab from the
    pieces, merges rebuilt from the piece scores the way transformers' converter
    does (every split of a piece into two pieces of the vocabulary, ordered by the
    merged piece's score), byte fallback, Prepend/Replace normalizer.

Only the families below are known; anything else is refused.
"""
import json
import os
import sys

try:
    import gguf
except ImportError:  # pragma: no cover
    sys.exit("gguf_vocab_to_hf.py: the Python package `gguf` is needed (pip install gguf)")

# ── pre-tokenizer regexes of the released tokenizer.json files ───────────────
CL100K = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def _cls(ranges):
    """A regex character class from (lo, hi) code point pairs, written with the
    characters themselves (as the released files do)."""
    out = []
    for lo, hi in ranges:
        out.append(chr(lo) if lo == hi else chr(lo) + "-" + chr(hi))
    return "[" + "".join(out) + "]"


# DeepSeek LLM / DeepSeek-V2: cased letters (Latin, Greek, Cyrillic, …), ASCII
# and full-width punctuation, trailing whitespace, CJK / Hangul runs, digit runs.
# Written as code points: several of them (U+1F7D, U+1FBE, U+1FD3, U+1FDB,
# U+2126, U+212A) are NFC singletons that editors and tools like to "fix".
_DS_LETTERS = [
    (0x41, 0x5A), (0x61, 0x7A), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA), (0x1BC, 0x1BF), (0x1C4, 0x293),
    (0x295, 0x2AF), (0x370, 0x373), (0x376, 0x376), (0x377, 0x377), (0x37B, 0x37D), (0x37F, 0x37F), (0x386, 0x386),
    (0x388, 0x38A), (0x38C, 0x38C), (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481), (0x48A, 0x52F), (0x531, 0x556),
    (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x1D00, 0x1D2B),
    (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D),
    (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4),
    (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB),
    (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113),
    (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128), (0x212A, 0x212D),
    (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149), (0x214E, 0x214E), (0x2183, 0x2183),
    (0x2184, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF2), (0x2CF3, 0x2CF3),
    (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787), (0xA78B, 0xA78E), (0xAB70, 0xABBF),
    (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3),
    (0x104D8, 0x104FB), (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
]
_DS_PUNCT = [(0x21, 0x2F), (0x3A, 0x7E), (0xFF01, 0xFF0F), (0xFF1A, 0xFF5E), (0x2018, 0x201F), (0x3000, 0x3002)]
_DS_CJK = [(0x4E00, 0x9FA5), (0x800, 0x4E00), (0xAC00, 0xD7FF)]
DEEPSEEK_LLM = ["[\r\n]", r"\s?" + _cls(_DS_LETTERS) + "+", r"\s?" + _cls(_DS_PUNCT) + "+", r"\s+$", _cls(_DS_CJK) + "+", r"\p{N}+"]


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


def byte_level(prefix=False, trim=True, use_regex=True):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": use_regex}


# tokenizer.ggml.pre → (normalizer, pre_tokenizer, ignore_merges)
BPE_FAMILIES = {
    "gpt-2": (None, byte_level(False, True, True), False),
    "llama-bpe": (None, {"type": "Sequence", "pretokenizers": [split(CL100K), byte_level(False, True, False)]}, True),
    "qwen2": ({"type": "NFC"}, {"type": "Sequence", "pretokenizers": [split(QWEN2), byte_level(False, False, False)]}, False),
    "deepseek-llm": ({"type": "Sequence", "normalizers": []},
                     {"type": "Sequence", "pretokenizers": [split(r) for r in DEEPSEEK_LLM] + [byte_level(False, True, False)]}, False),
}

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def added_token(i, content, special):
    # as transformers writes them: special tokens are matched in the raw text,
    # other added tokens (DeepSeek's byte-level characters ø ö ú …, Qwen2.5's
    # <tool_call>) after the normalizer
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def template(bos):
    if bos is None:
        return None
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [0], "tokens": [bos]}}}


def convert(path):
    r = gguf.GGUFReader(path)
    model = field(r, "tokenizer.ggml.model")
    pre = field(r, "tokenizer.ggml.pre", "default")
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type") or [NORMAL] * len(tokens)
    bos_id = field(r, "tokenizer.ggml.bos_token_id")
    eos_id = field(r, "tokenizer.ggml.eos_token_id")
    add_bos = field(r, "tokenizer.ggml.add_bos_token")
    vocab, added = {}, []
    if model == "gpt2":
        if pre not in BPE_FAMILIES:
            raise SystemExit(f"{path}: tokenizer.ggml.pre '{pre}' is not known to this converter")
        normalizer, pre_tok, ignore_merges = BPE_FAMILIES[pre]
        for i, (t, ty) in enumerate(zip(tokens, types)):
            if ty in (CONTROL, USER_DEFINED):
                if ty == USER_DEFINED and t == f"[PAD{i}]":
                    continue  # embedding padding, not a token of the released file
                added.append(added_token(i, t, ty == CONTROL))
            elif ty != UNUSED:
                vocab[t] = i
        merges = [m.split(" ", 1) for m in field(r, "tokenizer.ggml.merges")]
        if add_bos is None:
            add_bos = pre in ("llama-bpe", "deepseek-llm")
        bos = tokens[bos_id] if add_bos and bos_id is not None else None
        post = template(bos)
        if pre in ("gpt-2", "qwen2"):
            post = byte_level(False, False, False)
        elif post is not None:
            post = {"type": "Sequence", "processors": [byte_level(True, False, True), post]}
        tok = {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": normalizer, "pre_tokenizer": pre_tok, "post_processor": post,
            "decoder": byte_level(True, True, True),
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges},
        }
    elif model == "llama" and pre == "default":
        scores = field(r, "tokenizer.ggml.scores")
        for i, (t, ty) in enumerate(zip(tokens, types)):
            vocab[t] = i
            if ty in (UNKNOWN, CONTROL):
                added.append(added_token(i, t, True))
        # merges as transformers' SentencePieceExtractor builds them: each piece
        # that splits into two pieces of the vocabulary, by the merged piece's score
        merges = []
        for piece, i in vocab.items():
            if types[i] != NORMAL:
                continue
            local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
            local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
            merges += [(a, b, scores[i]) for a, b in local]
        merges.sort(key=lambda m: -m[2])
        unk = next((t for t, ty in zip(tokens, types) if ty == UNKNOWN), None)
        bos = tokens[bos_id] if (add_bos is None or add_bos) and bos_id is not None else None
        tok = {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None, "post_processor": template(bos),
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                      "vocab": vocab, "merges": [[a, b] for a, b, _ in merges]},
        }
    else:
        raise SystemExit(f"{path}: tokenizer model '{model}' with pre-tokenizer '{pre}' is not supported by this converter")
    config = {"add_bos_token": bool(bos), "add_eos_token": False,
              "bos_token": tokens[bos_id] if bos_id is not None else None,
              "eos_token": tokens[eos_id] if eos_id is not None else None,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    chat = field(r, "tokenizer.chat_template")
    if chat:
        config["chat_template"] = chat
    return tok, config


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gguf_vocab_to_hf.py VOCAB.gguf OUTDIR")
    tok, config = convert(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(os.path.join(sys.argv[2], "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(sys.argv[2], "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
