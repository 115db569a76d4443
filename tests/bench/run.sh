#!/usr/bin/env bash
# Runs the benchmark programs and records what they print, with the machine they
# ran on.   tests/bench/run.sh BUILD_DIR        (`make bench` calls it)
#
# Prints a Markdown header (date, CPU, cores, memory, load, kernel, compiler and
# library versions, the exact command), then runs BUILD_DIR/bench/bench_sgemm
# first and every other BUILD_DIR/bench/bench_* in name order. Everything is also
# written to BUILD_DIR/bench/results.md. Benchmarks that need ../shared/data get
# BUZZRADAR_SHARED_DATA (when the folder exists) and print a "skipped" line
# without it. Exit status: non-zero when a benchmark program fails.
set -u
if [ $# -ne 1 ]; then
  echo "usage: tests/bench/run.sh BUILD_DIR" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
case "$build" in /*) ;; *) build="$root/$build" ;; esac
benchdir="$build/bench"
results="$benchdir/results.md"
if [ -z "${BUZZRADAR_SHARED_DATA:-}" ] && [ -d "$root/../shared/data" ]; then
  export BUZZRADAR_SHARED_DATA=$(cd "$root/../shared/data" && pwd)
fi
mkdir -p "$benchdir"

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

header() {
  echo "# buzzradar benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "- cores: $(nproc) online ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p' | head -1) thread(s) per core)"
  echo "- memory: $(free -h 2>/dev/null | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: numbers vary)"
  echo "- kernel: $(uname -srm)"
  echo "- compiler: $(${CC:-cc} --version 2>/dev/null | head -1)"
  echo "- librdkafka $(pkgver librdkafka1), openblas $(pkgver libopenblas0-pthread), hiredis $(pkgver libhiredis0.14), libstemmer $(pkgver libstemmer0d), zlib $(pkgver zlib1g)"
  echo "- git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- data: ${BUZZRADAR_SHARED_DATA:-not available}"
  echo "- command: \`tests/bench/run.sh $1\` (from \`make bench\`)"
  echo
}

run_all() {
  local failed=0 b
  local order=()
  [ -x "$benchdir/bench_sgemm" ] && order+=("$benchdir/bench_sgemm")
  for b in "$benchdir"/bench_*; do
    [ -x "$b" ] && [ "$(basename "$b")" != bench_sgemm ] && order+=("$b")
  done
  if [ ${#order[@]} -eq 0 ]; then
    echo "- no benchmark programs in $benchdir (run \`make bench\`)"
    return 1
  fi
  for b in "${order[@]}"; do
    echo "## $(basename "$b")"
    echo
    local start rc
    start=$(date +%s.%N)
    "$b"
    rc=$?
    echo "_$(basename "$b"): $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s, exit ${rc}_"
    echo
    [ $rc -ne 0 ] && failed=1
  done
  return $failed
}

{
  header "$1"
  run_all
  echo "exit=$?" >"$benchdir/.status"
} 2>&1 | tee "$results"
status=$(sed -n 's/^exit=//p' "$benchdir/.status" 2>/dev/null)
rm -f "$benchdir/.status"
echo "(written to $results)"
exit "${status:-1}"
