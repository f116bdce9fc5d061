#!/usr/bin/env bash
# Influence index on generated events: ihos (DataFusion) vs DuckDB (PyPI), same Parquet files.
#   EVENTS=100000000 bench/analytics/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${EVENTS:-100000000}"
DATA="${DATA:-/tmp/ihos-bench-events-$EVENTS}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ihos-target}"
cargo build --release -p ihos
BIN="$CARGO_TARGET_DIR/release/ihos"
VENV="${VENV:-$HOME/.cache/ihos-bench-venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "duckdb==1.4.1"
if [ ! -d "$DATA/events" ]; then
  "$BIN" index generate --out "$DATA" --events "$EVENTS" --seed 2016 --first-year 2022 --years 4
fi
du -sh "$DATA"
"$VENV/bin/python" bench/analytics/bench.py --ihos "$BIN" --data "$DATA" --events "$EVENTS" --year 2025 "$@"
