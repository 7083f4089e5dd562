#!/usr/bin/env bash
# `make fuzz`: installs clang and libFuzzer if missing, builds every target of fuzz/CMakeLists.txt
# into build-fuzz/ with clang++, and runs each for FUZZ_SECONDS (default 60). Seeds are read from
# fuzz/corpus/<target>/ and never written; what a run learns goes to build-fuzz/corpus/<target>/
# (kept between runs) and crashing inputs to build-fuzz/crashes/. Prints the executions per
# target and fails if any target crashed. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_PKGS=(clang libclang-rt-14-dev cmake make libboost1.81-dev libboost-json1.81-dev
  libboost-url1.81-dev)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S fuzz -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS"

# target → the longest input worth trying, and its dictionary.
declare -A MAX_LEN=([ws_frame_fuzz]=4096 [ws_server_frame_fuzz]=4096 [http_request_fuzz]=8192
  [json5_config_fuzz]=4096 [cron_fuzz]=256)
declare -A DICT=([ws_frame_fuzz]=ws_frame [ws_server_frame_fuzz]=ws_frame [http_request_fuzz]=http
  [json5_config_fuzz]=json5 [cron_fuzz]=cron)
TARGETS=(ws_frame_fuzz ws_server_frame_fuzz http_request_fuzz json5_config_fuzz cron_fuzz)

mkdir -p "$BUILD/crashes"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  log="$BUILD/$t.log"
  echo "fuzz: $t for ${SECONDS_EACH}s"
  status=0
  "./$BUILD/$t" -max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN[$t]}" -timeout=10 \
    -dict="fuzz/${DICT[$t]}.dict" -artifact_prefix="$BUILD/crashes/$t-" -print_final_stats=1 \
    "$BUILD/corpus/$t" "${seeds[@]}" >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  corpus=$(ls "$BUILD/corpus/$t" | wc -l)
  line=$(printf '%-22s %12s executions in %ss, corpus %s' "$t" "${runs:-?}" "$SECONDS_EACH" "$corpus")
  if [ "$status" != 0 ]; then
    line="$line: CRASH (exit $status), see $log"
    failed+=("$t")
    grep -E "ERROR: |check failed|runtime error|mismatch|Test unit written" "$log" | head -5 || true
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz: summary (${SECONDS_EACH}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]} (inputs in $ROOT/$BUILD/crashes/)" >&2
  exit 1
fi
