#!/usr/bin/env python3
"""tests/tokenizer/make_deepseek3_ref.py — the regression fixture for DeepSeek-V3 /
R1's pre-tokenizer, kept in the repository (the released tokenizer.json is not).

  tests/tokenizer/deepseek3.json        a small byte-level BPE trained with the
                                        Hugging Face `tokenizers` library; its
                                        normalizer, pre_tokenizer, post_processor
                                        and decoder are DeepSeek-V3's as released
                                        (three Isolated Splits — \\p{N}{1,3}, the
                                        CJK/kana class, the alternation with
                                        \\p{P} \\p{S} \\p{M} and (?!\\S) — then
                                        ByteLevel without its regex)
  tests/tokenizer/deepseek3.cases.json  ids from `tokenizers` (loading that file)
                                        on the repository's Unicode strings
                                        (*.cases.json) and edge cases, and on
                                        random strings over a pool of characters
                                        each alternative treats differently

  python3 make_deepseek3_ref.py                 regenerate the fixture
  python3 make_deepseek3_ref.py --stress N DIR  N random strings and a large
                                                vocabulary (almost every piece a
                                                token of its own, so a wrong cut
                                                shows) into DIR/{tok,cases}.json,
                                                for a run of test_tokenizer

The regex strings are DeepSeek's released data (the same strings llama.cpp's
src/llama-vocab.cpp lists for LLAMA_VOCAB_PRE_TYPE_DEEPSEEK3_LLM).  Characters
assigned after Python's unicodedata version are left out of the pool: the
tables of runtime/unicode_tables.h come from it and Oniguruma is newer.
"""
import glob, json, os, random, sys
from tokenizers import Tokenizer, models, trainers, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))

DEEPSEEK3_SPLITS = [
    "\\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]
PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False} for r in DEEPSEEK3_SPLITS] + [
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
NORMALIZER = {"type": "Sequence", "normalizers": []}
POST_PROCESSOR = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]

