#!/usr/bin/env python3
"""tools/make_kimi_tokenizer_fixture.py — the test fixture for Kimi K2's tokenizer
(test tokenizer.kimi, tests/tokenizer_kimi.cmake).

Kimi K2 ships no tokenizer.json: `tiktoken.model` (one line per token: base64
bytes, a space, the rank), a Python class that runs it with the `tiktoken`
library (its own pre-tokenizer regex, with \\p{Han} and class intersections
`&&`), and `tokenizer_config.json` whose added_tokens_decoder names some of the
256 special tokens that follow the ranks (the others are <|reserved_token_ID|>).
The released vocabulary has 163 584 ranks; this writes a *reduced* one of the
same format, small enough to commit:

  tests/tokenizer/kimi/tiktoken.model          all 256 bytes, N_MERGES merged
                                               tokens (a byte-level BPE trained
                                               here on the repository's docs and
                                               Unicode test strings), then the
                                               pre-tokenizer pieces of the edge
                                               cases and random strings and every
                                               two adjacent ones (up to 32 bytes)
  tests/tokenizer/kimi/tokenizer_config.json   a few named special tokens
  tests/tokenizer/kimi/bytes/                  the same with the 256 bytes only
                                               (512 ids, for the kimi_k2 model fixture)
  tests/tokenizer/kimi/cases.json              [{"text", "ids"}], the ids that
                                               tiktoken gives (Kimi's regex, its
                                               special tokens, allowed_special="all"
                                               and the cuts of Kimi's encode())

Long texts are stored compressed: {"text": [[PIECE, COUNT], ...]} is the
concatenation of PIECE repeated COUNT times, and {"ids": [[[ID, ...], COUNT],
...]} the same for the ids.

Usage: python3 tools/make_kimi_tokenizer_fixture.py     (needs tiktoken and regex;
tiktoken's regex engine decides the Unicode version of the reference)
"""
import base64, collections, glob, json, os, random, sys

import regex
import tiktoken

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "tokenizer", "kimi")
N_MERGES = 3000
MAX_EXTRA_TOKEN_BYTES = 32
N_SPECIAL = 256

