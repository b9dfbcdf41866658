/*
 * liblingma: common definitions shared by every public header.
 *
 * Conventions (libgit2/nghttp2 style):
 *   - functions return 0 (LINGMA_OK) or a negative LINGMA_E* code;
 *   - a single output parameter is named `out` and comes first;
 *   - a callback is paired with a `void *payload` as the last parameter;
 *   - `_free` functions accept NULL;
 *   - strings passed to callbacks are borrowed for the duration of the call.
 */
#ifndef LINGMA_COMMON_H
#define LINGMA_COMMON_H

#include <stddef.h>

#include "lingma/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LINGMA_EXPORT          __attribute__((visibility("default")))
#define LINGMA_WARN_UNUSED     __attribute__((warn_unused_result))
#define LINGMA_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define LINGMA_EXPORT
#define LINGMA_WARN_UNUSED
#define LINGMA_DEPRECATED(msg)
#endif

/**
 * Error codes. New codes are appended; a code is never renumbered or
 * removed. lingma_strerror() describes each one.
 */
typedef enum lingma_error {
    LINGMA_OK = 0,
    LINGMA_ERROR = -1,      /**< unspecified failure */
    LINGMA_EINVAL = -2,     /**< invalid argument or request */
    LINGMA_ENOMEM = -3,     /**< out of memory */
    LINGMA_EPROTO = -4,     /**< the peer broke the protocol (frame, JSON-RPC) */
    LINGMA_EIO = -5,        /**< transport failure, connection lost */
    LINGMA_ESPAWN = -6,     /**< Lingma could not be started */
    LINGMA_ETIMEDOUT = -7,  /**< RPC, first-token or chat timeout */
    LINGMA_EBUSY = -8,      /**< admission rejected: queue full or queue timeout */
    LINGMA_EUNAVAIL = -9,   /**< no instance can serve */
    LINGMA_ECANCELED = -10, /**< cancelled by the caller */
    LINGMA_ERPC = -11,      /**< Lingma answered with a JSON-RPC error */
    LINGMA_EUPSTREAM = -12, /**< chat/finish carried a non-200 statusCode */
    LINGMA_ECLOSED = -13,   /**< the object was closed or is shutting down */
    LINGMA_ENOTFOUND = -14, /**< no such object (chat id, instance, model) */
} lingma_error;

/** The lowest error code defined by this version of the library. */
#define LINGMA_ERROR_LAST LINGMA_ENOTFOUND

/**
 * A short, static, English description of an error code.
 * Thread-safe. Never returns NULL; unknown codes give "unknown error".
 */
LINGMA_EXPORT const char *lingma_strerror(int error);

/** Free memory the library handed out (strings of the `_sync` calls and of
 * tools.h). NULL is accepted. */
LINGMA_EXPORT void lingma_free(void *ptr);

/**
 * The symbolic name of an error code ("LINGMA_EIO"), or NULL if unknown.
 * Thread-safe.
 */
LINGMA_EXPORT const char *lingma_error_name(int error);

/** The library's version string at run time, e.g. "0.1.0". Thread-safe. */
LINGMA_EXPORT const char *lingma_version(void);

/**
 * A custom allocator (nghttp2_mem style). Every function receives
 * `payload`. `realloc` follows C semantics; `free(NULL)` must be accepted.
 * When an option struct leaves the allocator NULL, malloc(3) is used.
 * jansson values are always allocated by jansson's own allocator: the
 * library never calls json_set_alloc_funcs().
 */
typedef struct lingma_allocator {
    void *(*malloc)(size_t size, void *payload);
    void *(*realloc)(void *ptr, size_t size, void *payload);
    void (*free)(void *ptr, void *payload);
    void *payload;
} lingma_allocator;

/** Log severities, most severe first. */
typedef enum lingma_log_level {
    LINGMA_LOG_ERROR = 0,
    LINGMA_LOG_WARN = 1,
    LINGMA_LOG_INFO = 2,
    LINGMA_LOG_DEBUG = 3,
} lingma_log_level;

/**
 * A log sink. The library never prints: every diagnostic goes here.
 * `msg` is borrowed for the duration of the call and carries no newline.
 * It may be called from the pool's service thread or from the thread that
 * called into a sans-I/O object.
 */
typedef void (*lingma_log_fn)(lingma_log_level level, const char *msg, void *payload);

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_COMMON_H */
