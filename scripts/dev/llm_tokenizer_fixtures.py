#!/usr/bin/env python3
"""Write llama.cpp token ids for a fixed set of strings (dev-only).

Reference for the Rust GGUF tokenizer (src/llm/tokenizer.rs): for each model
this uses llama.cpp's own tokenizer through llama-cpp-python
(`Llama(model_path, vocab_only=True).tokenize(text, add_bos=False, special=False)`)
and writes tests/fixtures/llm/tokenizer_<name>.json.

    python3 -m pip install llama-cpp-python
    python3 scripts/dev/llm_tokenizer_fixtures.py \
        --model smollm2=/path/SmolLM2-135M-Instruct.Q4_1.gguf \
        --model qwen25coder=/path/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
        --model gemma3=/path/gemma-3-270m-q4_k_m.gguf

Every model gets the same strings; a model may add a few of its own
(EXTRA: Gemma's control and user-defined tokens, e.g. its runs of spaces).
"""
import argparse
import glob
import json
import os

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def strings():
    out = []
    with open(os.path.join(SHARED, "testdata/flores200-uk-en/dev.uk"), encoding="utf-8") as f:
        uk = [l.rstrip("\n") for l in f]
    with open(os.path.join(SHARED, "testdata/flores200-uk-en/dev.en"), encoding="utf-8") as f:
        en = [l.rstrip("\n") for l in f]
    out += uk[0:997:8]          # 125 Ukrainian sentences
    out += en[3:997:25]         # 40 English sentences
    for path in sorted(glob.glob(os.path.join(SHARED, "seeds/*.txt"))):
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f.read().split("\n") if l.strip()]
        out += lines[:6]        # titles, dates, first paragraphs
        out.append("\n".join(lines[1:4]))  # multi-line chunks
    out += [
        "", " ", "  ", "   leading", "trailing   ", "a  b   c    d", "\t\ttabs\tand spaces ",
        "\n", "\n\n", "line1\nline2\n\n\nline3", "\r\nwindows\r\nlines", " \n \n", "x\n \ny",
        "0", "7", "12", "123", "1234", "12345678901234567890", "3.14159", "-42", "1,000,000",
        "25 000 грн", "02:30 UTC", "2025-09-02", "№ 123/4-5", "+380 (44) 123-45-67", "½ ¾ ⅔",
        "!!!", "?!?!", "...", "…", "«лапки»", "„цитата“", "—", "–", "(дужки) [квадратні] {фігурні}",
        "a,b;c:d", "email@example.com", "https://www.example.org/path?q=1&r=2#frag", "#хештег @user",
        "C++ && Rust || Go", "x = y * (z + 1) / 2 ^ 3 % 4", "'single' \"double\" `back`",
        "it's don't we're they've I'm you'll he'd", "IT'S DON'T", "O'Reilly's",
        "😀", "🇺🇦", "👍🏽 👨‍👩‍👧‍👦", "Слава Україні! 🇺🇦🇺🇦", "emoji😀inside", "❤️", "★☆✓✗",
        "日本語のテキスト", "中文文本", "한국어", "العربية", "עברית", "Ελληνικά", "ǅ ǆ ß ẞ", "café naïve",
        "Ґанок, їжак, єнот, ІІІ", "ҐЄЇІ ґєїі", "Й й ё", "апостроф: м'ясо, м’ясо, мʼясо",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nПривіт<|im_end|>",
        "<tool_call>", "text <tool_call>{\"a\":1}</tool_call> more", "<s>", "</s>", "<unk>",
        "<|fim_prefix|>", "<file_sep>", "<repo_name>x", "<|im_start", "im_end|>",
        "CamelCaseWord snake_case_word kebab-case-word", "ALLCAPS lowercase MiXeD",
        "Київ, Харків, Одеса, Дніпро, Львів", "ЗСУ, НАТО, ЄС, МЗС, ООН",
        "Президент Володимир Зеленський заявив, що...",
        "{\"facts\":[{\"type\":\"person\",\"text\":\"Сергій Боєв\"}]}",
        "    def f(x):\n        return x * 2\n", "a" * 50, "аааааааааа бббббббб", "ab" * 20,
        "\u00a0nbsp\u00a0here", "zero\u200bwidth", "soft\u00adhyphen", "\u2028sep\u2029",
    ]
    return out


EXTRA = {
    "gemma3": [
        "<start_of_turn>", "<end_of_turn>", "<start_of_turn>user\nПривіт<end_of_turn>\n",
        "<bos>", "<eos>", "<pad>", "<mask>", "[multimodal]", "<start_of_image>", "<unused5>",
        "a" + " " * 31 + "b", " " * 40, "\t" * 33, "x\n\n\n\n\ny", "\n" * 40,
        "  два  пробіли  ", "<h1>Title</h1>", "<end_of_turn", "start_of_turn>",
    ],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH.gguf")
    args = ap.parse_args()
    texts = strings()
    for spec in args.model:
        name, path = spec.split("=", 1)
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        cases = [
            {"text": t, "ids": llm.tokenize(t.encode("utf-8"), add_bos=False, special=False)}
            for t in texts + EXTRA.get(name, [])
        ]
        out = os.path.join(ROOT, "tests/fixtures/llm", f"tokenizer_{name}.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(
                {"model": os.path.basename(path), "llama_cpp_python": llama_cpp.__version__,
                 "cases": cases},
                f, ensure_ascii=False, indent=0,
            )
        print(f"{out}: {len(cases)} strings")


if __name__ == "__main__":
    main()