# Kimi K2's pre-tokenizer (TikTokenTokenizer.pat_str in its tokenization_kimi.py)
PAT_STR = "|".join([
    r"""[\p{Han}]+""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])

# named special tokens, as offsets after the ranks (Kimi K2's names; the rest reserved)
NAMED = {0: "[BOS]", 1: "[EOS]", 2: "<|im_end|>", 3: "<|im_user|>", 4: "<|im_assistant|>", 6: "<|start_header_id|>",
         7: "<|end_header_id|>", 9: "[EOT]", 10: "<|im_system|>", 15: "<|im_middle|>", 254: "[UNK]", 255: "[PAD]"}

# Kimi's encode(): slices of 400 000 characters, each cut where a run of
# str.isspace() or non-space characters would grow past 25 000
MAX_ENCODE_CHARS, MAX_RUN_CHARS = 400_000, 25_000


def kimi_slices(s):
    for i in range(0, len(s), MAX_ENCODE_CHARS):
        part = s[i:i + MAX_ENCODE_CHARS]
        run, space, start = 0, part[0].isspace() if part else False, 0
        for k, ch in enumerate(part):
            now = ch.isspace()
            if space ^ now:
                run, space = 1, now
            else:
                run += 1
                if run > MAX_RUN_CHARS:
                    yield part[start:k]
                    start, run = k, 1
        yield part[start:]


def kimi_encode(enc, s):
    return [i for piece in kimi_slices(s) for i in enc.encode(piece, allowed_special="all")]


def train(texts, n_merges):
    """Byte-level BPE: the most frequent adjacent pair merged, n_merges times."""
    pre = regex.compile(PAT_STR, flags=regex.V1)   # V1: `&&` is a class intersection
    words = collections.Counter()
    for t in texts:
        for m in pre.findall(t):
            words[m.encode("utf-8")] += 1
    vocab = [bytes([b]) for b in range(256)]
    index = {v: i for i, v in enumerate(vocab)}
    seqs = [[list(w), c] for w, c in words.items()]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, (sq, c) in enumerate(seqs):
        for a, b in zip(sq, sq[1:]):
            pairs[(a, b)] += c
            where[(a, b)].add(wi)
    while len(vocab) < 256 + n_merges and pairs:
        (a, b), cnt = max(pairs.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        if cnt < 2:
            break
        new = vocab[a] + vocab[b]
        if new in index:          # the same bytes made another way: reuse them
            nid = index[new]
        else:
            nid = len(vocab)
            vocab.append(new)
            index[new] = nid
        for wi in list(where[(a, b)]):
            sq, c = seqs[wi]
            for x, y in zip(sq, sq[1:]):
                pairs[(x, y)] -= c
                if pairs[(x, y)] <= 0:
                    del pairs[(x, y)]
                where[(x, y)].discard(wi)
            out, k = [], 0
            while k < len(sq):
                if k + 1 < len(sq) and sq[k] == a and sq[k + 1] == b:
                    out.append(nid)
                    k += 2
                else:
                    out.append(sq[k])
                    k += 1
            seqs[wi][0] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += c
                where[(x, y)].add(wi)
        pairs.pop((a, b), None)
    return {v: i for i, v in enumerate(vocab)}


EDGE = [
    # Han runs, Han next to Latin, kana, Hangul, digits, punctuation
    "中文测试", "中文English混合text", "漢字かなカナmixed", "日本語のテキストです。", "カタカナとひらがな", "한국어 텍스트입니다",
    "中文，日本語の「かな」。", "我爱北京天安门！", "Python是一种编程语言", "GPT-4和Kimi K2", "他说：“你好”", "二〇二四年",
    "〇一二三", "々", "時々", "人々の", "〆切", "〡〢〣", "⺀⺁⻳", "⼀⼁⿕", "!⺀", " ⺀", "a⺀", "⺀a", "中a中", "a中a", "中1中",
    "1中", "中 文", "中\n文", "㐀𠀀𪜀", "\U00031350\U00031351", "\U0002ebf0x", " \U00031350", "!\U00031350", "a\U0002ebf0",
    "\U00016fe2\U00016fe3", "\U00016ff0\U00016ff1", "a\U00016ff0", "\u3005a", "ab\u3005", "AB\u3005cd", "豈更", "你好，世界", "ｈｅｌｌｏ世界",
    # letters: case classes, title case, modifier letters, other letters, marks
    "Hello, world!", "HELLO world", "helloWorld", "HelloWorld", "HTTPServer", "iPhone", "McDonald's", "ǅungla", "ǈubljana ǋ",
    "ǅǅǅ", "xǅ", "Ǆǅǆ", "ʰʲʷ", "aʰb", "Aʰ", "ʰA", "ªº", "ßtraße", "ΣΊΣΥΦΟΣ", "Ελληνικά", "Привет, мир!", "ПРИВЕТмир", "ǈ'S",
    "e\u0301", "E\u0301e", "\u0301", "\u0301\u0301\u0301", ".\u0301a", " \u0301", "a\u0301b\u0308", "\u0301A", "e\u20dd", "क़ि",
    "नमस्ते दुनिया", "สวัสดีครับ", "مَرْحَبًا بِكُمْ", "שָׁלוֹם", "Ἀθῆναι", "ᾈᾉ", "Ⅻ", "ⅻ", "ⓐⓑ", "ᴬᴮ", "ꜰꜱ",
    # contractions, both cases, and U+017F
    "it's", "IT'S", "don't", "DON'T", "we're", "WE'RE", "I've", "I'VE", "I'm", "I'M", "you'll", "YOU'LL", "he'd", "HE'D",
    "'s 't 're", "'S 'T 'RE", "x's'", "a'sb", "Xx'ſ", "xx'ſt", "ABC'd", "abc'D", "ǅ's", "中's", "1's", " 's", "'", "''s",
    # digits
    "1", "12", "123", "1234", "12345", "1234567", "3.14159", "1,000,000", "٣٤٥٦", "१२३४", "²³", "½¼", "①②③④", "１２３４",
    "v1.2.3", "a1b2c3", "x123y", "2024年12月31日", "第3章", "10%", "$100", "-42", "+1e10", "0x1F",
    # whitespace and newlines
    "a  b", "a   b", "a \n b", "a\n\nb", "a \n\n b", "   \n\n   ", "\n", "\n\n\n", "\r\n", "\r\n\r\n", " \r\n ", "\t\t", "\t\nx",
    "trailing   ", "trailing\n", "trailing \n", "  leading", "\nleading", " ", "  ", "\u3000", "x\u3000y", "\u3000\u3000x",
    "\u00a0a", "a\u00a0\u00a0b", "x\u2028y", "x\u0085y", "\x0bx", "\x1cx\x1f", "\u200bzero", "\u200d", "a\u2009b",
    # punctuation, symbols, emoji, code
    "! a", " !a", " !!", " !\n", " !\n\n x", "!\r\n", "a!\nb", "->", " -> ", "=>\n", " …\n", "“quoted”", "‘single’ — dash",
    "path/to/file.txt", "a/b/c", "https://example.com/a?b=c", "email@example.com", "C:\\Users\\x", "#include <stdio.h>",
    "def f(x):\n    return x*2\n", "if (a && b) { c(); }\n", "<div class=\"x\">hi</div>", "SELECT * FROM t;",
    "😀😀", " 😀", "a😀b", "👍🏽ok", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "🇯🇵🇺🇸", "❤️", "©2024", "™x", "°C",
    "x²+y²=z²", "∑_{i=1}^n i", "α→β", "¿Qué?", "¡Hola!", "«ciao»", "snake_case_name", "camelCaseName", "kebab-case-name",
    # special tokens inside text
    "[BOS]Hello[EOS]", "<|im_user|>user<|im_middle|>你好<|im_end|>", "<|im_system|>system<|im_middle|>You are Kimi.<|im_end|>",
    "<|im_assistant|>assistant<|im_middle|>", "text[EOT]more", "a<|im_end|>b", "<|im_end|><|im_end|>", " <|im_end|> ",
    "<|reserved_token_NNN5|>", "x<|reserved_token_NNN200|>y", "<|reserved_token_NNN0|>", "<|reserved_token_NNN256|>",
    "<|im_end|", "<|im_end|>>", "[UNK][PAD]", "[BOS", "<|start_header_id|>user<|end_header_id|>\n\nHi",
    # longer mixed text
    "Kimi K2 是一个混合专家模型（MoE），总参数 1T，激活参数 32B。It's trained with the Muon optimizer.",
    "東京タワーは1958年に完成しました。Tokyo Tower was completed in 1958.",
    "서울은 한국의 수도입니다. Seoul is the capital of Korea. 首尔是韩国的首都。",
    "x" + " " * 300 + "y", " " * 200, "\n" * 50, "ab" * 200, "中" * 100, "1" * 100, "!" * 100, "a\u0301" * 50,
]

# characters the alternatives treat differently (for random strings)
POOL = (list("aZqé") + list("ÀßΩжשǅǈʰª") + ["\u0301", "\u0308", "\u20dd", "\u0903", "\u093f", "\ufe0f", "\u200d"] +
        list("一中龥々〆〇〡⺀⼀") + ["\U00020000", "\U00031350", "\U0002ebf0", "\U00016fe2", "\U00016ff0"] +
        list("あんアヴ・ー") + list("한글") + list("0159٣४⑤Ⅻ²½１") + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") +
        list("€±×→©") + ["😀", "👍🏽", "ſ", "S", "s", "t", "re", "ll", "'"] +
        list("、。「」（）！？") + [" ", " ", " ", "\t", "\n", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2009", "\x1c", "\u0085"] +
        ["[EOS]", "<|im_end|>", "<|im_user|>"])


def corpus_texts():
    """The repository's Unicode test strings (tests/tokenizer/*.cases.json)."""
    texts = []
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "tokenizer", "*.cases.json"))):
        texts += [c["text"] for c in json.load(open(p, encoding="utf-8"))]
    return texts


