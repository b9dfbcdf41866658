#!/bin/sh
# Every dynamic symbol the shared library defines must be lingma_*.
# The version-node symbol (LINGMA_0.1) that GNU ld adds is ignored.
set -eu
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^lingma_' | grep -v '^LINGMA_[0-9.]*$' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^lingma_' || true)
if [ -n "$bad" ]; then
    echo "unexpected exported symbols:" >&2
    echo "$bad" >&2
    exit 1
fi
if [ "$count" -lt 3 ]; then
    echo "only $count lingma_ symbols exported" >&2
    exit 1
fi
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
case "$soname" in
liblingma.so.0) ;;
*) echo "unexpected SONAME '$soname'" >&2; exit 1 ;;
esac
echo "ok: $count lingma_ symbols, SONAME $soname"
