#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds hallwatch twice (a normal
# build and an ASan+UBSan build) and runs every unit and integration test in both,
# then builds the libFuzzer targets with clang and runs each for a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
t0=$(date +%s)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHW_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHW_SANITIZE=ON -DHW_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"

# The libFuzzer targets (clang), each run briefly over its seed corpus: docs/fuzzing.md.
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DHW_FUZZ=ON \
	-DHW_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs"

echo "hallwatch: all tests passed in $(( $(date +%s) - t0 )) s (normal, sanitizer and fuzz builds)"
