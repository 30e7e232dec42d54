#!/usr/bin/env python3
"""tools/make_case_fixture.py — the chat test `chat.unicode_case`: Python's Unicode case
rules in templates (runtime/jinja.c, runtime/unicode_case.h).

Writes, under tests/chat/:
  models/unicode_case/tokenizer_config.json   a template applying every case filter,
                                              string method and test to each message
  conversations/unicode_case.json             250+ strings with Unicode edge cases
  cases/unicode_case.case.v0.nogen.args       the case
  expected/unicode_case.case.v0.nogen.txt     the render by jinja2 with transformers'
                                              settings (ImmutableSandboxedEnvironment,
                                              trim_blocks, lstrip_blocks, loopcontrols:
                                              what apply_chat_template(tokenize=False) runs)
Needs only jinja2 (pip install jinja2); the strings are deterministic.
"""
import json, os, random, unicodedata
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "chat")

TEMPLATE = (
    "{%- for m in messages %}\n"
    "{{ loop.index }} u={{ m.content|upper }} l={{ m.content|lower }} T={{ m.content|title }} C={{ m.content|capitalize }}"
    " .u={{ m.content.upper() }} .l={{ m.content.lower() }} .t={{ m.content.title() }} .c={{ m.content.capitalize() }}"
    " iu={{ m.content.isupper() }} il={{ m.content.islower() }} is={{ m.content.isspace() }} ia={{ m.content.isalpha() }}"
    " tu={{ m.content is upper }} tl={{ m.content is lower }}\n"
    "{%- endfor %}\n"
)

FIXED = [
    "hello world", "Hello World", "HELLO", "hello-world (foo)[bar]{baz}<qux>", "don't stop", "o'neil mcdonald",
    "straße", "STRASSE", "ß", "ẞ", "ﬁne ﬂow ﬀ", "ŉ", "ǰ", "ǆ ǅ Ǆ", "ǳung", "ǈ", "ΐ ΰ", "ᾳ ᾼ ᾀ ᾈ ῳ",
    "ΟΔΟΣ", "Σ", "ΑΣ ΒΣ", "ΣA", "AΣ'", "AΣ.B", "aΣb", "ΌΣΟΣ ΟΣ", "Σ̈", "A\u0301Σ", "ΣΑΣ ΣΑΣ.", "'Σ'",
    "İstanbul", "ıi Iİ", "i̇", "KELVIN K", "Å Å", "µ Ω", "ſ ẛ", "ǅungla", "ͅ", "ΐΣ",
    "Привет мир", "ПРИВЕТ", "ёжик Ёж", "և ԵՒ", "Ὀδυσσεύς", "ᏣᎳᎩ ꮳꮃꭹ", "ꭰ", "𐐀𐐨 𐐨", "𞤀𞤢", "Ａｂｃ ａＢＣ",
    "ⓐⓑ Ⓐ", "ⅰⅱ Ⅰ", "ǈudevit", "ǲ", "ʼn", "ά έ ή", "Ϊ́", "ᲐᲑ აბ", "ꙁ Ꙁ", "ⱥ Ⱥ", "ɐ Ɐ", "ȿ",
    "日本語 テキスト", "한국어 텍스트", "中文", "emoji 😀 ok", "tab\there", "new\nline", "\u3000full width space",
    "a\u2028b", "x\u00a0y", "   ", "", "123", "abc123", "ABC123", "a1B2", "Ǆemal", "__init__", "camelCase",
    "snake_case_name", "Title Case Already", "mIxEd CaSe", "ÉCOLE école", "naïve café", "e\u0301cole", "ÆØÅ æøå",
    "ŒUVRE œuvre", "Þórr þór", "ĳssel Ĳ", "ǉubav Ǉ ǈ", "ɫ Ɫ", "ꞵ Ꞵ", "ß-ß", "(ß)", "<ǆ>", "{ŉ}", "[ﬃ]",
]

BLOCKS = [(0x41, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x531, 0x58F), (0x10A0, 0x10FF), (0x13A0, 0x13FF),
          (0x1C80, 0x1CBF), (0x1E00, 0x1FFF), (0x2C00, 0x2C7F), (0x2C80, 0x2CFF), (0xA640, 0xA69F), (0xA720, 0xA7FF),
          (0xAB70, 0xABBF), (0xFB00, 0xFB4F), (0xFF21, 0xFF5A), (0x10400, 0x1044F), (0x1E900, 0x1E95F)]
SEPS = [" ", "-", "(", "'", ".", " ", "\t", "[", "<", "{", "\u0301", "\u00b7"]


def random_strings(n):
    rng = random.Random(20261130)
    out = []
    while len(out) < n:
        lo, hi = rng.choice(BLOCKS)
        s = []
        for _ in range(rng.randint(1, 12)):
            cp = rng.randint(lo, hi)
            if unicodedata.category(chr(cp)) in ("Cn", "Cs", "Co"):
                continue
            s.append(chr(cp))
            if rng.random() < 0.2:
                s.append(rng.choice(SEPS))
        out.append("".join(s))
    return out


def main():
    strings = FIXED + random_strings(180)
    messages = [{"role": "user", "content": s} for s in strings]
    os.makedirs(os.path.join(ROOT, "models", "unicode_case"), exist_ok=True)
    with open(os.path.join(ROOT, "models", "unicode_case", "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "chat_template": TEMPLATE}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(ROOT, "conversations", "unicode_case.json"), "w", encoding="utf-8") as f:
        json.dump(messages, f, ensure_ascii=False, indent=0)
    with open(os.path.join(ROOT, "cases", "unicode_case.case.v0.nogen.args"), "w", encoding="utf-8") as f:
        f.write("conversations/unicode_case.json\n")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    out = env.from_string(TEMPLATE).render(messages=messages, add_generation_prompt=False, bos_token="<s>", eos_token="</s>")
    with open(os.path.join(ROOT, "expected", "unicode_case.case.v0.nogen.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(out)
    print(f"{len(strings)} strings")


if __name__ == "__main__":
    main()
