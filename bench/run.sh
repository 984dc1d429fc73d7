#!/usr/bin/env bash
# Measures the release build with wrk on both deployments, one after the
# other in one run: SQLite + the in-process store, and PostgreSQL + Redis.
# For each: GET /healthz (the stack's own ceiling), authenticated
# GET /api/v1/me, JSON log-in beside the raw argon2id hash rate (its
# ceiling), SSR of the log-in page, /me while log-ins saturate the hash
# pool, and memory after each flood. Then the bytes a first visit to
# /login downloads, and FastAPI-Users 15 on the same machine with the same
# wrk settings (bench/peers/fastapi_users.sh). Traffic goes to 127.0.0.1
# only; every run is bounded.
#   DURATION=10s ./bench/run.sh          (PEERS=0 to skip FastAPI-Users)
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
sqlite_file="/tmp/latchkey-bench-$$.db"

say "release build"
cargo leptos build --release --precompress >/dev/null 2>&1
bin="${BENCH_BIN:-$CARGO_TARGET_DIR/release/server}"

# The raw argon2id hash rate (the log-in ceiling). argon2id is bound by
# memory bandwidth, which a shared host's neighbours take a varying share
# of: here the rate moved between 94 and 142/s within half an hour, and by
# a fifth within one minute. So log-ins and the ceiling are measured in
# alternating rounds (ROUNDS log-in rounds of ROUND seconds, each between
# two hash-rate readings of as long) and the share is the sum of log-ins
# over the sum of the readings around each round: a steady drift meets
# both alike.
rounds="${ROUNDS:-5}"
round="${ROUND:-5}"
[[ $rounds =~ ^[1-9][0-9]*$ && $round =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS and ROUND must be whole numbers of at least 1" >&2; exit 1; }
hash_rate() {
  local rate
  rate=$(LATCHKEY_SECRET=unused-here-unused-here-unused-here-0 RUST_LOG=error \
    "$bin" hash-rate --seconds "$round" | sed -E 's/.*: ([0-9.]+) hashes.*/\1/')
  # A failed measurement stops the run: averaged in as nothing, it would
  # halve the ceiling and double the share.
  [[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "server hash-rate failed: '$rate'" >&2; return 1; }
  echo "$rate"
}

server=""
stop() { [ -n "$server" ] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }; server=""; }
cpu_file="/tmp/latchkey-bench-cpu-$$"
trap 'stop; rm -f "$sqlite_file"* "$cpu_file".?' EXIT
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
# The peak resident set (the kernel's high-water mark) since the last
# reset_peak.
peak() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$server/status"; }
reset_peak() { echo 5 > "/proc/$server/clear_refs"; }
# What a flood leaves behind: read once the server has finished what was
# queued when wrk stopped and its hashing threads have been idle for longer
# than they keep their memory (IDLE_RELEASE, 1 s).
settled_rss() { sleep 2; rss; }

source bench/measure.sh

# Who spent the machine's CPU while log-ins ran: the server's hashing
# threads, the rest of the server, the database (PostgreSQL's processes, or
# SQLite's worker thread inside the server), Redis, and everything else
# (wrk, the kernel's networking, idle). On two cores the database, Redis and
# wrk take their time from the hashing threads, so this shows how close to
# the raw hash rate log-ins can come on this machine at all.
declare -A cpu
# The processes besides the server that serve this deployment (set by
# `deployment`): PostgreSQL's and Redis's for pg, none for SQLite.
beside=""
cpu_snapshot() { # -> "source class ticks" lines
  local f line
  { echo "/proc/stat $(head -1 /proc/stat)"
    for f in /proc/"$server"/task/*/stat $([ -z "$beside" ] || pgrep -x "$beside" | sed 's|.*|/proc/&/stat|'); do
      # A process that ended meanwhile is left out (its time counts as
      # everything else's).
      if { line=$(<"$f"); } 2>/dev/null; then echo "$f $line"; fi
    done; } | awk '
    # user nice system idle iowait irq softirq steal (guest time is in user)
    $1 == "/proc/stat" { s = 0; for (i = 3; i <= 10; i++) s += $i; print "all", "all", s; next }
    { c = $3; k = "server"
      if (c ~ /^\(argon2-/) k = "hashing"
      else if (c ~ /^\(sqlx-sqlite/ || c == "(postgres)") k = "database"
      else if (c == "(redis-server)") k = "redis"
      print $1, k, $15 + $16 }'
}
cpu_count() { # before-file after-file: adds what each class spent between them
  local class ticks
  while read -r class ticks; do cpu[$class]=$(( ${cpu[$class]:-0} + ticks )); done < <(
    awk 'NR == FNR { b[$1] = $3; next } { d[$2] += $3 - ($1 in b ? b[$1] : 0) } END { for (k in d) print k, d[k] }' "$1" "$2")
}
cpu_split() { # the shares, as a table cell
  local all=${cpu[all]:-0} known=$(( ${cpu[hashing]:-0} + ${cpu[server]:-0} + ${cpu[database]:-0} + ${cpu[redis]:-0} ))
  printf '%s / %s / %s / %s / %s' "$(pct "${cpu[hashing]:-0}" "$all")" "$(pct "${cpu[server]:-0}" "$all")" \
    "$(pct "${cpu[database]:-0}" "$all")" "$(pct "${cpu[redis]:-0}" "$all")" "$(pct $(( all - known )) "$all")"
}
# wrk's latencies (950.00us, 139.03ms, 1.02s), shortest first.
by_time() {
  printf '%s\n' "$@" | awk '{v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/) v *= 1000; print v, $1}' \
    | sort -g | cut -d' ' -f2
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f %%", (b > 0 ? 100 * a / b : 0)}'; }

# One deployment: start it with the given environment, measure, stop it.
# Results land in variables suffixed with the deployment's name.
deployment() {
  local name="$1"; shift
  say "$name: start"
  beside=""; [ "$name" = pg ] && beside='postgres|redis-server'
  # Log-in budgets for this run: wrk stops each log-in run with 16 log-ins
  # in flight, whose attempts stay counted (a client that hangs up gets
  # none back), all from one address, and an account now and then has two
  # in flight. These budgets hold that for every run, and no more: a
  # success that stopped being given back still shows as 429s at once.
  env LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="127.0.0.1:$port" \
    LATCHKEY_SECRET="bench-secret-bench-secret-bench-secret-bench-secret" RUST_LOG=warn \
    SIGNUPS_PER_HOUR_PER_IP=1000000 METRICS_ADDR=off "$@" \
    LOGIN_FREE_ATTEMPTS=$(( 3 * (rounds + 2) )) LOGIN_FREE_ATTEMPTS_PER_IP=$(( 32 * (rounds + 2) )) \
    "$bin" >"/tmp/latchkey-bench-$name.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  local idle; idle=$(rss)
  # Sixteen users: the log-in run spreads over them (bench/login.lua).
  for i in $(seq 0 15); do
    curl -sf -o "/tmp/latchkey-bench-$i.json" -H 'Content-Type: application/json' "$base/api/v1/auth/signup" \
      -d "{\"email\":\"bench$i@example.com\",\"username\":\"bench$i\",\"password\":\"correct horse battery staple\"}"
  done
  local token
  token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' /tmp/latchkey-bench-0.json)

  say "$name: GET /healthz, 64 connections"
  read -r "health_rps_$name" "health_p50_$name" "health_p99_$name" "health_bad_$name" \
    < <(measure -c64 -d"$duration" "$base/healthz")
  say "$name: GET /api/v1/me, 64 connections"
  read -r "me_rps_$name" "me_p50_$name" "me_p99_$name" "me_bad_$name" \
    < <(measure -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/api/v1/me")
  local after_me; after_me=$(settled_rss)
  reset_peak
  say "$name: POST /api/v1/auth/login, 16 connections, in $rounds rounds of ${round}s between readings of the raw argon2id hash rate"
  local i before after ceiling rps p50 p99 bad hashes=0 logins=0 bads=0 p50s=() p99s=() pairs=()
  cpu=()
  before=$(hash_rate)
  for i in $(seq "$rounds"); do
    cpu_snapshot > "$cpu_file.0"
    read -r rps p50 p99 bad < <(measure -c16 -d"${round}s" -s bench/login.lua "$base/api/v1/auth/login")
    cpu_snapshot > "$cpu_file.1"
    cpu_count "$cpu_file.0" "$cpu_file.1"
    [[ $rps -gt 0 && -n $p99 ]] || { echo "log-in round $i measured nothing (is the server up?)" >&2; exit 1; }
    after=$(hash_rate)
    ceiling=$(awk -v a="$before" -v b="$after" 'BEGIN {print (a + b) / 2}')
    hashes=$(awk -v a="$hashes" -v b="$ceiling" 'BEGIN {print a + b}')
    logins=$(( logins + rps )); bads=$(( bads + bad ))
    p50s+=("$p50"); p99s+=("$p99"); pairs+=("$rps/$ceiling")
    before=$after
  done
  local after_login; after_login=$(settled_rss)
  local login_peak; login_peak=$(peak)
  # Equal rounds: the mean of the rates is the ratio of the sums. A round's
  # percentiles cannot be merged: the middle p50 and the worst p99.
  printf -v "login_rps_$name" '%s' "$(( logins / rounds ))"
  printf -v "login_p50_$name" '%s' "$(by_time "${p50s[@]}" | sed -n "$(( (rounds + 1) / 2 ))p")"
  printf -v "login_p99_$name" '%s' "$(by_time "${p99s[@]}" | tail -1)"
  printf -v "login_bad_$name" '%s' "$bads"
  printf -v "hash_rate_$name" '%s' "$(awk -v h="$hashes" -v n="$rounds" 'BEGIN {printf "%.0f", h / n}')"
  printf -v "rounds_$name" '%s' "${pairs[*]}"
  printf -v "login_share_$name" '%s' "$(pct "$logins" "$hashes")"
  printf -v "login_cpu_$name" '%s' "$(cpu_split)"
  say "$name: SSR GET /login, 64 connections"
  read -r "ssr_rps_$name" "ssr_p50_$name" "ssr_p99_$name" "ssr_bad_$name" \
    < <(measure -c64 -d"$duration" "$base/login")
  say "$name: GET /api/v1/me while log-ins saturate the hash pool"
  wrk -t1 -c16 -d"$duration" -s bench/login.lua "$base/api/v1/auth/login" >/dev/null &
  local flood=$!
  sleep 1
  read -r "mix_rps_$name" "mix_p50_$name" "mix_p99_$name" "mix_bad_$name" \
    < <(measure -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/api/v1/me")
  wait $flood
  printf -v "rss_$name" '%s / %s / %s / %s MiB (peak during the log-ins: %s MiB)' \
    "$idle" "$after_me" "$after_login" "$(settled_rss)" "$login_peak"
  printf -v "rss_login_$name" '%s' "$after_login"

  if [ "$name" = sqlite ]; then first_visit; fi
  stop
}

# What a first visit to /login downloads, as a browser asking for brotli
# gets it: the page, then every /pkg file it links.
first_visit() {
  local page=/tmp/latchkey-bench-login.html
  curl -s -H 'Accept-Encoding: br, gzip' -o "$page" "$base/login"
  visit_html=$(stat -c %s "$page")
  visit_assets=0
  for asset in $(grep -oE '/pkg/[A-Za-z0-9_.-]+\.(js|wasm|css)' "$page" | sort -u); do
    visit_assets=$(( visit_assets + $(curl -s -H 'Accept-Encoding: br, gzip' "$base$asset" | wc -c) ))
  done
  visit_total=$(( (visit_html + visit_assets) / 1024 ))
}

deployment sqlite DATABASE_URL="sqlite://$sqlite_file"
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
deployment pg DATABASE_URL="${pg_admin%/*}/$db" REDIS_URL="redis://127.0.0.1:6379" REDIS_PREFIX="latchkey-bench-$$:"

# Every file of the build, raw / gzip -9 / brotli (as served): the main
# module, the JS glue, the stylesheet and each on-demand screen's chunk; the
# small shared chunks (chunk_N) the splitter makes are summed on one line.
size_of() { # files...: raw gzip brotli in KiB
  local raw=0 gz=0 br=0 f
  for f in "$@"; do
    raw=$(( raw + $(stat -c %s "$f") ))
    gz=$(( gz + $(gzip -9 -c "$f" | wc -c) ))
    br=$(( br + $(stat -c %s "$f.br" 2>/dev/null || echo 0) ))
  done
  echo "$(( raw / 1024 )) / $(( gz / 1024 )) / $(( br / 1024 )) KiB"
}
chunks() {
  local pkg="$root/target/site/pkg" f shared=()
  for f in "$pkg"/*.{wasm,js,css}; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in
      chunk_*) shared+=("$f") ;;
      *) printf '| %s | %s |\n' "$(basename "$f" | sed -E 's/_[0-9]{6,}\././; s/\.[A-Za-z0-9_-]{22}\./.…./')" "$(size_of "$f")" ;;
    esac
  done
  [ ${#shared[@]} -eq 0 ] || printf '| %s shared chunks (chunk_N.….wasm), together | %s |\n' "${#shared[@]}" "$(size_of "${shared[@]}")"
}

row() { # label, metric
  local m="$1"
  for d in sqlite pg; do
    local r="${m}_rps_$d" p50="${m}_p50_$d" p99="${m}_p99_$d" bad="${m}_bad_$d"
    printf ' %s req/s, p50 %s, p99 %s%s |' "${!r}" "${!p50}" "${!p99}" "$( [ "${!bad}" = 0 ] || echo ", ${!bad} non-2xx")"
  done
}

cat <<TABLE

| measurement ($(nproc) cores, wrk -t2, $duration each; log-ins in rounds) | SQLite + in-process | PostgreSQL + Redis | target |
|---|---|---|---|
| GET /healthz, 64 conns |$(row health) |
| GET /api/v1/me, 64 conns |$(row me) ≥ 65 % / ≥ 50 % of /healthz, p99 ≤ 5 / 8 ms |
| … as a share of /healthz | $(pct "$me_rps_sqlite" "$health_rps_sqlite") | $(pct "$me_rps_pg" "$health_rps_pg") | |
| POST /api/v1/auth/login, 16 conns, 16 users ($rounds rounds of ${round}s: middle p50, worst p99) |$(row login) |
| … as a share of the raw hash rate (\`server hash-rate\` for ${round}s before and after each round; log-ins/hashes per second by round: $rounds_sqlite; $rounds_pg) | $login_share_sqlite ($hash_rate_sqlite/s) | $login_share_pg ($hash_rate_pg/s) | ≥ 92 % |
| … where the CPU went during those rounds: hashing / rest of the server / database / Redis / wrk, kernel and idle | $login_cpu_sqlite | $login_cpu_pg | |
| SSR GET /login, 64 conns |$(row ssr) |
| GET /api/v1/me while log-ins saturate the hash pool |$(row mix) |
| RSS idle / after /me / after log-ins / after both (2 s after each flood) | $rss_sqlite | $rss_pg | ≤ 80 MiB after log-ins |

| what a visitor downloads | size |
|---|---|
| first visit to /login, all on the wire (brotli) | $visit_total KiB (page $(( visit_html / 1024 )) KiB) |

| file under /pkg (first visit loads the page's links) | raw / gzip -9 / brotli |
|---|---|
$(chunks)
TABLE

[ "${PEERS:-1}" = 0 ] && exit 0
say "FastAPI-Users 15 (SQLite, argon2id at the same cost, uvicorn --workers 2)"
declare -A peer
while read -r key rest; do peer[$key]="$rest"; done < <(PEER_PORT=3300 DURATION="$duration" bash bench/peers/fastapi_users.sh)
read -r p_me_rps p_me_p50 p_me_p99 _ <<< "${peer[me]}"
read -r p_login_rps p_login_p50 p_login_p99 _ <<< "${peer[login]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f×", (b > 0 ? a / b : 0)}'; }
cat <<TABLE

| same machine, same wrk settings | Latchkey (SQLite) | FastAPI-Users 15 (SQLite) | Latchkey ÷ FastAPI-Users |
|---|---|---|---|
| GET current user, 64 conns | $me_rps_sqlite req/s, p99 $me_p99_sqlite | $p_me_rps req/s, p99 $p_me_p99 | $(ratio "$me_rps_sqlite" "$p_me_rps") |
| JWT log-in, 16 conns | $login_rps_sqlite req/s, p99 $login_p99_sqlite | $p_login_rps req/s, p99 $p_login_p99 | $(ratio "$login_rps_sqlite" "$p_login_rps") |
| RSS 1–2 s after the log-ins | $rss_login_sqlite MiB | ${peer[rss]} MiB | |
TABLE
