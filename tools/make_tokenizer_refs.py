#!/usr/bin/env python3
"""tools/make_tokenizer_refs.py — small tokenizer.json files of the shapes real
models ship, trained with the Hugging Face `tokenizers` library on the project's
docs, plus the ids `tokenizers` produces for a varied set of strings.

  tests/tokenizer/<name>.json        the tokenizer
  tests/tokenizer/<name>.cases.json  [{"text": ..., "ids": [...]}]

Shapes: Llama 3 (byte-level BPE, cl100k split regex, ignore_merges, BOS template),
Qwen2 (NFC, Qwen regex, specials), GPT-2 (ByteLevel with its own regex),
Llama 2 (SentencePiece-style BPE with byte fallback, Prepend/Replace, <s> template).
"""
import glob, json, os
from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, decoders, processors, trainers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer")
DOCS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "docs", "*.md")))
CORPUS = [open(p, encoding="utf-8").read() for p in DOCS] + [
    "Once upon a time there was a little model. It's 2024; they'll say 12345 tokens/s!\n\n",
    "Grüße aus München — ça va? Ελληνικά και русский текст. 日本語のテキストと中文。 😀👍🏽",
] * 20
CL100K = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CASES = [
    "Hello world", "Once upon a time", "  leading and trailing spaces  ", "tabs\tand\nnewlines\r\n\r\nend",
    "numbers 1234567 and 3.14159, 1,000,000", "contractions: it's, don't, they'll, we've, I'M, YOU'RE",
    "punctuation!!! ??? ... --- (parens) [brackets] {braces} <angle>", "email: someone@example.com; url: https://x.org/a?b=c",
    "Grüße aus München — ça va?", "Ελληνικά και русский текст", "日本語のテキストと中文。", "emoji 😀👍🏽 done",
    "mixedCASE camelCase snake_case kebab-case", "\n\n\n", "   ", "a", "x" * 50, "multiple   spaces    here",
    "code: for (int i = 0; i < n; i++) { s += a[i]; }", "ends with newline\n", "<|special|> inside text <|special|>x",
    "accents: naïve café résumé", "digits12345abc678", "spaces before newline   \nnext",
]


def train(tok, vocab, specials):
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if tok.pre_tokenizer else [])
    tok.train_from_iterator(CORPUS, trainer)


def llama3():
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(CL100K), behavior="isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    train(t, 900, ["<|begin_of_text|>", "<|end_of_text|>", "<|special|>"])
    t.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])])
    return t


def qwen2():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    train(t, 900, ["<|endoftext|>", "<|im_start|>", "<|special|>"])
    return t


def gpt2():
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    train(t, 800, ["<|endoftext|>", "<|special|>"])
    return t


def llama2():
    t = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>", "<|special|>"] + [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=specials, show_progress=False)
    t.train_from_iterator(CORPUS, trainer)
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return t


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, make in [("llama3", llama3), ("qwen2", qwen2), ("gpt2", gpt2), ("llama2", llama2)]:
        t = make()
        path = os.path.join(HERE, name + ".json")
        t.save(path)
        t = Tokenizer.from_file(path)
        cases = [{"text": s, "ids": t.encode(s).ids} for s in CASES]
        json.dump(cases, open(os.path.join(HERE, name + ".cases.json"), "w"), ensure_ascii=False, indent=0)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
