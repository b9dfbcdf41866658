#!/bin/sh
# Install the project into a temporary destdir, then build and run a small
# program out of tree using nothing but `pkg-config --cflags --libs liblingma`.
set -eu
builddir="$1"
srcfile="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$builddir" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pcfile=$(find "$tmp/root" -name liblingma.pc | head -n 1)
[ -n "$pcfile" ] || { echo "liblingma.pc was not installed" >&2; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pcfile")
PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
flags=$(pkg-config --cflags --libs liblingma)
echo "pkg-config: $flags"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer" "$srcfile" $flags
libdir=$(dirname "$(find "$tmp/root" -name 'liblingma.so.0' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$tmp/consumer"
