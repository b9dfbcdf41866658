#!/bin/sh
# Run an example program against lingma-sim in a temp work dir and compare
# its stdout.  run-example.sh EXAMPLE SIM EXPECTED [STDIN|-] ARGS...
# EXPECTED "!fail" means: the example must exit non-zero.
set -eu
ex=$1 sim=$2 want=$3 input=$4
shift 4
dir=$(mktemp -d "${TMPDIR:-/tmp}/lingma-ex-XXXXXX")
trap 'rm -rf "$dir"' EXIT
status=0
if [ "$input" = "-" ]; then
    out=$(LINGMA_BIN="$sim" LINGMA_WORK_DIR="$dir" "$ex" "$@" </dev/null) || status=$?
else
    out=$(printf '%s' "$input" | LINGMA_BIN="$sim" LINGMA_WORK_DIR="$dir" "$ex" "$@") || status=$?
fi
if [ "$want" = "!fail" ]; then
    [ "$status" -ne 0 ] || { echo "expected a failure, got: $out" >&2; exit 1; }
    exit 0
fi
[ "$status" -eq 0 ] || { echo "exit status $status" >&2; exit 1; }
[ "$out" = "$want" ] || { echo "got: '$out' want: '$want'" >&2; exit 1; }
