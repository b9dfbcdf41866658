/*
 * Internal: Lingma's port file, pure parsing (reading it: os/infofile_io.h).
 *
 * Lingma writes its WebSocket port to <workDir>/.info in one of these forms
 * (see lingma-protocol.md section 1.3):
 *
 *   "36510\n14060\n"                     2 lines: port, pid
 *   "36510\n14060\n\\\\.\\pipe\\lingma-x\n" 3 lines: port, pid, IPC path
 *   {"websocketPort":36510,"pid":14060,"ipcServerPath":"...","isDev":false}
 *                                        .info.json (newer builds)
 *
 * Text rules: lines end with "\n" or "\r\n"; every line is trimmed of ASCII
 * whitespace and blank lines are skipped; then there must be exactly 2 or 3
 * lines. Port and pid are plain decimal digits (no sign, no suffix), port in
 * 1..65535, pid in 1..INT_MAX. The IPC path is kept verbatim (after trimming)
 * and must not contain control characters.
 *
 * JSON rules: an object; "websocketPort" and "pid" are JSON integers in the
 * same ranges; "ipcServerPath" is an optional string; other keys are ignored.
 *
 * Anything else is an error: the file is being written, belongs to another
 * program or is corrupt. The parser never guesses.
 */
#ifndef LINGMA_INTERNAL_INFOFILE_H
#define LINGMA_INTERNAL_INFOFILE_H

#include <stddef.h>

#include "lingma/common.h"

/** Largest port file the reader accepts; larger is an error, not truncated. */
#define LINGMA__INFO_MAX_BYTES 4096
/** Capacity of lingma__info.ipc_path, terminator included. */
#define LINGMA__INFO_IPC_MAX 512

enum lingma__info_format {
    LINGMA__INFO_TEXT2 = 2, /**< port, pid */
    LINGMA__INFO_TEXT3 = 3, /**< port, pid, IPC path */
    LINGMA__INFO_JSON = 4,  /**< the .info.json object */
};

enum lingma__info_source {
    LINGMA__INFO_FROM_BUFFER = 0, /**< parsed from memory */
    LINGMA__INFO_FROM_INFO,       /**< <dir>/.info */
    LINGMA__INFO_FROM_INFO_JSON,  /**< <dir>/.info.json */
    LINGMA__INFO_FROM_LEGACY,     /**< <home>/.lingma/.info (single instance only) */
};

struct lingma__info {
    int port;                            /**< WebSocket port, 1..65535 */
    int pid;                             /**< pid Lingma wrote, > 0 */
    char ipc_path[LINGMA__INFO_IPC_MAX]; /**< "" when absent */
    enum lingma__info_format format;
    enum lingma__info_source source;
};

/**
 * Parses a port file held in memory, either form: a buffer whose first
 * non-blank byte is '{' is parsed as JSON, anything else as text. `buf`
 * need not be NUL-terminated; an embedded NUL is an error.
 *
 * @return 0; LINGMA_ENOTFOUND when the buffer is empty or blank (a file
 *         created but not written yet); LINGMA_EPROTO when malformed, with
 *         a detail message in `err` (may be NULL) such as
 *         "line 1: port 70000 out of range 1..65535".
 */
int lingma__info_parse(struct lingma__info *out, const char *buf, size_t len, char *err,
                       size_t errlen);

/** Text form only (see above). Same returns as lingma__info_parse(). */
int lingma__info_parse_text(struct lingma__info *out, const char *buf, size_t len, char *err,
                            size_t errlen);

/** JSON form only (see above). Same returns as lingma__info_parse(). */
int lingma__info_parse_json(struct lingma__info *out, const char *buf, size_t len, char *err,
                            size_t errlen);

#endif
