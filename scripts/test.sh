#!/usr/bin/env bash
# Set-up (missing Debian packages), a Debug build with ASan+UBSan, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh debug
# LeakSanitizer cannot follow the Vulkan and dlib libraries' own caches; ASan and UBSan stay on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-debug
ctest --output-on-failure -j"$(nproc)" --timeout 900
