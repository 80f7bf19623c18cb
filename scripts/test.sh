#!/bin/sh
# test.sh: the README's second command. Installs everything the tests need,
# then builds and runs the whole suite three times:
#   1. a normal build (RelWithDebInfo): every test, the PostgreSQL ones
#      against a private server started by scripts/with-postgres.sh;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: every test again, with
#      the portable fiber switch (swapcontext) instead of the assembly one;
#   3. ThreadSanitizer: the runtime, provider and multi-process tests.
# Build trees: build-test/, build-asan/, build-tsan/. Exits non-zero on the
# first failure.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh --test
jobs=$(nproc)

build() { # dir, extra cmake args...
    dir=$1
    shift
    cmake -S . -B "$dir" -DACTOR_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

# ctest run under one PostgreSQL server; --no-tests=error so an empty
# selection fails instead of passing.
run_ctest() { # dir, ctest args...
    dir=$1
    shift
    sh scripts/with-postgres.sh ctest --test-dir "$dir" --output-on-failure --no-tests=error \
        -j"$jobs" "$@"
}

echo "== normal build"
build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_ctest build-test

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
# (with the portable swapcontext() fiber switch; the others use assembly)
build build-asan -DCMAKE_BUILD_TYPE=Debug "-DACTOR_SANITIZER=address,undefined" \
    -DACTOR_FIBER_UCONTEXT=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build-asan -LE "bench|slow"

echo "== ThreadSanitizer"
build build-tsan -DCMAKE_BUILD_TYPE=Debug -DACTOR_SANITIZER=thread
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    run_ctest build-tsan -L "unit|provider|multiprocess"

echo "== all test runs passed"
