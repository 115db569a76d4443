#!/usr/bin/env bash
# demo.sh — the demo behind `make run`: a redis-server, the worker in embedded mode
# (its own in-process Kafka-protocol cluster), the Air Paradis demo stream replayed
# into tweets.raw, and the live view of scored tweets and alerts.
#
#   scripts/demo.sh [BUILD_DIR]        (default: build; make run passes it)
#
# Environment:
#   DEMO_DATA=PATH   tweets to replay, one JSON tweet per line (default scripts/demo/airparadis.jsonl)
#   DEMO_SPEED=N     replay N times faster than the tweets' created_at spacing (default 300:
#                    a day of tweets in about two minutes)
#   DEMO_KEEP=1      keep the temporary directory (logs) after the demo
#   NO_COLOR=1       no colours in the live view
#
# Everything it starts (redis-server, the worker, the replay, kcat) lives in one
# temporary directory and is stopped by PID on Ctrl-C, on any error and at the end:
# nothing is left running and nothing is written outside that directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/buzzradar"
data=${DEMO_DATA:-$root/scripts/demo/airparadis.jsonl}
speed=${DEMO_SPEED:-300}

say() { printf 'demo: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

[ -x "$bin" ] || die "$bin not found: run 'make' first"
[ -r "$data" ] || die "no demo data at $data"
for tool in redis-server redis-cli kcat; do
  command -v "$tool" >/dev/null || die "'$tool' is missing: run 'make deps'"
done
if ! [[ "$speed" =~ ^[0-9]+([.][0-9]+)?$ ]] || [ "$speed" = 0 ]; then
  die "DEMO_SPEED must be a positive number"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/buzzradar-demo.XXXXXX")
redis_pid="" worker_pid="" kcat_pid="" replay_pid=""

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop PID NAME GRACE_SECONDS [group]: SIGTERM, wait up to GRACE for it to exit, then
# SIGKILL. With "group" (a process started by setsid, leader of its own group), anything
# it left behind in its group is killed too, before the leader is reaped (so that the
# group id cannot have been reused).
stop() {
  local pid=$1 name=$2 grace=$3 group=${4:-} i
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      say "$name did not stop within ${grace}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if [ "$group" = group ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  set +e           # clean up as much as possible, whatever fails
  trap '' INT TERM # a second Ctrl-C must not interrupt the clean-up
  stop "$replay_pid" "the replay" 2
  stop "$kcat_pid" "kcat" 5 group
  stop "$worker_pid" "the worker" 15 group
  if [ -n "$redis_pid" ] && alive "$redis_pid"; then
    local preds cached
    preds=$(redis-cli -s "$tmp/redis.sock" --scan --pattern 'bz:pred:*' 2>/dev/null | wc -l) || preds=0
    cached=$(redis-cli -s "$tmp/redis.sock" --scan --pattern 'bz:cache:*' 2>/dev/null | wc -l) || cached=0
    say "Redis held $preds predictions (bz:pred:*) and $cached cached scores (bz:cache:*)"
  fi
  stop "$redis_pid" "redis-server" 5 group
  if [ "${DEMO_KEEP:-0}" = 1 ]; then
    say "logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  say "stopped everything"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show_log FILE: the last lines of a log, when something went wrong.
show_log() {
  [ -s "$1" ] || return 0
  say "last lines of $(basename "$1"):"
  tail -n 20 "$1" | sed 's/^/  | /' >&2
}

# ---- Redis, on a unix socket in the temporary directory --------------------------------
# setsid: the servers do not share the terminal's process group, so Ctrl-C reaches only
# this script and the live view, and the clean-up stops them in order.
setsid redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 \
  --save '' --appendonly no --daemonize no --dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!
for ((i = 0; i < 100; i++)); do
  [ "$(redis-cli -s "$tmp/redis.sock" ping 2>/dev/null)" = PONG ] && break
  alive "$redis_pid" || { show_log "$tmp/redis.log"; die "redis-server exited at start-up"; }
  sleep 0.1
done
[ "$(redis-cli -s "$tmp/redis.sock" ping 2>/dev/null)" = PONG ] || die "redis-server did not answer"
say "redis-server ready on unix://$tmp/redis.sock (pid $redis_pid)"

# ---- yesterday, as the monitor would have left it in Redis -----------------------------
# The alert rules compare the last 5 minutes with baselines folded from per-minute
# buckets (docs/alerts.md) and stay quiet until those hold 30 minutes of traffic; the
# replay lasts two minutes, so the demo starts from a day of earlier traffic: 30 tweets
# a minute shaped like the demo's normal stretch as the shipped model scores it (31%
# negative, mean P(positive) 0.64, mean confidence 0.81, 14.7 tokens a tweet, 3% of
# them unknown), ending 6 minutes ago. The bad buzz then raises negative_surge;
# the normal stretch alone raises nothing.
seed_history() {
  local now_min m
  now_min=$(($(date +%s) / 60))
  for ((m = now_min - 6 - 1500; m < now_min - 6; m++)); do
    printf 'HSET bz:win:{vol}:m:%d n 30 neg 9 p 19100000 c 24450000 tok 442 oov 13 err 0\n' "$m"
  done | redis-cli -s "$tmp/redis.sock" >/dev/null
}
seed_history || die "cannot write the monitor's history into Redis"
say "Redis holds a day of earlier traffic for the monitor's baselines"

# ---- the worker, with its embedded Kafka-protocol cluster ------------------------------
# Alerts are evaluated every 2 s (5 s by default) so that the live view shows them soon.
worker_args=(run --embedded --redis "unix://$tmp/redis.sock" --log-format text
  --monitor eval_interval_ms=2000)
if "$bin" run --help 2>&1 | grep -q -- '--bootstrap-file'; then
  worker_args+=(--bootstrap-file "$tmp/bootstrap")
fi
setsid "$bin" "${worker_args[@]}" >"$tmp/worker.log" 2>&1 </dev/null &
worker_pid=$!

# The bootstrap address: from --bootstrap-file, else the worker's "bootstrap: HOST:PORT,..." line.
bootstrap=""
for ((i = 0; i < 300; i++)); do
  if [ -s "$tmp/bootstrap" ]; then
    bootstrap=$(head -n 1 "$tmp/bootstrap")
  else
    bootstrap=$(sed -n -E 's/.*bootstrap[^0-9A-Za-z]*([A-Za-z0-9._-]+:[0-9]+(,[A-Za-z0-9._-]+:[0-9]+)*).*/\1/p' \
      "$tmp/worker.log" | head -n 1)
  fi
  [ -n "$bootstrap" ] && break
  if ! alive "$worker_pid"; then
    show_log "$tmp/worker.log"
    die "the worker exited before its cluster was ready"
  fi
  sleep 0.1
done
[ -n "$bootstrap" ] || { show_log "$tmp/worker.log"; die "no bootstrap address from the worker after 30 s"; }
say "worker running (pid $worker_pid), embedded cluster at $bootstrap"

# ---- the replay: the demo stream into tweets.raw at DEMO_SPEED -------------------------
# Delays come from the created_at spacing of consecutive tweets (one `date` call for all),
# divided by the speed, kept between 0.02 s and 3 s so the view stays readable.
grep -o '"created_at":"[^"]*"' "$data" | cut -d'"' -f4 | date -u -f - +%s.%N >"$tmp/times" ||
  die "cannot read the created_at times of $data"
[ "$(wc -l <"$tmp/times")" = "$(grep -c . "$data")" ] || die "every line of $data needs a created_at"
awk -v speed="$speed" 'NR == 1 { print "0.5" } # the first tweet after a short pause
  NR > 1 { d = ($1 - prev) / speed; if (d < 0.02) d = 0.02; if (d > 3) d = 3; printf "%.3f\n", d }
  { prev = $1 }' "$tmp/times" >"$tmp/delays"

replay() {
  local line delay n=0 pause_fd
  exec {pause_fd}<> <(:) # `read -t` on a silent pipe: a sleep without a child process
  while IFS= read -r line && IFS= read -r delay <&3; do
    read -r -t "$delay" -u "$pause_fd" _ || true
    printf '%s\n' "$line"
    n=$((n + 1))
  done <"$data" 3<"$tmp/delays"
  say "replay finished: $n tweets sent to tweets.raw (Ctrl-C to stop)"
}
mkfifo "$tmp/replay.fifo"
setsid kcat -P -b "$bootstrap" -t tweets.raw -X linger.ms=5 <"$tmp/replay.fifo" 2>"$tmp/kcat.log" &
kcat_pid=$!
replay >"$tmp/replay.fifo" &
replay_pid=$!
say "replaying $(grep -c . "$data") Air Paradis tweets (x$speed); Ctrl-C stops everything"

# ---- the live view, in the foreground (from the beginning: this cluster is new) --------
rc=0
"$bin" tail --brokers "$bootstrap" --from-beginning || rc=$?
if [ "$rc" != 0 ]; then
  show_log "$tmp/worker.log"
  exit "$rc"
fi
