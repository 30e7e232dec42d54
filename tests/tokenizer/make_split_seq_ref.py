#!/usr/bin/env python3
"""tests/tokenizer/make_split_seq_ref.py — the regression fixture for
Sequence-of-Split pre-tokenizers (DeepSeek LLM / V2's six one-class regexes,
which runtime/tokenizer.c once rejected), kept in the repository so the check
runs where llama.cpp's released vocabularies are absent.

  tests/tokenizer/split_seq.json        a small byte-level BPE, trained with the
                                        Hugging Face `tokenizers` library, whose
                                        pre-tokenizer is DeepSeek LLM's (from
                                        tools/gguf_vocab_to_hf.py) followed by
                                        further one-class patterns ($ before \\n,
                                        negated classes, {m,n})
  tests/tokenizer/split_seq.cases.json  ids from `tokenizers` on the repository's
                                        Unicode strings (*.cases.json) and edge cases
"""
import glob, json, os, sys
from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from gguf_vocab_to_hf import DEEPSEEK_LLM  # noqa: E402

EXTRA = [r"[a ]+$", r"[^a-z\s]{2,3}", r"\s?[\p{N}.]+"]
EDGE = ["ab  \n cd  ", "a \n\n b", "x a a\na", "AbC12345 ", "   \n\n   ", "\r\n\r\n", "trailing   ", " \u3000\u3001。",
        "ΐ ώ ι Ω K \u1fd3\u1f7d\u1fbe\u2126\u212a", "Ｈｅｌｌｏ，ｗｏｒｌｄ！", "한국어 텍스트", "中文，日本語のかな", "x" + " " * 3000 + "y",
        " " * 2000, "3.14159 1,000,000 ٣٤٥ ⅻ", "‘quoted’ “double” — dash"]


def main():
    texts = []
    for f in sorted(glob.glob(os.path.join(HERE, "*.cases.json"))):
        if not f.endswith("split_seq.cases.json"):
            texts += [c["text"] for c in json.load(open(f, encoding="utf-8"))]
    texts += EDGE
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), behavior="isolated") for r in DEEPSEEK_LLM + EXTRA] +
        [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<｜begin▁of▁sentence｜>", "<|special|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(texts * 3, trainer)
    t.save(os.path.join(HERE, "split_seq.json"))
    seen, cases = set(), []
    for s in texts:
        if s not in seen:
            seen.add(s)
            cases.append({"text": s, "ids": t.encode(s).ids})
    with open(os.path.join(HERE, "split_seq.cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
