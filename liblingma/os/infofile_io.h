/*
 * Internal: finding and reading Lingma's port file in a work dir (the
 * format and its parser: proto/infofile.h).
 */
#ifndef LINGMA_INTERNAL_INFOFILE_IO_H
#define LINGMA_INTERNAL_INFOFILE_IO_H

#include <stddef.h>

#include "infofile.h"

/**
 * Reads the port file of the Lingma running in `dir`: tries <dir>/.info, then
 * <dir>/.info.json; then, only when `legacy_home` is not NULL, the plugin's
 * legacy <legacy_home>/.lingma/.info. Pass the home directory only for a
 * single-instance pool (N=1), as the original gateway did: with N>1 a
 * shared legacy file would point every instance at the same process.
 *
 * The first file that exists decides: if it is malformed the result is an
 * error even when a later candidate exists (a half-written .info must not
 * send us to a stale legacy file). `out->source` tells which file was used.
 *
 * During start-up the caller polls: LINGMA_ENOTFOUND and LINGMA_EPROTO both
 * mean "not yet" until the start-up timeout, when the last detail message is
 * worth reporting. The pid in the file is informative; it may differ from
 * the pid we spawned when the binary is a wrapper.
 *
 * @return 0; LINGMA_ENOTFOUND (no candidate exists, or it is blank);
 *         LINGMA_EPROTO (malformed, or larger than LINGMA__INFO_MAX_BYTES);
 *         LINGMA_EIO (a candidate exists but cannot be read); LINGMA_EINVAL.
 */
int lingma__info_read(struct lingma__info *out, const char *dir, const char *legacy_home, char *err,
                      size_t errlen);

/**
 * Removes <dir>/.info and <dir>/.info.json (a stale file would otherwise
 * make a fresh start connect to a dead port). Missing files are fine.
 * @return 0 or LINGMA_EIO with a detail message.
 */
int lingma__info_remove(const char *dir, char *err, size_t errlen);

#endif
