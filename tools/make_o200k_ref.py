#!/usr/bin/env python3
"""tools/make_o200k_ref.py — two small tokenizer.json files for the tokenizer gaps of
issue 16, trained with the Hugging Face `tokenizers` library, with the ids it gives.

o200k: gpt-oss's pre-tokenizer (the
o200k Split regex, then ByteLevel without its own regex), trained with the Hugging
Face `tokenizers` library, and the ids `tokenizers` gives for 300 strings full of
Unicode edge cases (case runs, titlecase and modifier letters, combining marks,
scripts without case, contractions, digits, '/', CR/LF and Unicode spaces).

  tests/tokenizer/o200k.json        the tokenizer (byte-level BPE, 2000 ids)
  tests/tokenizer/o200k.cases.json  [{"text": ..., "ids": [...]}]

nfc: the NFC normalizer (Qwen2/3's) before the Llama 3 split and byte-level BPE, on 250
strings of decomposed and recomposable text (combining marks in and out of canonical
order, Hangul jamo, singletons, composition exclusions, Greek and Vietnamese accents).

  tests/tokenizer/nfc.json, tests/tokenizer/nfc.cases.json

    pip install tokenizers==0.22.2 && python3 tools/make_o200k_ref.py
"""
import json, os, random
from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders, trainers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer")
# gpt-oss tokenizer.json: pre_tokenizer Sequence[Split(this, Isolated), ByteLevel(use_regex=false)]
O200K = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
         r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
         r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

HAND = [
    "Hello world", "HelloWorld", "HTTPServer", "XMLHttpRequest", "getHTTPResponseCode", "iPhone", "eBay", "McDonald's",
    "I'M HERE", "YOU'RE", "they'll", "we've", "it's", "DON'T", "Don't", "o'clock", "rock'n'roll", "'s", "x's'", "'",
    "ǅemal ǈubljana ǋiva", "ǲ", "ʰello ʷorld", "mʲa", "ᵃbc", "ǅǅ", "AǅB", "aǅ",
    "e\u0301te\u0301", "E\u0301TE\u0301", "\u0301start", "a\u0308\u0304b", "A\u030A", "क्षत्रिय", "ภาษาไทย", "ﷺ",
    "日本語のテキスト", "中文字符", "한국어 텍스트", "עברית", "العربية", "русский ТЕКСТ Текст", "Ελληνικά ΑΒΓ αβγ",
    "numbers 1234567 and 3.14159, 1,000,000", "١٢٣٤٥", "²³¹", "Ⅻ roman", "½ ¾", "٣٤abc", "abc123def4567",
    "a/b/c", "path/to/file.txt", "http://example.com/a/b?c=d", "x ///\n", "!!!\n\n", "...//\r\n", " --/",
    "tabs\tand\nnewlines\r\n\r\nend", "\n\n\n", "   ", "\t\t", " \n ", "a \n b", "spaces before newline   \nnext",
    "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space", "line\u2028sep", "\u200bzero width", "x\u00a0\u00a0 y",
    "emoji 😀👍🏽 done", "👨‍👩‍👧", "🇫🇷🇩🇪", "a😀b", "😀's",
    "code: for (int i = 0; i < n; i++) { s += a[i]; }", "snake_case kebab-case camelCase PascalCase SCREAMING_CASE",
    "email: someone@example.com", "ÀÉÎÕÜ àéîõü", "Straße STRASSE", "İstanbul ıi", "ﬁne ﬂow", "Ǆ ǅ ǆ",
    "a", "A", "1", " ", "'", "\r", "x" * 40, "AB" * 20, "multiple   spaces    here", "ends with newline\n",
]
FRAG = ["Hello", "WORLD", "camelCase", "XMLParser", "ǅ", "ʰ", "e\u0301", "\u0301", "日本", "한국", "עב", "ال", "Ελ", "ру",
        "123", "4567", "٣", "²", "'s", "'LL", "'ve", "'", "/", "//", "!", "?!", "...", "-", "_", "(", ")", " ", "  ", "\t",
        "\n", "\r\n", "\u00a0", "\u3000", "😀", "🏽", "👍", "a", "B", "cD", "Ef", "GH", "ij", "ǈ", "ᵇ", "ß", "İ"]


