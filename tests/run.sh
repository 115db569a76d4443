#!/usr/bin/env bash
# Runs cmocka test programs one after another and prints one summary.
#   tests/run.sh BUILD_DIR TEST_BIN...
# Each program gets BUZZRADAR_BIN, BUZZRADAR_BUILD, BUZZRADAR_TOOLS and
# BUZZRADAR_SHARED_DATA (../shared/data when present) in its environment, and a
# time limit (TEST_TIMEOUT seconds, default 300). A program that crashes, times out
# or exits non-zero without a cmocka summary counts as one failed test.
# Exit status: 0 only when every test passed.
set -u
build=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
export BUZZRADAR_BUILD="$root/$build"
export BUZZRADAR_BIN="$root/$build/buzzradar"
export BUZZRADAR_TOOLS="$root/$build/tools"
export BUZZRADAR_ROOT="$root"
if [ -z "${BUZZRADAR_SHARED_DATA:-}" ] && [ -d "$root/../shared/data" ]; then
  export BUZZRADAR_SHARED_DATA=$(cd "$root/../shared/data" && pwd)
fi
export CMOCKA_MESSAGE_OUTPUT=stdout
timeout_s=${TEST_TIMEOUT:-300}

passed=0 failed=0 skipped=0 failed_names=()
logdir="$root/$build/test-logs"; mkdir -p "$logdir"
for t in "$@"; do
  name=$(basename "$t")
  log="$logdir/$name.log"
  start=$(date +%s.%N)
  timeout -k 10 "$timeout_s" "$t" >"$log" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p' "$log" | tail -1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0} f=${f:-0} s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    [ "$rc" -eq 124 ] && echo "  $name: timed out after ${timeout_s}s" >>"$log"
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$f" -gt 0 ]; then
    failed_names+=("$name")
    printf 'FAIL  %-40s %3d passed %3d failed  (%ss, exit %d)\n' "$name" "$p" "$f" "$secs" "$rc"
    sed 's/^/      | /' "$log" | tail -40
  else
    printf 'ok    %-40s %3d passed %3d skipped (%ss)\n' "$name" "$p" "$s" "$secs"
  fi
done
echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed programs: ${failed_names[*]} (logs in $logdir)"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
