#!/usr/bin/env python3
"""tools/make_bpe_long_refs.py — long single-word inputs for the BPE merge loop
(runtime/tokenizer.c: bpe_word), with the ids the Hugging Face `tokenizers`
library gives for them.

A pre-tokenized "word" can be thousands of symbols long: a run of letters, of
digits under a pre-tokenizer that keeps digits together (GPT-2), of CJK, or any
text at all under a tokenizer without a pre-tokenizer (Llama 2's
SentencePiece-style BPE with byte fallback, where spaces become '▁').  These
cases check that the merge order on such words is exactly `tokenizers'`: the
lowest rank first, the leftmost of equal ranks (runs of one letter, where the
same pair overlaps itself, and strings over two or three letters), and the new
symbol merging again with its neighbours (concatenated vocabulary tokens).
Word lengths around bpe_word's short-word cut-off (16 symbols) are included.

Uses the tokenizer.json files already in tests/tokenizer/ and writes

  tests/tokenizer/long/<name>.cases.json  [{"text": ..., "ids": [...]}]

for the test binary tests/tokenizer/test_tokenizer.c (tests/tokenizer_long.cmake).
They live in a folder of their own, out of the tests/tokenizer/*.cases.json glob
of run_released.sh: its test binary reads at most 4096 ids per string, and
byte-level CJK strings of this length give more.

    pip install tokenizers==0.22.2 && python3 tools/make_bpe_long_refs.py
"""
import json, os, random
from tokenizers import Tokenizer

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer")


def vocab_words(tok, pred):
    """Decoded vocabulary tokens (2+ characters) whose text satisfies pred."""
    out = set()
    for tid in tok.get_vocab().values():
        s = tok.decode([tid])
        if len(s) >= 2 and "\ufffd" not in s and pred(s):
            out.add(s)
    return sorted(out)


def runs(rng, chars, n):
    """Runs of one character each (lengths 1..40, so both parities), n chars."""
    s = ""
    while len(s) < n:
        s += rng.choice(chars) * rng.randint(1, 40)
    return s[:n]


def pieces(rng, words, n, sep=""):
    """Vocabulary tokens glued together: deep merge chains across the joins."""
    s = ""
    while len(s) < n:
        s += rng.choice(words) + sep
    return s[:n]


def rand_from(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def doubled(tok, chars):
    """Characters c with cc in the vocabulary: runs of c have equal-rank overlaps."""
    v = set(tok.decode([i]) for i in tok.get_vocab().values())
    return [c for c in chars if c * 2 in v] or list(chars)


def cases_for(name, tok, rng):
    lower = "abcdefghijklmnopqrstuvwxyz"
    letters = vocab_words(tok, lambda s: s.isascii() and s.isalpha() and s.islower())
    cjk = "日本語のテキストと中文漢字你好世界東京大学生活水平"
    # the letter with the longest run of itself in the vocabulary ("ee", "eee", ...)
    v = set(tok.decode([i]) for i in tok.get_vocab().values())
    rep = max(lower, key=lambda c: max(k for k in range(1, 17) if k == 1 or c * k in v))
    out = []
    # around the short-word cut-off, and one long run of one letter
    for k in (14, 15, 16, 17, 18, 33):
        out.append(rep * k)
        out.append(rand_from(rng, "the", k))
    out.append(rep * 3001)
    if name == "llama2":
        # no pre-tokenizer: the whole text (spaces -> '▁') is one word
        words = vocab_words(tok, lambda s: s.replace("▁", "").isalpha())
        words = [w.replace("▁", " ") for w in words]
        out.append(pieces(rng, words, 8000))
        out.append(runs(rng, doubled(tok, lower) + [" "], 3000))
        # byte fallback: CJK and emoji not in the vocabulary, mixed with text
        out.append(pieces(rng, words + list(cjk) + ["😀", "👍🏽", "é", "ß", "\t", "\n"], 3000))
        out.append(rand_from(rng, "ab ", 3000))
    elif name == "gpt2":
        # ' ?\p{N}+': a run of digits is one word
        out.append(rand_from(rng, "0123456789", 2500))
        out.append(runs(rng, "0123456789", 3000))
        out.append(pieces(rng, letters, 3000))
        out.append(runs(rng, doubled(tok, lower), 3000))
    elif name in ("qwen2", "deepseek3"):
        # a run of CJK (letters; DeepSeek-V3 isolates CJK runs) is one word
        cjk_v = vocab_words(tok, lambda s: all("\u4e00" <= c <= "\u9fa5" or "\u3040" <= c <= "\u30ff" for c in s))
        out.append(rand_from(rng, cjk, 2500))
        out.append(pieces(rng, cjk_v + list(cjk), 2500) if cjk_v else runs(rng, cjk, 2500))
        out.append(pieces(rng, letters, 3000))
        out.append(runs(rng, doubled(tok, lower), 3000))
    else:
        out.append(pieces(rng, letters, 3000))
        out.append(runs(rng, doubled(tok, lower), 3000))
        out.append(rand_from(rng, "ab", 3000))
        out.append(rand_from(rng, lower, 3000))
    return out


def main():
    total = 0
    for name in ("llama3", "qwen2", "gpt2", "llama2", "o200k", "deepseek3"):
        tok = Tokenizer.from_file(os.path.join(HERE, name + ".json"))
        rng = random.Random(name)
        cases = [{"text": s, "ids": tok.encode(s).ids} for s in cases_for(name, tok, rng)]
        os.makedirs(os.path.join(HERE, "long"), exist_ok=True)
        path = os.path.join(HERE, "long", name + ".cases.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases) + "\n]\n")
        total += os.path.getsize(path)
        print(name, len(cases), "cases", os.path.getsize(path), "bytes")
    print("total", total, "bytes")


if __name__ == "__main__":
    main()
