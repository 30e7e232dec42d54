#!/usr/bin/env python3
"""tools/make_tiktoken_ref.py — a small Qwen-1-style `qwen.tiktoken` vocabulary and the
ids the `tiktoken` library produces for the tokenizer test strings.

Qwen-1 ships no tokenizer.json: its vocabulary is qwen.tiktoken (one line per token:
base64 bytes, a space, the rank), encoded by tiktoken with Qwen's pre-tokenizer regex and
special tokens numbered after the ranks (<|endoftext|>, <|im_start|>, <|im_end|>,
<|extra_0|> … <|extra_204|>).  This builds the same kind of file with tiktoken's own BPE
trainer on the project's docs, small enough to commit:

  tests/tokenizer/qwen1/qwen.tiktoken    the vocabulary
  tests/tokenizer/qwen1.cases.json       [{"text": ..., "ids": [...]}], ids from tiktoken

Usage: python3 tools/make_tiktoken_ref.py   (needs tiktoken)
"""
import base64, json, os, sys

import tiktoken
from tiktoken._educational import bpe_train

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_refs import CASES, QWEN2 as QWEN_PAT, DOCS  # noqa: E402  (same strings, same regex as Qwen-1's PAT_STR)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
EXTRA_CASES = ["<|im_start|>user\nHello<|im_end|>\n", "text<|endoftext|>more", "<|extra_7|>x<|extra_204|>"]


def main():
    corpus = "".join(open(p, encoding="utf-8").read()[:20000] for p in DOCS) + \
        "Grüße aus München — ça va? Ελληνικά και русский текст. 日本語のテキストと中文。 😀👍🏽 it's 12345\n" * 5
    ranks = bpe_train(corpus, 700, QWEN_PAT, visualise=None)
    specials = {s: len(ranks) + i for i, s in enumerate(SPECIALS)}
    enc = tiktoken.Encoding(name="qwen1-test", pat_str=QWEN_PAT, mergeable_ranks=ranks, special_tokens=specials)
    os.makedirs(os.path.join(HERE, "qwen1"), exist_ok=True)
    with open(os.path.join(HERE, "qwen1", "qwen.tiktoken"), "w") as f:
        for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(tok).decode() + " " + str(rank) + "\n")
    cases = [{"text": t, "ids": enc.encode(t, allowed_special="all")} for t in CASES + EXTRA_CASES]
    with open(os.path.join(HERE, "qwen1.cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    print(f"qwen1: {len(ranks)} ranks + {len(SPECIALS)} specials, {len(cases)} cases")


if __name__ == "__main__":
    main()
