#!/bin/sh
# Lint the gateway's /metrics text with Prometheus' own checker.
# Usage: gw-promtool-check.sh <gw-metrics-sample binary>
# Exit 77 (meson: skipped) when promtool is not installed; scripts/test
# installs Debian's `prometheus` package, which ships it.
set -eu
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found: skipping" >&2
    exit 77
fi
out=$("$1")
printf '%s\n' "$out" | promtool check metrics
