/* Test helper: private temporary directories, removed recursively. */
#ifndef TESTS_TMPDIR_H
#define TESTS_TMPDIR_H

#include <stddef.h>

/* mkdtemp under $TMPDIR (else /tmp) named lingma-<tag>-XXXXXX. 0 or -1. */
int tmpdir_make(char *buf, size_t len, const char *tag);

/* rm -rf without a shell (nftw, depth first, symlinks not followed). Goes
 * on past an entry it cannot remove. 0, or -1 when anything was left. */
int tmpdir_remove(const char *path);

/* Writes `content` to dir/name (created 0600, truncated). 0 or -1. */
int tmpdir_write(const char *dir, const char *name, const char *content, unsigned mode);

/* Reads dir/name into a malloc'ed NUL-terminated string, or NULL. */
char *tmpdir_read(const char *dir, const char *name);

#endif
