#!/usr/bin/env bash
# `make asan-test`: builds partyd with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DPARTYD_SANITIZE=ON, the system compiler) into build-asan/, then runs under it every e2e
# suite (tests/e2e) and a connection churn (tests/asan/churn.mjs: 10,000 WebSockets connect, send
# and go away with messages in flight). The sanitizers write their reports to files
# (build-asan/sanitizer-reports/) and stop partyd; the run passes only when every suite passes,
# partyd exits cleanly after the churn, and there is no report file.
# V8 (Debian's libnode) is not instrumented; tests/asan/lsan.supp names what is suppressed in
# it and why (tests/asan/ubsan.supp too). Not part of `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${ASAN_BUILD:-build-asan}
JOBS=${JOBS:-$(nproc)}
START=$(date +%s)

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  # -O1 -g1: the usual ASan compromise, and much quicker to build than -O2 -g.
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DPARTYD_SANITIZE=ON >/dev/null || exit 1
fi
cmake --build "$BUILD" -j "$JOBS" --target partyd || exit 1

REPORTS=$ROOT/$BUILD/sanitizer-reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export ASAN_OPTIONS="log_path=$REPORTS/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/asan/lsan.supp:print_suppressions=0"
# A report stops partyd (ASan's default, and halt_on_error for UBSan), so the test that drove it
# fails even when the report did not reach a file; LSan's leak check at exit changes partyd's
# exit status, which the churn checks.
export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1:halt_on_error=1:suppressions=$ROOT/tests/asan/ubsan.supp"
export PARTYD=$ROOT/$BUILD/partyd TARGET=partyd
# The sanitized binary is slower: give start-up more time.
export READY_TIMEOUT_MS=60000

status=0
echo "asan-test: e2e suites"
(cd tests && node --test --test-reporter=spec e2e/) || status=1
echo "asan-test: connection churn"
(cd tests && node asan/churn.mjs) || status=1

if compgen -G "$REPORTS/*" >/dev/null; then
  echo "asan-test: sanitizer reports:"
  for f in "$REPORTS"/*; do
    echo "==== $f"
    head -60 "$f"
  done
  status=1
fi
echo "asan-test: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - START )) s"
exit $status