# characters the alternatives treat differently (all assigned in Unicode 14)
POOL = (list("aZqé") + list("ÀßΩжש") + ["\u0301", "\u0308", "\u20dd", "\u0903", "\u093f", "\u0e34", "\u064e", "\ufe0f", "\u200d"] +
        list("一中龥\u9fa6\u9fff々〆") + list("\u3040ぁあんゟ゠アヴ・ーヿ") + list("ㄱ한글ไทยعربي") +
        list("0159٣४⑤Ⅻ²½１") + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") +
        list("€±×→∑©®™°¥€₹♥★") + ["😀", "👍🏽", "\U0001f468\u200d\U0001f469", "🇯🇵"] +
        list("、。「」『』（）！？，．：；・〜…—–‘’“”«»¡¿§¶") +
        [" ", " ", " ", "\t", "\n", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2009", "\u200b", "\u0085", "\u2028", "\x0b", "\x0c"])

EDGE = [
    "Hello, world!", "'s 't 're", "it's", "I'M HERE", ".Hello", "(abc)", "_foo_bar", "#include <stdio.h>", "x.y.z", "a-b-c",
    "foo()bar", "[a](b)", "--flag=value", "@user #tag", "$HOME/bin", "\\section{Intro}", "`code`", "~tilde", "{x:1}",
    "!!!Wow", "?!?", ".é", "(é)", "'ä", ".\u0301a", " \u0301", "a\u0301b\u0308", "\u0301\u0301\u0301", "e\u20dd", "\u20dd",
    "क़ि", "नमस्ते दुनिया", "สวัสดีครับ", "مَرْحَبًا بِكُمْ", "שָׁלוֹם", "Ἀθῆναι", "Ελληνικά", "Привет, мир!",
    "中文测试", "日本語のテキスト", "カタカナとひらがな", "漢字かなカナmixed", "龥龦", "\u9fa6\u9fff", "ゟ゠ヿ", "・ー", "㐀𠀀",
    "한국어 텍스트입니다", "ㄱㄴㄷ", "中文，日本語の「かな」。", "（括弧）", "全角ＡＢＣ１２３", "ｈｅｌｌｏ，ｗｏｒｌｄ！",
    "1", "12", "123", "1234", "12345", "123456", "1234567", "3.14159", "1,000,000", "٣٤٥٦", "१२३४", "Ⅻ", "²³", "½¼", "①②③④",
    "１２３４", "v1.2.3", "a1b2c3", "x123y", "2024年12月31日", "第3章", "３時", "10%", "$100", "€5,00", "-42", "+1e10",
    "a  b", "a   b", "a \n b", "a\n\nb", "a \n\n b", "   \n\n   ", "\n", "\n\n\n", "\r\n", "\r\n\r\n", " \r\n ", "\t\t", "\t\nx",
    "trailing   ", "trailing\n", "trailing \n", "trailing\n ", "  leading", "\nleading", " ", "  ", "\u3000", "x\u3000y",
    "\u3000\u3000x", "\u00a0a", "a\u00a0\u00a0b", "x\u2028y", "x\u0085y", "\x0bx", "\u200bzero", "\u200d",
    "! a", " !a", " !!", " !\n", " !\n\n x", "!\r\n", "a!\nb", "->", " -> ", "=>\n", " …\n", "“quoted”", "‘single’ — dash",
    "😀😀", " 😀", "a😀b", "👍🏽ok", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "🇯🇵🇺🇸", "❤️", "©2024", "™x", "°C", "±3",
    "x²+y²=z²", "∑_{i=1}^n i", "α→β", "¿Qué?", "¡Hola!", "«ciao»", "§3.1", "¶", "©\n", "a+b=c", "a|b", "a^b", "a~b",
    "def f(x):\n    return x*2\n", "if (a && b) { c(); }\n", "<div class=\"x\">hi</div>", "SELECT * FROM t;", "https://example.com/a?b=c",
    "email@example.com", "C:\\Users\\x", "path/to/file.txt", "snake_case_name", "camelCaseName", "kebab-case-name",
    "x" + " " * 300 + "y", " " * 200, "\n" * 50, "ab" * 200, "中" * 100, "1" * 100, "!" * 100, "a\u0301" * 50,
]


def corpus_texts():
    texts = []
    for f in sorted(glob.glob(os.path.join(HERE, "*.cases.json"))):
        if not f.endswith(("split_seq.cases.json", "deepseek3.cases.json")):
            texts += [c["text"] for c in json.load(open(f, encoding="utf-8"))]
    return texts


def random_texts(n, seed, maxlen=24):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, maxlen))))
    return out


def build(texts, vocab_size, path):
    """Train on texts with DeepSeek-V3's pre-tokenizer, write the file with the
    released sections as they are; return the tokenizer loaded back from it."""
    t = Tokenizer(models.BPE())
    tmp = json.loads(t.to_str())
    tmp["pre_tokenizer"] = PRE_TOKENIZER
    t = Tokenizer.from_str(json.dumps(tmp))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(texts * 3, trainer)
    d = json.loads(t.to_str())
    d["normalizer"], d["pre_tokenizer"], d["post_processor"], d["decoder"] = NORMALIZER, PRE_TOKENIZER, POST_PROCESSOR, DECODER
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=None if vocab_size > 5000 else 1)
    return Tokenizer.from_file(path)


def write_cases(t, texts, path):
    seen, cases = set(), []
    for s in texts:
        if s not in seen:
            seen.add(s)
            cases.append({"text": s, "ids": t.encode(s, add_special_tokens=True).ids})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    return len(cases)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--stress":
        n, out = int(sys.argv[2]), sys.argv[3]
        os.makedirs(out, exist_ok=True)
        texts = EDGE + corpus_texts() + random_texts(n, 12345, 40)
        t = build(texts, 60000, os.path.join(out, "tok.json"))
        print(write_cases(t, texts, os.path.join(out, "cases.json")), "cases,", t.get_vocab_size(), "tokens")
        return
    texts = EDGE + corpus_texts() + random_texts(250, 3)
    t = build(texts, 1200, os.path.join(HERE, "deepseek3.json"))
    print(write_cases(t, texts, os.path.join(HERE, "deepseek3.cases.json")), "cases")


if __name__ == "__main__":
    main()
