#!/usr/bin/env bash
# The benchmark: builds in release, runs every measurement on loopback
# (bounded in count and time), prints a table and writes BENCHMARKS.md.
# Installs nothing; says which peers it found (python3 required, socat
# optional). Env: RUNS (3), COUNT datagrams per run (1000000), LINES (1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 1; }
cargo build --release --quiet --bins --examples
exec python3 scripts/bench.py
