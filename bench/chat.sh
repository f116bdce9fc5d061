#!/usr/bin/env bash
# Chat benchmark: 1,000 concurrent consultations (2,000 WebSockets) against
# ihos (every message persisted before it is delivered), then the same client
# against a Node `ws` echo server. Only 127.0.0.1. Not part of `cargo test`.
#
#   bench/chat.sh [sessions] [seconds] [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS="${1:-1000}"
SECONDS_RUN="${2:-15}"
BACKEND="${3:-sqlite}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ihos-target}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# One build for both (same features), without the analytics commands (DataFusion).
cargo build --release -q -p ihos -p ihos-bench --no-default-features
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d /tmp/ihos-chat-bench-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
  DB="bench_chat_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
  URL="postgres://postgres@127.0.0.1:5432/$DB"
  trap 'cleanup; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
else
  URL="sqlite://$WORK/ihos.db"
fi

"$BIN/chat-bench" seed --database-url "$URL" --sessions "$SESSIONS" --out "$WORK/sessions.json"

wait_port() { # file -> prints host:port once the server logged it
  for _ in $(seq 1 100); do
    if grep -qo '127.0.0.1:[0-9]*' "$1" 2>/dev/null; then grep -o '127.0.0.1:[0-9]*' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}

echo "== ihos ($BACKEND): persisted chat, patient <-> doctor"
IHOS_DATABASE_URL="$URL" IHOS_DATA_DIR="$WORK" \
  IHOS_LOG=warn IHOS_MAX_CONNECTIONS=16 "$BIN/ihos" serve --bind 127.0.0.1:0 > "$WORK/ihos.out" 2>&1 &
PIDS+=($!)
ADDR="$(wait_port "$WORK/ihos.out")"
echo "-- closed loop (each connection sends its next message once the last is committed): throughput"
"$BIN/chat-bench" run --mode ihos --addr "$ADDR" --sessions-file "$WORK/sessions.json" \
  --sessions "$SESSIONS" --seconds "$SECONDS_RUN"
echo "-- paced (each connection sends every 2 s, a busy chat): delivery latency"
"$BIN/chat-bench" run --mode ihos --addr "$ADDR" --sessions-file "$WORK/sessions.json" \
  --sessions "$SESSIONS" --seconds "$SECONDS_RUN" --interval-ms 2000
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true

echo "== node ws echo (same client)"
(cd bench/ws-echo && [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null)
node bench/ws-echo/server.mjs 0 > "$WORK/echo.out" 2>&1 &
PIDS+=($!)
ADDR="$(wait_port "$WORK/echo.out")"
echo "-- closed loop"
"$BIN/chat-bench" run --mode echo --addr "$ADDR" --sessions "$SESSIONS" --seconds "$SECONDS_RUN"
echo "-- paced"
"$BIN/chat-bench" run --mode echo --addr "$ADDR" --sessions "$SESSIONS" --seconds "$SECONDS_RUN" --interval-ms 2000
