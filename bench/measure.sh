# Sourced by bench/run.sh and bench/peers/*.sh, so every server is
# measured and read alike.
# wrk's summary -> "req/s p50 p99 non-2xx": a run whose answers were not
# all 2xx measured something else (a 429 is fast), so it is shown.
measure() {
  wrk -t2 "$@" --latency | awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx or 3xx responses/ {bad=$NF}
    END {printf "%.0f %s %s %d\n", rps, p50, p99, bad}'
}
