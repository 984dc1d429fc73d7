#!/usr/bin/env bash
# Command 2: every test. Rust unit and integration tests against the real
# PostgreSQL and Redis on this machine (and SQLite), one of which restarts
# both services under load; then schemathesis against the OpenAPI document
# and the Playwright suite in headless Chromium, both on the release build.
# Installs what is missing. Nothing is skipped: a missing service or browser
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/tools.sh --browser

export LATCHKEY_TEST_POSTGRES_URL="${LATCHKEY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -d "$LATCHKEY_TEST_POSTGRES_URL" 2>/dev/null; then
  echo "FAIL: PostgreSQL is not reachable at $LATCHKEY_TEST_POSTGRES_URL." >&2
  echo "      Start it: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
fi

export LATCHKEY_TEST_REDIS_URL="${LATCHKEY_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
redis_hostport="${LATCHKEY_TEST_REDIS_URL#redis://}"
if ! (exec 3<>"/dev/tcp/${redis_hostport%%:*}/${redis_hostport##*:}" && printf 'PING\r\n' >&3 && read -r -t 3 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null; then
  echo "FAIL: Redis is not reachable at $LATCHKEY_TEST_REDIS_URL." >&2
  echo "      Start it: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no" >&2
  exit 1
fi

say "formatting and lints"
cargo fmt --all -- --check
./scripts/module-cycles.py
cargo clippy --locked -p latchkey-types -p latchkey-core -p latchkey-testkit -p app -p server --features app/ssr --all-targets -- -D warnings
cargo clippy --locked -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

say "Rust unit and integration tests (SQLite and PostgreSQL)"
cargo test --locked -p latchkey-types -p latchkey-core -p app -p server --features app/ssr

say "release build (server + WASM)"
cargo leptos build --release --precompress

say "the README's and docs/deploy.md's server commands, through scripts/server, from elsewhere"
scratch="$(mktemp -d)"
(
  cd "$scratch"
  export DATABASE_URL="sqlite://$scratch/readme.db" METRICS_ADDR=off LEPTOS_SITE_ADDR=127.0.0.1:0
  "$root/scripts/server" check-config | grep "does not exist yet" >/dev/null
  printf '%s\n' "a scratch administrator passphrase" |
    "$root/scripts/server" create-admin --email ops@example.com --username ops | grep "Created the administrator" >/dev/null
  "$root/scripts/server" rotate-keys | grep "now signs with" >/dev/null
  "$root/scripts/server" backup --to "$scratch/copy.db" | grep "Wrote a copy" >/dev/null
  "$root/scripts/server" preview-mail reset --lang ko | grep "^Subject: " >/dev/null
  mkdir -p "$scratch/mail/en"
  printf 'Your {{ product }} link: {{ link }}\n' > "$scratch/mail/en/reset.txt"
  MAIL_TEMPLATES="$scratch/mail" "$root/scripts/server" preview-mail reset |
    grep "Your Latchkey link: https://auth.example.com/reset?token=" >/dev/null
  # Settings from a file, the environment winning: the file names the copy
  # and an SMTP server nobody runs.
  printf 'database_url = "sqlite://%s"\nsmtp_url = "smtp://127.0.0.1:1"\n' "$scratch/copy.db" > settings.toml
  export LATCHKEY_CONFIG="$scratch/settings.toml"
  if "$root/scripts/server" check-config >check.out; then
    echo "FAIL: check-config passed with an unreachable SMTP server" >&2; cat check.out >&2; exit 1
  fi
  grep "readme.db  (env)" check.out >/dev/null
  grep "cannot reach the SMTP server at smtp://127.0.0.1:1" check.out >/dev/null
  # The copy is a whole, migrated database.
  printf 'database_url = "sqlite://%s"\n' "$scratch/copy.db" > settings.toml
  (unset DATABASE_URL; "$root/scripts/server" check-config >check.out) || { cat check.out >&2; exit 1; }
  grep "copy.db  (file)" check.out >/dev/null
  if grep "migration(s)" check.out; then
    echo "FAIL: the backup lacks migrations" >&2; exit 1
  fi
)
rm -rf "$scratch"

say "the systemd unit (deploy/latchkey.service): valid, and confined"
unit="$(mktemp -d)"
sed "s#/opt/latchkey/latchkey#$CARGO_TARGET_DIR/release/server#" deploy/latchkey.service > "$unit/latchkey.service"
systemd-analyze verify "$unit/latchkey.service"
systemd-analyze security --offline=true --threshold=20 "$unit/latchkey.service" >/dev/null ||
  { systemd-analyze security --offline=true "$unit/latchkey.service" | tail -n 1; exit 1; }
rm -rf "$unit"

say "generated bad input against the OpenAPI document (schemathesis)"
./scripts/fuzz-api.sh

say "Playwright end-to-end suite (headless Chromium)"
export LATCHKEY_SERVER_BIN="$CARGO_TARGET_DIR/release/server"
export LATCHKEY_SITE_ROOT="$root/target/site"
cd end2end
npx playwright test
