#!/usr/bin/env bash
# Measures the release build on PostgreSQL + Redis with wrk and prints one
# table: authenticated GET /api/v1/me, JSON log-in (argon2id-bound) beside
# the raw argon2id hash rate of this machine (its ceiling), SSR of the
# log-in page, /me while log-ins saturate the hash pool, memory, and the
# WASM bundle size. Traffic goes to 127.0.0.1 only; every run is bounded.
#   DURATION=10s ./bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/tools.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

duration="${DURATION:-10s}"
port=3200
base="http://127.0.0.1:$port"
pg_admin="${LATCHKEY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
db="latchkey_bench"

say "release build"
cargo leptos build --release --precompress >/dev/null 2>&1
bin="$CARGO_TARGET_DIR/release/server"

psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  DATABASE_URL="${pg_admin%/*}/$db" REDIS_URL="redis://127.0.0.1:6379" REDIS_PREFIX="latchkey-bench-$$:" \
  LATCHKEY_SECRET="bench-secret-bench-secret-bench-secret-bench-secret" RUST_LOG=warn \
  SIGNUPS_PER_HOUR_PER_IP=1000000 METRICS_ADDR=127.0.0.1:0 \
  "$bin" >/tmp/latchkey-bench.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$server/status"; }
idle_rss=$(rss)

# Sixteen users: the log-in run spreads over them (bench/login.lua).
for i in $(seq 0 15); do
  curl -sf -o "/tmp/latchkey-bench-$i.json" -H 'Content-Type: application/json' "$base/api/v1/auth/signup" \
    -d "{\"email\":\"bench$i@example.com\",\"username\":\"bench$i\",\"password\":\"correct horse battery staple\"}"
done
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' /tmp/latchkey-bench-0.json)

# wrk's summary -> "req/s p50 p99 non-2xx": a run whose answers were not
# all 2xx measured something else (a 429 is fast), so it is shown.
measure() {
  wrk -t2 "$@" --latency | awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx or 3xx responses/ {bad=$NF}
    END {printf "%.0f %s %s %d\n", rps, p50, p99, bad}'
}

say "GET /api/v1/me, 64 connections"
read -r me_rps me_p50 me_p99 me_bad < <(measure -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/api/v1/me")
say "POST /api/v1/auth/login, 16 connections"
read -r login_rps login_p50 login_p99 login_bad < <(measure -c16 -d"$duration" -s bench/login.lua "$base/api/v1/auth/login")
say "SSR GET /login, 64 connections"
read -r ssr_rps ssr_p50 ssr_p99 ssr_bad < <(measure -c64 -d"$duration" "$base/login")
say "GET /api/v1/me while log-ins saturate the hash pool"
wrk -t1 -c16 -d"$duration" -s bench/login.lua "$base/api/v1/auth/login" >/dev/null &
flood=$!
sleep 1
read -r mix_rps mix_p50 mix_p99 mix_bad < <(measure -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/api/v1/me")
loaded_rss=$(rss)
wait $flood

say "raw argon2id hash rate (the log-in ceiling)"
hash_rate=$(LATCHKEY_SECRET=unused-here-unused-here-unused-here-0 RUST_LOG=error \
  "$bin" hash-rate --seconds "${duration%s}" | sed -E 's/.*: ([0-9.]+) hashes.*/\1/')

wasm="$root/target/site/pkg/latchkey.wasm"
wasm_raw=$(( $(stat -c %s "$wasm") / 1024 ))
wasm_gz=$(( $(gzip -9 -c "$wasm" | wc -c) / 1024 ))
# What a browser downloads: the brotli file the build wrote beside it.
wasm_br=$(( $(curl -s -H 'Accept-Encoding: br' "$base/pkg/latchkey.wasm" | wc -c) / 1024 ))

cat <<TABLE

| measurement ($(nproc) cores, wrk, $duration each) | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
| GET /api/v1/me (JWT + session check in PostgreSQL), 64 conns | $me_rps | $me_p50 | $me_p99 | $me_bad |
| POST /api/v1/auth/login (argon2id m=19 MiB t=2), 16 conns, 16 users | $login_rps | $login_p50 | $login_p99 | $login_bad |
| raw argon2id hashes on the same threads (\`server hash-rate\`): the ceiling | $hash_rate | | | |
| SSR GET /login, 64 conns | $ssr_rps | $ssr_p50 | $ssr_p99 | $ssr_bad |
| GET /api/v1/me while log-ins saturate the hash pool | $mix_rps | $mix_p50 | $mix_p99 | $mix_bad |

| other | value |
|---|---|
| RSS idle / after load | $idle_rss / $loaded_rss |
| WASM bundle raw / gzip -9 / served with brotli | ${wasm_raw} KiB / ${wasm_gz} KiB / ${wasm_br} KiB |
TABLE
