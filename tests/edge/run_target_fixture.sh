#!/usr/bin/env bash
# tests/edge/run_target_fixture.sh TRIPLE RUNNER ARCHC COMPARE FIXTURE_DIR WORK_DIR [archc flags…]
#
# A fixture's exactness test (tests/run_fixture.sh) on a --target=TRIPLE build,
# run through RUNNER ("qemu-aarch64 -cpu max", "env ARCHC_ISA=x86-64", or "").
# Exits 77 (skipped) when this machine cannot build or run for TRIPLE: an
# AArch64 build needs Debian's cross C library (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross) and qemu-user to run.
set -euo pipefail
TRIPLE=$1; RUNNER=$2; shift 2
case $TRIPLE in
  aarch64-*)
    if [ "$(uname -m)" != aarch64 ]; then
      command -v aarch64-linux-gnu-gcc >/dev/null || { echo "skip: no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu)"; exit 77; }
      command -v "${RUNNER%% *}" >/dev/null || { echo "skip: no ${RUNNER%% *} (apt-get install qemu-user)"; exit 77; }
    fi ;;
  x86_64-*)
    [ "$(uname -m)" = x86_64 ] || { echo "skip: not an x86-64 machine"; exit 77; } ;;
esac
ARCHC=$1; COMPARE=$2; FX=$3; WORK=$4; shift 4
ARCHC_TEST_RUNNER=$RUNNER exec bash "$(dirname "$0")/../run_fixture.sh" "$ARCHC" "$COMPARE" "$FX" "$WORK" --target="$TRIPLE" "$@"
