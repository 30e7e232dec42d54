#!/usr/bin/env bash
# Build archc (Release) and run the whole test suite with ctest.
# Needs: cmake, a C11 compiler, libyaml-dev (apt-get install cmake gcc libyaml-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2
