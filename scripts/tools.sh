#!/usr/bin/env bash
# Installs what Latchkey's build needs and is missing, into a cache outside
# the clone, and puts it on PATH. Sourced by dev.sh and test.sh.
#   LATCHKEY_CACHE  where tools and the cargo target dir live (~/.cache/latchkey)
# Pass --browser to also install what the tests need: Chromium, nginx, the
# Playwright packages and the relying party's Python packages.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LATCHKEY_CACHE:-$HOME/.cache/latchkey}"
tools="$cache/tools"
mkdir -p "$tools/bin"
export PATH="$tools/bin:$tools/npm/node_modules/.bin:$PATH"
# One target dir for every clone: a fresh checkout reuses compiled crates.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
# Each clone path would add its own incremental cache to the shared target
# dir (tens of GiB after a few CI runs); clean builds of our crates are quick.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

CARGO_LEPTOS_VERSION=0.3.10   # the newest that builds on rustc 1.95
BINARYEN_VERSION=132          # Debian's v108 breaks hydration
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' "$root/Cargo.lock")"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(cargo-leptos --version 2>/dev/null)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --root "$tools"
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (must match Cargo.lock)"
  # Not --locked: its lock file pins a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$tools" --force
fi

if [[ "$(wasm-opt --version 2>/dev/null)" != *"version $BINARYEN_VERSION"* ]]; then
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm"
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" "binaryen@$BINARYEN_VERSION"
fi

if [[ "${1:-}" == "--browser" ]]; then
  # Chromium, the CJK fonts the Korean screens are drawn (and
  # photographed) with, nginx and Caddy, which the proxy tests put in
  # front, and oathtool, which plays the authenticator app (the
  # second-factor tests, Rust and Playwright alike).
  if [[ ! -x /usr/bin/chromium ]] || ! fc-list :lang=ko 2>/dev/null | grep -q . \
     || [[ ! -x /usr/sbin/nginx ]] || [[ ! -x /usr/bin/caddy ]] || [[ ! -x /usr/bin/oathtool ]]; then
    say "installing Chromium, Noto CJK fonts, nginx, Caddy and oathtool from Debian"
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium fonts-noto-cjk nginx-light caddy oathtool >/dev/null
  fi
  # Reinstalled whenever package-lock.json changes (a new test dependency).
  lock_sum="$(sha256sum "$root/end2end/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$root/end2end/node_modules/.lock-sum" 2>/dev/null)" != "$lock_sum" ]]; then
    say "installing the Playwright runner, axe-core and maildev (browsers come from Debian)"
    (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
    echo "$lock_sum" > "$root/end2end/node_modules/.lock-sum"
  fi
  # Code nobody here wrote, in Python: a relying party on Authlib for the
  # OpenID Connect tests (end2end/rp/relying_party.py), and a webhook
  # receiver verifying with `standardwebhooks` (testkit/webhook_receiver.py).
  AUTHLIB_VERSION=1.9.10
  STANDARDWEBHOOKS_VERSION=1.1.0
  export LATCHKEY_RP_PYTHON="$tools/rp-venv/bin/python"
  if ! "$LATCHKEY_RP_PYTHON" -c "import authlib, requests, standardwebhooks, importlib.metadata as m; assert authlib.__version__ == '$AUTHLIB_VERSION'; assert m.version('standardwebhooks') == '$STANDARDWEBHOOKS_VERSION'" 2>/dev/null; then
    say "installing Authlib $AUTHLIB_VERSION and standardwebhooks $STANDARDWEBHOOKS_VERSION for the relying-party and webhook tests"
    python3 -m venv "$tools/rp-venv"
    "$tools/rp-venv/bin/pip" install --quiet --disable-pip-version-check "authlib==$AUTHLIB_VERSION" "requests==2.34.2" "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
  fi
fi
