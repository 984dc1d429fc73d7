#!/usr/bin/env bash
# Generated bad input against the OpenAPI document: Schemathesis (from PyPI,
# in the tool cache) drives the release server on PostgreSQL + Redis as an
# administrator. It fails on any 5xx other than 503, and on any response the
# document does not describe (status, content type, headers, body schema),
# and checks that secured operations really refuse a missing token.
#   FUZZ_SECONDS  time budget (default 90)
# Run by scripts/test.sh after the release build; expects tools.sh sourced.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LATCHKEY_CACHE:-$HOME/.cache/latchkey}"
SCHEMATHESIS_VERSION=4.32.5
venv="$cache/tools/venv"
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
  echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

pg_admin="${LATCHKEY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
db="latchkey_fuzz"
port=3300
base="http://127.0.0.1:$port"
bin="$CARGO_TARGET_DIR/release/server"
log="$(mktemp -t latchkey-fuzz-XXXX.log)"
password="schema probe passphrase $RANDOM $RANDOM"

psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
export DATABASE_URL="${pg_admin%/*}/$db" REDIS_URL="${LATCHKEY_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# Keys of their own: the failed log-ins the fuzzer makes would otherwise
# throttle this address for the next run, or a benchmark, for 15 minutes.
export REDIS_PREFIX="latchkey-fuzz-$$-$RANDOM:"
export LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=warn
export LATCHKEY_SECRET="fuzz-secret-only-for-this-run-0123456789abcdef"
# Sign-ups are fuzzed too: lift the per-address hourly limit; metrics on
# a port of their own, so a running dev server is no clash.
export SIGNUPS_PER_HOUR_PER_IP=1000000 METRICS_ADDR=127.0.0.1:0
"$bin" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

printf '%s\n' "$password" | "$bin" create-admin --email fuzz@example.com --username fuzzadmin >/dev/null
token=$(curl -sf "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"fuzzadmin\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth=(-H "Authorization: Bearer $token")
# The hooks keep generated requests off the fuzzer's own account and session.
FUZZ_ADMIN_ID=$(curl -sf "${auth[@]}" "$base/api/v1/me" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
FUZZ_SESSION_ID=$(curl -sf "${auth[@]}" "$base/api/v1/me/sessions" |
  python3 -c 'import json,sys; print(next(s["id"] for s in json.load(sys.stdin) if s["current"]))')
FUZZ_MEMBER_ID=$(curl -sf "$base/api/v1/auth/signup" -H 'Content-Type: application/json' \
  -d "{\"email\":\"member@example.com\",\"username\":\"fuzzmember\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
export FUZZ_ADMIN_ID FUZZ_SESSION_ID FUZZ_MEMBER_ID PYTHONPATH="$root/scripts" SCHEMATHESIS_HOOKS=fuzz_hooks

# Not run: log out (it would end the token the run uses), the stateful
# phase (it feeds the admin's own id to "end sessions"), and the checks that
# judge the API's rules rather than its document (a well-formed but unknown
# reset token is rightly refused).
status=0
"$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
  "${auth[@]}" \
  --phases examples,coverage,fuzzing \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth,unsupported_method,missing_required_header \
  --exclude-path /auth/logout \
  --max-time "${FUZZ_SECONDS:-90}" --workers 2 || status=$?
# A run whose token died early would have fuzzed little but the 401 path.
if ! curl -sf -o /dev/null "${auth[@]}" "$base/api/v1/me"; then
  echo "FAIL: the fuzzer's admin session did not survive the run, so its requests stopped reaching the API's logic." >&2
  status=1
fi
if grep -q "panicked" "$log"; then
  echo "FAIL: the server panicked under generated input:" >&2
  grep -A5 "panicked" "$log" >&2
  status=1
fi
exit $status