def compress(seq):
    """[[block, count], ...] with the block repeated count times (period 1..8, greedy)."""
    out, i = [], 0
    while i < len(seq):
        best = (1, 1)
        for p in range(1, 9):
            if i + p > len(seq):
                break
            k = 1
            while seq[i + k * p:i + (k + 1) * p] == seq[i:i + p]:
                k += 1
            if k * p > best[0] * best[1]:
                best = (p, k)
        p, k = best
        if out and k == 1 and out[-1][1] == 1:
            out[-1][0] = out[-1][0] + seq[i:i + p]
        else:
            out.append([seq[i:i + p], k])
        i += p * k
    return out


def write_config(d, n):
    config = {
        "added_tokens_decoder": {str(n + i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                                              "single_word": False, "special": True} for i, c in sorted(NAMED.items())},
        "bos_token": "[BOS]", "eos_token": "[EOS]", "pad_token": "[PAD]", "unk_token": "[UNK]",
        "tokenizer_class": "TikTokenTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", None]},
    }
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    docs = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))] + \
        [open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()]
    corpus = corpus_texts()
    ranks = train(docs + corpus * 3 + EDGE * 3, N_MERGES)
    rng = random.Random(16)
    rand = ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 24))) for _ in range(400)]
    # so that a wrong cut shows: the pieces of the edge-case and random strings,
    # and every two adjacent pieces, are tokens of their own (a piece that is a
    # token as a whole is that one id; a missing cut finds the two-piece token,
    # an extra cut loses the piece's)
    pre = regex.compile(PAT_STR, flags=regex.V1)
    for t in EDGE + rand:
        ps = [m.encode("utf-8") for m in pre.findall(t)]
        for tok in ps + [a + b for a, b in zip(ps, ps[1:])]:
            if len(tok) <= MAX_EXTRA_TOKEN_BYTES and tok not in ranks:
                ranks[tok] = len(ranks)
    n = len(ranks)
    specials = {NAMED.get(i, f"<|reserved_token_{n + i}|>"): n + i for i in range(N_SPECIAL)}
    enc = tiktoken.Encoding(name="kimi-test", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=specials)
    with open(os.path.join(OUT, "tiktoken.model"), "w") as f:
        for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(tok).decode() + " " + str(rank) + "\n")
    write_config(OUT, n)
    # the 256 bytes alone (+ 256 specials = 512 ids, the vocabulary of the
    # kimi_k2 model fixture): for --prompt through a generated binary
    os.makedirs(os.path.join(OUT, "bytes"), exist_ok=True)
    with open(os.path.join(OUT, "bytes", "tiktoken.model"), "w") as f:
        for b in range(256):
            f.write(base64.b64encode(bytes([b])).decode() + " " + str(b) + "\n")
    write_config(os.path.join(OUT, "bytes"), 256)
    texts, seen = [], set()
    for t in EDGE + corpus + rand:
        if "NNN" in t:   # a reserved token's id relative to the ranks
            t = regex.sub(r"NNN(\d+)", lambda m: str(n + int(m.group(1))), t)
        if t not in seen:
            seen.add(t)
            texts.append(t)
    cases = []
    for t in texts:
        ids = kimi_encode(enc, t)
        assert enc.decode(ids) == t or "\ufffd" in enc.decode(ids), t
        cases.append({"text": t, "ids": ids})
    # Kimi's cuts of long texts: a digit run of 25 001 (the last digit alone: the
    # run is cut at 25 000), a space run, and a text of more than 400 000 characters
    # whose 400 000th character falls inside a word
    long_cases = [[["1", 25001]], [[" ", 25003], ["x", 1]], [["abcde ", 66700]], [["ab", 12600], [" ", 1]]]
    for spec in long_cases:
        t = "".join(p * k for p, k in spec)
        cases.append({"text": spec, "ids": compress(kimi_encode(enc, t))})
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
    print(f"kimi: {n} ranks ({n - 256} merged) + {N_SPECIAL} specials, {len(cases)} cases, tiktoken {tiktoken.__version__}")


if __name__ == "__main__":
    main()
