#!/usr/bin/env python3
"""Expected chat-template renders for tests/chat (the C interpreter must match byte for byte).

    pip install "transformers==4.57.6" jinja2 tokenizers
    python3 tools/make_chat_fixtures.py            # every family
    python3 tools/make_chat_fixtures.py FAMILY...  # only these (the others' files stay)

For every family below it writes a checkpoint-like directory tests/chat/models/FAMILY/
(tokenizer_config.json with the family's special tokens and its released chat template
from tests/chat/templates/, or chat_template.jinja beside it), then renders every
conversation of tests/chat/conversations/ with transformers' own apply_chat_template
(tokenize=False) on a PreTrainedTokenizerFast loaded from that directory (a one-token
tokenizer.json is written to a temporary copy; rendering never reads it), with and
without add_generation_prompt and with the family's template variables.  Results go to
tests/chat/expected/FAMILY.CASE.txt, or FAMILY.CASE.error when transformers refuses the
conversation (the C renderer must fail too); the arguments of each case, one per line,
to tests/chat/cases/FAMILY.CASE.args.  strftime_now is pinned to SOURCE_DATE_EPOCH in
UTC (tests/chat/run_cases.sh sets the same for the C side).
"""
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile

import transformers
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

assert transformers.__version__ == "4.57.6", transformers.__version__

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "chat")
EPOCH = 1764460800  # 2025-11-30 00:00:00 UTC
os.environ["TZ"] = "UTC"


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(EPOCH, tz=_dt.timezone.utc).replace(tzinfo=None)


chat_template_utils.datetime = _FixedDatetime


def added(content):
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


