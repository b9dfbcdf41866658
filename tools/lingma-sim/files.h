/*
 * lingma-sim: everything the simulator keeps in its work directory.
 *
 *   .info / .info.json   connection info (written atomically: temp + rename)
 *   cache/id             machine UUID, always
 *   cache/user           base64 of a JSON account record, only while logged in
 *   cache/sim-state.json counters of the running or last instance (for `status`)
 *   cache/sim-fault-chats, cache/sim-fault-starts
 *                        how many chats / starts a fault already hit (FAULT_LIMIT)
 *   logs/lingma.log      the log
 */
#ifndef LINGMA_SIM_FILES_H
#define LINGMA_SIM_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "settings.h"

#define SIM_DEFAULT_USERNAME "sim-user@example.com"
#define SIM_USER_TYPE        "personal_standard"

/* Write `len` bytes to `path` atomically (temp file in the same dir + rename). 0 or -1. */
int sim_write_atomic(const char *path, const void *data, size_t len);
/* mkdir -p for <workDir>/<sub>. 0 or -1. */
int sim_mkdir_sub(const char *work_dir, const char *sub);

/*
 * Write the connection info file of `kind` (SIM_INFO_EARLY writes the
 * 2-line form). `pid` is usually getpid(); stale_info passes a dead one.
 */
int sim_info_write(const char *work_dir, enum sim_info_kind kind, int ws_port, int http_port,
                   long pid);
void sim_info_remove(const char *work_dir);

/* A pid that no process can have (above kernel.pid_max). */
long sim_dead_pid(void);

/* Create cache/id when missing. `created` tells whether it was created now. 0 or -1. */
int sim_cache_id_ensure(const char *work_dir, bool *created);
bool sim_cache_id_exists(const char *work_dir);
int sim_cache_user_write(const char *work_dir, const char *username);
/* 0 and the account name (malloc'd, may be NULL) when cache/user exists, else -1. */
int sim_cache_user_read(const char *work_dir, char **username);
void sim_cache_user_remove(const char *work_dir);

/* Read, or add one to and read, a counter file under cache/. */
long sim_counter_read(const char *work_dir, const char *name);
long sim_counter_bump(const char *work_dir, const char *name);

/* cache/sim-state.json; `state` is borrowed. */
int sim_state_write(const char *work_dir, const json_t *state);
json_t *sim_state_read(const char *work_dir);

/* Random identifiers. */
void sim_uuid(char out[37]);
void sim_nonce(char out[33]);

/* Base64 (standard alphabet, padded). malloc'd result, NULL on error. */
char *sim_base64_encode(const void *data, size_t len);
void *sim_base64_decode(const char *text, size_t *len);

#endif