def cases():
    rnd = random.Random(16)
    out = list(HAND)
    while len(out) < 300:
        out.append("".join(rnd.choice(FRAG) for _ in range(rnd.randint(2, 9))))
    return out


CL100K = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
NFC_HAND = [
    "e\u0301", "E\u0301", "A\u030A", "\u212B", "\u2126", "a\u0323\u0302", "a\u0302\u0323", "\u1100\u1161\u11A8", "\u1100\u1161",
    "\uAC00\u11A8", "\u0958", "\u0915\u093C", "\u0344", "\u00C5\u0301", "A\u0301\u0301", "\u2126\u0301", "\uFB01", "\u1E9B\u0323",
    "q\u0307\u0323", "u\u0308ber", "Vie\u0302\u0323t Nam", "\u0301start", "e\u0301\u0301", "\uF900", "\u2000x", "\u1F71",
    "\u03B1\u0313\u0301\u0345", "caf\u00E9 cafe\u0301", "n\u0303o\u0303", "\u1112\u1161\u11AB\u1100\u1173\u11AF",
    "\u0041\u0328\u0301", "\u1E0B\u0323", "d\u0323\u0307", "\u00E9\u0300", "o\u031B\u0301", "\u0399\u0308\u0301",
    "\u0CC6\u0CC2\u0CD5", "\u0B47\u0B3E", "\u09C7\u09BE", "\u0DD9\u0DCF\u0DCA", "\u1025\u102E", "\u3099\u304B", "\u304B\u3099",
    "\u30CF\u309A", "plain ascii", "already NFC: é Å ñ 각", "",
]
BASES = ["a", "e", "o", "u", "A", "E", "O", "c", "n", "s", "z", "\u03B1", "\u03C9", "\u0399", "\u0430", "\u0435", "\u1100", "\uAC00", "\u304B", "x", " "]
MARKS = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030A", "\u030C", "\u0323", "\u0327", "\u0328", "\u0313", "\u0314", "\u0345",
         "\u031B", "\u0331", "\u1161", "\u11A8", "\u3099", "\u093C"]


def nfc_cases():
    rnd = random.Random(17)
    out = list(NFC_HAND)
    while len(out) < 250:
        w = ""
        for _ in range(rnd.randint(1, 4)):
            w += rnd.choice(BASES) + "".join(rnd.choice(MARKS) for _ in range(rnd.randint(0, 3)))
        out.append(w)
    return out


def nfc():
    from tokenizers import normalizers
    texts = nfc_cases()
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(CL100K), behavior="isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(texts * 3, trainer)
    path = os.path.join(HERE, "nfc.json")
    t.save(path)
    t = Tokenizer.from_file(path)
    json.dump([{"text": s, "ids": t.encode(s).ids} for s in texts], open(os.path.join(HERE, "nfc.cases.json"), "w"),
              ensure_ascii=False, indent=0)
    print("nfc", os.path.getsize(path), "bytes,", len(texts), "cases")


def main():
    nfc()
    texts = cases()
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(O200K), behavior="isolated", invert=False),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>", "<|special|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(texts * 3, trainer)
    path = os.path.join(HERE, "o200k.json")
    t.save(path)
    t = Tokenizer.from_file(path)
    json.dump([{"text": s, "ids": t.encode(s).ids} for s in texts], open(os.path.join(HERE, "o200k.cases.json"), "w"),
              ensure_ascii=False, indent=0)
    print("o200k", os.path.getsize(path), "bytes,", len(texts), "cases")


if __name__ == "__main__":
    main()
