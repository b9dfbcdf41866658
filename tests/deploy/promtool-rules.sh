#!/bin/sh
# deploy/prometheus: `promtool check rules` and `promtool test rules`.
# Usage: promtool-rules.sh <source root>
# Exit 77 (meson: skipped) when promtool is not installed; scripts/test
# installs Debian's `prometheus` package, which ships it.
set -eu
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found: skipping" >&2
    exit 77
fi
dir="$1/deploy/prometheus"
promtool check rules "$dir/lingma-gatewayd.rules.yml"
promtool test rules "$dir/lingma-gatewayd.rules.test.yml"
