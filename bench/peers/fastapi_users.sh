#!/usr/bin/env bash
# Peer benchmark: FastAPI-Users 15 (SQLite, JWT, argon2id at Latchkey's
# cost) measured like bench/run.sh measures Latchkey. Progress goes to
# stderr; stdout gets three lines: "me|login <req/s> <p50> <p99> <non2xx>"
# and "rss <MiB>". Traffic goes to 127.0.0.1 only; every run is bounded.
#   DURATION=10s ./bench/peers/fastapi_users.sh
set -euo pipefail
cd "$(dirname "$0")"
log() { echo "== $*" >&2; }

venv="${XDG_CACHE_HOME:-$HOME/.cache}/latchkey/bench-venv"
if ! "$venv/bin/python" -c 'import fastapi_users, fastapi_users_db_sqlalchemy, aiosqlite, uvicorn, uvloop' 2>/dev/null; then
  log "installing FastAPI-Users into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'fastapi-users[sqlalchemy]==15.0.5' 'aiosqlite==0.22.1' 'uvicorn[standard]==0.54.0' >&2
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

duration="${DURATION:-10s}"
port="${PEER_PORT:-3300}"
base="http://127.0.0.1:$port"
export PEER_DB="${PEER_DB:-/tmp/fastapi-users-bench.db}"
rm -f "$PEER_DB" "$PEER_DB.lock"

# Two workers: the machine has two cores and Latchkey uses both.
"$venv/bin/uvicorn" fastapi_users_app:app --host 127.0.0.1 --port "$port" \
  --workers 2 --log-level warning >/tmp/fastapi-users-bench.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
# /docs is FastAPI's own page: it answers once a worker is serving.
for _ in $(seq 150); do curl -sf -o /dev/null "$base/docs" && break; sleep 0.2; done
curl -sf -o /dev/null "$base/docs" || { cat /tmp/fastapi-users-bench.log >&2; exit 1; }

log "registering bench0..bench15"
for i in $(seq 0 15); do
  curl -sf -o /dev/null -H 'Content-Type: application/json' "$base/auth/register" \
    -d "{\"email\":\"bench$i@example.com\",\"password\":\"correct horse battery staple\"}"
done
token=$(curl -sf "$base/auth/jwt/login" --data-urlencode 'username=bench0@example.com' \
  --data-urlencode 'password=correct horse battery staple' |
  "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

source ../measure.sh

log "GET /users/me, 64 connections"
me=$(measure -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/users/me")
log "POST /auth/jwt/login, 16 connections"
# The same log-in script as Latchkey's, with an OAuth2 password form
# ("@" is %40 in a form body).
login=$(LOGIN_BODY='username=bench%d%%40example.com&password=correct+horse+battery+staple' \
  LOGIN_TYPE=application/x-www-form-urlencoded \
  measure -c16 -d"$duration" -s ../login.lua "$base/auth/jwt/login")

# The master and its workers; not multiprocessing's resource tracker,
# which is also its child. Read 2 s after the flood, as Latchkey's.
sleep 2
rss_kib=0
for pid in $server $(pgrep -P "$server" -f spawn_main || true); do
  kib=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  rss_kib=$((rss_kib + ${kib:-0}))
done

echo "me $me"
echo "login $login"
echo "rss $((rss_kib / 1024))"
