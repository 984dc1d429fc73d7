#!/usr/bin/env bash
# Command 1: install what is missing, build, and serve Latchkey on the
# embedded defaults (SQLite file, in-process store, emails in the log) at
# http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
exec cargo leptos serve --release --precompress
