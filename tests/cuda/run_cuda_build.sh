#!/usr/bin/env bash
# tests/cuda/run_cuda_build.sh ARCHC COMPARE FIXTURE_DIR WORK_DIR [archc flags…]
#
# The CUDA build of one fixture with nvcc (archc --target=cuda).  On a machine
# without a usable GPU (CI) the binary must refuse at once: exit status 1 and
# one line naming the problem, before reading any weight.  With a GPU the
# fixture's exactness test runs on it (tests/run_fixture.sh, --target=cuda).
# Exit 77 (skipped) when there is no nvcc.
set -euo pipefail
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${NVCC:-}" ] && ! command -v nvcc > /dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "skipped: no nvcc"; exit 77
fi
# one GPU architecture is enough to check that the .cu compiles (sm_90; ARCHC_CUDA_ARCH overrides)
export ARCHC_CUDA_ARCH=${ARCHC_CUDA_ARCH:-90}
mkdir -p "$WORK"
"$ARCHC" import "$FX/config.json" -o "$WORK/m.yaml"
"$ARCHC" "$WORK/m.yaml" -o "$WORK/m" --target=cuda "$@"
set +e
"$WORK/m" --weights /nonexistent-weights-dir --tokens 1,2,3 -n 2 > "$WORK/probe.out" 2> "$WORK/probe.err"
rc=$?
set -e
if grep -q "no usable CUDA device" "$WORK/probe.err"; then
  cat "$WORK/probe.err"
  [ "$rc" = 1 ] || { echo "FAIL: exit status $rc, expected 1"; exit 1; }
  [ "$(wc -l < "$WORK/probe.err")" = 1 ] || { echo "FAIL: expected one line on stderr"; exit 1; }
  [ ! -s "$WORK/probe.out" ] || { echo "FAIL: output on stdout"; exit 1; }
  echo "ok: built with nvcc; without a GPU the binary refuses at once"
  exit 0
fi
# a GPU: the weights directory was checked after the device, so that error is expected here
echo "a GPU is present: running the fixture on it"
exec bash "$HERE/../run_fixture.sh" "$ARCHC" "$COMPARE" "$FX" "$WORK/gpu" --target=cuda "$@"
