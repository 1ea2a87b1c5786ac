#!/usr/bin/env python3
"""Write llama.cpp's greedy output for a few chat prompts (dev-only).

Reference for the Rust chat engine (src/llm/, tests/llm.rs): for each prompt
this renders the model family's official chat template with Jinja2 (the text
llama.cpp's server would build), tokenizes it with llama.cpp
(`special=True`, so the role markers become their control tokens), runs the
prompt in one batch and then decodes greedily one token at a time (argmax of
the logits, EOS not stopping it), and writes the prompt ids, the generated
ids and, per step, the two best logits (to tell near-ties from bugs) to
tests/fixtures/llm/generate_<name>.json.

    python3 -m pip install llama-cpp-python
    python3 scripts/dev/llm_generate_fixtures.py \\
        --model gemma3=/path/gemma-3-270m-q4_k_m.gguf --threads 2
"""
import argparse
import json
import os

import jinja2
import llama_cpp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# google/gemma-3-270m(-it) tokenizer_config.json `chat_template` (the GGUF of
# the pretrained model carries none; llama.cpp's gemma format is the same).
GEMMA3_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

TEMPLATES = {"gemma3": (GEMMA3_TEMPLATE, "<bos>", "<eos>")}

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are a concise assistant."},
     {"role": "user", "content": "Name three colours of the rainbow."}],
    [{"role": "user", "content": "Translate into English: Київ — столиця України."}],
    [{"role": "user", "content": "Write one sentence about the sea."},
     {"role": "assistant", "content": "The sea is vast and blue."},
     {"role": "user", "content": "  Now one about mountains.  "}],
]


def render(template, bos, eos, messages):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise ValueError(msg)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH.gguf")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for spec in args.model:
        name, path = spec.split("=", 1)
        template, bos, eos = TEMPLATES[name]
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_batch=512, n_ubatch=512,
                              n_threads=args.threads, n_threads_batch=args.threads,
                              logits_all=False, verbose=False)
        n_vocab = llm.n_vocab()

        def logits():
            ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()

        cases = []
        for messages in PROMPTS:
            text = render(template, bos, eos, messages)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            llm.reset()
            llm.eval(ids)
            out, top2 = [], []
            for step in range(args.new_tokens):
                lg = logits()
                order = np.argsort(-lg, kind="stable")[:2]
                tok = int(order[0])
                out.append(tok)
                top2.append([[int(order[0]), float(lg[order[0]])],
                             [int(order[1]), float(lg[order[1]])]])
                if step + 1 < args.new_tokens:
                    llm.eval([tok])
            piece = llm.detokenize(out).decode("utf-8", errors="replace")
            cases.append({"messages": messages, "rendered": text, "prompt_ids": ids,
                          "output_ids": out, "output_text": piece, "top2": top2})
            print(f"{name}: {len(ids)} prompt ids -> {piece!r}")
        dest = os.path.join(ROOT, "tests/fixtures/llm", f"generate_{name}.json")
        with open(dest, "w", encoding="utf-8") as f:
            json.dump({"model": os.path.basename(path),
                       "llama_cpp_python": llama_cpp.__version__,
                       "threads": args.threads, "new_tokens": args.new_tokens,
                       "greedy": "argmax of the logits, EOS ignored",
                       "cases": cases}, f, ensure_ascii=False, indent=1)
        print(f"{dest}: {len(cases)} prompts")


if __name__ == "__main__":
    main()
