/*
 * lingma-sim: the chat session store (in memory, per process).
 *
 * Shapes follow the plugin's ChatSession / ChatRecord (protocol notes
 * §6.3). Real Lingma keeps them in SQLite; the simulator forgets them on
 * exit, which is all a gateway can rely on anyway.
 */
#ifndef LINGMA_SIM_SESSIONS_H
#define LINGMA_SIM_SESSIONS_H

#include <jansson.h>

struct sim_sessions;

struct sim_sessions *sim_sessions_new(void);
void sim_sessions_free(struct sim_sessions *ss);

/*
 * The session `id`, created when missing (an empty id mints a UUID). The
 * title is set from `question` at creation. Returns the session id
 * (borrowed, valid until the session is deleted) or NULL when out of memory.
 */
const char *sim_sessions_open(struct sim_sessions *ss, const char *id, const char *question,
                              const char *session_type);
const char *sim_sessions_title(struct sim_sessions *ss, const char *id);

/* Append a ChatRecord; ignored when the session was deleted meanwhile. */
void sim_sessions_add_record(struct sim_sessions *ss, const char *id, const char *request_id,
                             const char *chat_task, const char *question, const char *answer);

/* New reference: array of ChatSession with empty chatRecords, oldest first. */
json_t *sim_sessions_list(struct sim_sessions *ss);
/* New reference: one ChatSession with its records, or NULL when unknown. */
json_t *sim_sessions_get(struct sim_sessions *ss, const char *id);
/* 0, or -1 when unknown. */
int sim_sessions_delete(struct sim_sessions *ss, const char *id);
/* Remove every session. */
void sim_sessions_clear(struct sim_sessions *ss);

#endif
