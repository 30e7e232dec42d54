#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [NAME...] — build the libFuzzer harnesses
# tests/fuzz/fuzz_NAME.c with clang (-fsanitize=fuzzer,address,undefined) and
# fuzz each for SECONDS (default 60) on its corpus tests/fuzz/corpus/NAME/.
#
#   bash tools/fuzz.sh                 # every harness, 60 s each, one after another
#   bash tools/fuzz.sh 600 json        # one harness for 10 minutes
#   FUZZ_RUNS=10000000 bash tools/fuzz.sh 0 tiktoken   # a fixed number of executions instead
#   bash tools/fuzz.sh --save 60 json  # also merge new coverage into tests/fuzz/corpus/json (-merge=1)
#
# New interesting inputs go to a scratch directory ($FUZZ_WORK, default
# build-fuzz/work/NAME/new), never into tests/ unless --save is given.  Crash,
# leak, timeout and OOM reproducers are written to build-fuzz/work/NAME/crashes/
# and named in the summary; the exit status is non-zero if any harness found
# something.  Each harness prints: executions, exec/s, corpus growth, findings.
# Harnesses that include the compiler's headers (spec.h, ir.h, passes.h,
# codegen.h) link libarchc_core.a + libarchc_rt.a + libyaml; the others only the
# runtime.  Options for libFuzzer can be added with FUZZ_FLAGS="-max_len=4096 …".
# The fuzzers run under `nice -n 10`, one at a time (FUZZ_JOBS is not used).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAVE=0
if [ "${1:-}" = "--save" ]; then SAVE=1; shift; fi
SECS=${1:-60}; [ $# -gt 0 ] && shift
CLANG=${CLANG:-clang}
B=$ROOT/build-fuzz
WORK=${FUZZ_WORK:-$B/work}
command -v "$CLANG" > /dev/null || { echo "fuzz.sh: $CLANG not found (apt-get install clang)"; exit 2; }

NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then
  for f in "$ROOT"/tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); NAMES+=("${n#fuzz_}"); done
fi

mkdir -p "$B"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
# the libraries, instrumented for coverage (fuzzer-no-link) and sanitizers
cmake -S "$ROOT" -B "$B" -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $SAN" > "$B/cmake.log" 2>&1 || { cat "$B/cmake.log"; exit 2; }
cmake --build "$B" -j2 --target archc_rt archc_core > "$B/build.log" 2>&1 || { tail -30 "$B/build.log"; exit 2; }

INC="-I$ROOT/runtime -I$ROOT/frontend -I$ROOT/ir -I$ROOT/passes -I$ROOT/codegen -I$ROOT/tests/fuzz"
mkdir -p "$B/fuzz"
found=0
for name in "${NAMES[@]}"; do
  src=$ROOT/tests/fuzz/fuzz_$name.c
  [ -f "$src" ] || { echo "fuzz $name: no $src"; found=1; continue; }
  libs="$B/libarchc_rt.a -lm -lpthread"
  if grep -qE '#include "(spec|ir|passes|codegen)\.h"' "$src"; then libs="$B/libarchc_core.a $B/libarchc_rt.a -lyaml -lm -lpthread"; fi
  bin=$B/fuzz/fuzz_$name
  # shellcheck disable=SC2086
  "$CLANG" -O1 -fsanitize=fuzzer $SAN -D_DEFAULT_SOURCE $INC "$src" $libs -o "$bin" || { echo "fuzz $name: build failed"; found=1; continue; }
  corpus=$ROOT/tests/fuzz/corpus/$name
  mkdir -p "$corpus" "$WORK/$name/new" "$WORK/$name/crashes"
  before=$(ls "$WORK/$name/new" | wc -l)
  crashes_before=$(ls "$WORK/$name/crashes" | wc -l)
  log=$WORK/$name/fuzz.log
  limit=(-max_total_time="$SECS")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  t0=$(date +%s)
  # shellcheck disable=SC2086
  nice -n 10 "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$WORK/$name/crashes/" ${FUZZ_FLAGS:-} "$WORK/$name/new" "$corpus" > "$log" 2>&1 || true
  t1=$(date +%s)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  after=$(ls "$WORK/$name/new" | wc -l)
  new_crashes=$(ls -t "$WORK/$name/crashes" | head -n $(( $(ls "$WORK/$name/crashes" | wc -l) - crashes_before )) )
  if [ -n "$new_crashes" ]; then
    found=1
    echo "fuzz $name: ${runs:-?} executions in $((t1 - t0)) s (${eps:-?} exec/s), FOUND:"
    for c in $new_crashes; do echo "  $WORK/$name/crashes/$c   (reproduce: $bin $WORK/$name/crashes/$c)"; done
    grep -m3 -E 'ERROR: |runtime error:|SUMMARY:' "$log" | sed 's/^/  /'
  else
    echo "fuzz $name: ${runs:-?} executions in $((t1 - t0)) s (${eps:-?} exec/s), $((after - before)) new corpus inputs, nothing found (log: $log)"
  fi
  if [ $SAVE -eq 1 ]; then
    nice -n 10 "$bin" -merge=1 "$corpus" "$WORK/$name/new" > "$WORK/$name/merge.log" 2>&1 || true
    echo "fuzz $name: corpus now $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KB"
  fi
done
exit $found