QWEN_EXTRA = ["<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
              "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

# family: template file, where the checkpoint keeps it, special tokens, variable sets to render with
FAMILIES = {
    "llama3_1": ("meta-llama-Llama-3.1-8B-Instruct.jinja", "config", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
                 [{}, {"date_string": "5 Mar 2025"}]),
    "llama3_2": ("meta-llama-Llama-3.2-3B-Instruct.jinja", "config", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, [{}]),
    "llama3_3": ("meta-llama-Llama-3.3-70B-Instruct.jinja", "config", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, [{}]),
    "llama4": ("meta-llama-Llama-4-Scout-17B-16E-Instruct.jinja", "config",
               {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot|>", "pad_token": "<|finetune_right_pad|>"}, [{}]),
    "qwen2_5": ("Qwen-Qwen2.5-7B-Instruct.jinja", "config",
                {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
                 "additional_special_tokens": QWEN_EXTRA}, [{}]),
    "qwen3": ("Qwen-Qwen3-0.6B.jinja", "config",
              {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
               "additional_special_tokens": QWEN_EXTRA}, [{}, {"enable_thinking": False}, {"enable_thinking": True}]),
    "deepseek_r1_distill": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "config",
                            {"bos_token": added("<｜begin▁of▁sentence｜>"), "eos_token": added("<｜end▁of▁sentence｜>"),
                             "pad_token": added("<｜end▁of▁sentence｜>"), "unk_token": None}, [{}]),
    "deepseek_v3": ("deepseek-ai-DeepSeek-V3.jinja", "config",
                    {"bos_token": added("<｜begin▁of▁sentence｜>"), "eos_token": added("<｜end▁of▁sentence｜>"),
                     "pad_token": added("<｜end▁of▁sentence｜>"), "unk_token": None}, [{}]),
    "deepseek_r1": ("deepseek-ai-DeepSeek-R1.jinja", "config",
                    {"bos_token": added("<｜begin▁of▁sentence｜>"), "eos_token": added("<｜end▁of▁sentence｜>"),
                     "pad_token": added("<｜end▁of▁sentence｜>"), "unk_token": None}, [{}]),
    "deepseek_v3_1": ("deepseek-ai-DeepSeek-V3.1.jinja", "config",
                      {"bos_token": added("<｜begin▁of▁sentence｜>"), "eos_token": added("<｜end▁of▁sentence｜>"),
                       "pad_token": added("<｜end▁of▁sentence｜>"), "unk_token": None}, [{}, {"thinking": True}]),
    "gemma3": ("google-gemma-3-4b-it.jinja", "config",
               {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
                "extra_special_tokens": {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}},
               [{}]),
    "mistral_small_3_1": ("mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja", "config",
                          {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, [{}]),
    "mistral_small_3_2": ("Mistral-Small-3.2-24B-Instruct-2506.jinja", "jinja",
                          {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, [{}]),
    "smollm3": ("HuggingFaceTB-SmolLM3-3B.jinja", "config",
                {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}, [{}, {"enable_thinking": False}]),
    "glm4_5": ("zai-org-GLM-4.5.jinja", "jinja", {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
               [{}, {"enable_thinking": False}]),
    "kimi_k2": ("moonshotai-Kimi-K2.jinja", "config", {"bos_token": "[BOS]", "eos_token": "[EOS]", "unk_token": "[UNK]", "pad_token": "[PAD]"},
                [{}]),
    "gpt_oss": ("openai-gpt-oss-120b.jinja", "jinja", {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
                [{}, {"reasoning_effort": "high", "model_identity": "You are a careful assistant."}]),
    "olmo2": ("allenai-OLMo-2-1124-7B-Instruct.jinja", "config", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"},
              [{}]),
    # written for these tests: the Jinja features no released template happens to use
    "spec_whitespace": ("spec-whitespace.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "spec_values": ("spec-values.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "spec_iterators": ("spec-iterators.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "spec_more": ("spec-more.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "spec_scoping": ("spec-scoping.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "spec_blocks": ("spec-blocks.jinja", "config", {"bos_token": "<s>", "eos_token": "</s>"}, [{}]),
    "gemma2": ("google-gemma-2-2b-it.jinja", "list", {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
               [{}]),
}


# more released templates (tests/chat/templates/other/, from llama.cpp's models/templates and
# google/minja): each a family "other_NAME" with generic special tokens, rendered without
# template variables and, for those below, with the variables the template reads too
OTHER_VARS = {
    # FireFunction v2 renders only with both: its {% filter %} / block-set system prompt
    "fireworks-ai-llama-3-firefunction-v2.jinja": [{"functions": '[{"name": "get_weather", "parameters": {"location": "string"}}]',
                                                    "datetime": "2025-11-30"}],
    "Apertus-8B-Instruct.jinja": [{"enable_thinking": True}],
    "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja": [{"enable_thinking": False}, {"truncate_history_thinking": False}],
    "deepseek-ai-DeepSeek-V3.2.jinja": [{"thinking": True}],
    "google-gemma-4-31B-it.jinja": [{"enable_thinking": True}],
    "upstage-Solar-Open-100B.jinja": [{"reasoning_effort": "high"}],
    "tencent-Hy3.jinja": [{"reasoning_effort": "high"}],
}
for _f in sorted(os.listdir(os.path.join(ROOT, "templates", "other"))):
    if _f.endswith(".jinja"):
        _name = "other_" + "".join(c if c.isalnum() else "_" for c in _f[:-6]).lower()
        FAMILIES[_name] = ("other/" + _f, "config", {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"},
                           [{}] + OTHER_VARS.get(_f, []))


def chat_var_text(v):
    """VALUE of --chat-var NAME=VALUE: runtime/chat.c reads it as JSON, else as a plain string,
    so a string that would parse as JSON goes JSON-encoded"""
    if isinstance(v, str):
        try:
            json.loads(v)
        except ValueError:
            return v
    return json.dumps(v, ensure_ascii=False)


def write_model_dir(fam, tfile, where, special, dest):
    with open(os.path.join(ROOT, "templates", tfile), encoding="utf-8") as f:
        template = f.read()
    os.makedirs(dest, exist_ok=True)
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 131072}
    cfg.update(special)
    if where == "config":
        cfg["chat_template"] = template
    elif where == "list":
        # the older list form: pick "default" (tools do not select "tool_use" here: none is given)
        cfg["chat_template"] = [{"name": "default", "template": template}, {"name": "other", "template": "{{ raise_exception('wrong template') }}"}]
    else:
        with open(os.path.join(dest, "chat_template.jinja"), "w", encoding="utf-8") as f:
            f.write(template)
    with open(os.path.join(dest, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")


def tiny_tokenizer_json(path):
    from tokenizers import Tokenizer, models
    Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")).save(path)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_session_model():
    """tests/chat/session/: a byte-level BPE tokenizer.json whose first 512 ids (the
    vocabulary of the tests/fixtures/llama model the --chat test runs) all decode to
    printable ASCII, with <|im_start|>/<|im_end|> at 300/301, a ChatML template and
    generation_config.json.  Standard library only."""
    b2u = bytes_to_unicode()
    vocab = {}
    for c in range(0x20, 0x7F):                       # ids 0..94: printable ASCII
        vocab[b2u[c]] = len(vocab)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    pairs = [a + b for a in letters for b in letters]
    merges = []
    for p in pairs:                                   # ids 95..299: two-letter tokens, with merges
        if len(vocab) == 300:
            break
        vocab[p] = len(vocab)
        merges.append([p[0], p[1]])
    specials = ["<|im_start|>", "<|im_end|>"]
    for sp in specials:                               # ids 300, 301
        vocab[sp] = len(vocab)
    rest = [p for p in pairs if p not in vocab]
    while len(vocab) < 600:                           # ids 302..599: more two-letter tokens (no merge makes them)
        vocab[rest.pop(0)] = len(vocab)
    for c in list(range(0, 0x20)) + list(range(0x7F, 0x100)):   # the other bytes, beyond the model's 512
        vocab[b2u[c]] = len(vocab)
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": vocab[sp], "content": sp, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for sp in specials],
           "normalizer": None,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "post_processor": None,
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                     "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges}}
    d = os.path.join(ROOT, "session")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    # ChatML without newlines: this vocabulary keeps control bytes out of the model's ids
    template = ("{%- for m in messages %}{{ '<|im_start|>' + m.role + ': ' + m.content + '<|im_end|>' }}{%- endfor %}"
                "{%- if add_generation_prompt %}{{ '<|im_start|>assistant: ' }}{%- endif %}")
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"eos_token": "<|im_end|>", "pad_token": None, "chat_template": template}, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "generation_config.json"), "w", encoding="utf-8") as f:
        json.dump({"eos_token_id": [301]}, f)
        f.write("\n")


def main():
    write_session_model()
    conv_dir = os.path.join(ROOT, "conversations")
    # conversations/unicode_case.json is the unicode_case test's input (tools/make_case_fixture.py),
    # not a conversation for the families
    convs = sorted(f[:-5] for f in os.listdir(conv_dir) if f.endswith(".json") and f != "unicode_case.json")
    only = set(sys.argv[1:])
    unknown = only - set(FAMILIES)
    if unknown:
        sys.exit(f"unknown families: {' '.join(sorted(unknown))}")
    # Only the families being made are rewritten: their cases, expected files and model dirs go
    # first (a conversation removed since leaves nothing behind); other families' fixtures, and
    # those other tools write (tools/make_case_fixture.py's unicode_case), stay as they are.
    for fam in FAMILIES:
        if only and fam not in only:
            continue
        for sub in ("expected", "cases"):
            d = os.path.join(ROOT, sub)
            os.makedirs(d, exist_ok=True)
            for f in os.listdir(d):
                if f.startswith(fam + "."):
                    os.remove(os.path.join(d, f))
        shutil.rmtree(os.path.join(ROOT, "models", fam), ignore_errors=True)
    n_ok = n_err = 0
    for fam, (tfile, where, special, varsets) in FAMILIES.items():
        if only and fam not in only:
            continue
        if not os.path.exists(os.path.join(ROOT, "templates", tfile)):
            print(f"{fam}: template {tfile} missing, skipped")
            continue
        mdir = os.path.join(ROOT, "models", fam)
        write_model_dir(fam, tfile, where, special, mdir)
        with tempfile.TemporaryDirectory() as tmp:
            for f in os.listdir(mdir):
                shutil.copy(os.path.join(mdir, f), tmp)
            tiny_tokenizer_json(os.path.join(tmp, "tokenizer.json"))
            tok = PreTrainedTokenizerFast.from_pretrained(tmp)
        for conv in convs:
            with open(os.path.join(conv_dir, conv + ".json"), encoding="utf-8") as f:
                data = json.load(f)
            messages = data["messages"] if isinstance(data, dict) else data
            tools = data.get("tools") if isinstance(data, dict) else None
            documents = data.get("documents") if isinstance(data, dict) else None
            for vi, vs in enumerate(varsets):
                for agp in (True, False):
                    case = f"{fam}.{conv}.v{vi}.{'gen' if agp else 'nogen'}"
                    args = ["conversations/" + conv + ".json"] + (["--add-generation-prompt"] if agp else [])
                    for k, v in vs.items():
                        args += ["--chat-var", f"{k}={chat_var_text(v)}"]
                    try:
                        out = tok.apply_chat_template(messages, tools=tools, documents=documents, tokenize=False,
                                                      add_generation_prompt=agp, **vs)
                        ext, body = ".txt", out
                        n_ok += 1
                    except Exception as e:  # the C renderer must refuse it too
                        ext, body = ".error", f"{type(e).__name__}: {e}\n"
                        n_err += 1
                    with open(os.path.join(ROOT, "expected", case + ext), "w", encoding="utf-8", newline="") as f:
                        f.write(body)
                    with open(os.path.join(ROOT, "cases", case + ".args"), "w", encoding="utf-8", newline="") as f:
                        f.write("\n".join(args) + "\n")
        print(f"{fam}: done")
    print(f"{n_ok} renders, {n_err} refusals")


if __name__ == "__main__":
    main()
