#!/usr/bin/env bash
# OpenAI SDK conformance: install the pinned SDK (npm ci, once per lock
# file) into the build dir, start lingma-gatewayd on lingma-sim, run
# TEST_FILE (default sdk.test.mjs) with node --test, stop the daemon by pid.
#
# Usage: run-sdk.sh SRC_DIR BUILD_DIR GATEWAYD_BIN SIM_BIN [TEST_FILE]
# Exit 77 (skip) when node >= 18 or npm is missing, or npm ci cannot fetch
# the package (offline).
set -uo pipefail

src=$1 out=$2/sdk gw=$3 sim=$4 tests=${5:-sdk.test.mjs}
# shellcheck source=../common/gwd-node.sh
. "$src/../common/gwd-node.sh"

node_ready
npm_install "$out" "$src/package.json" "$src/package-lock.json" "$src/$tests" \
  "$src/../common/sdk-harness.mjs"

key=sk-sdk-test-key
gwd_up "$gw" "$sim" "$key" GATEWAY_MAX_IN_FLIGHT=1 GATEWAY_MAX_QUEUE=0

cd "$out"
GW_URL="$GWD_URL" GW_KEY="$key" GW_WORK_DIR="$GWD_WORK" LINGMA_SIM_BIN="$sim" \
  node --test --test-reporter=spec "$tests"
rc=$?
# The daemon must also stop cleanly (exit 0: no sanitizer report, no leak).
gw_rc=0
gwd_down || gw_rc=$?
if [ $gw_rc -ne 0 ]; then
  echo "lingma-gatewayd exited with status $gw_rc"
  rc=1
fi
[ $rc -eq 0 ] && rm -f "$GWD_LOG" || { echo "daemon log: $GWD_LOG"; tail -n 40 "$GWD_LOG"; }
exit $rc
