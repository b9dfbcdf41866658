/* lingma-sim: session store, see sessions.h. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files.h"
#include "strmap.h"

struct session {
    struct session *prev, *next; /* creation order, for listAllSessions */
    json_t *obj;                 /* ChatSession without chatRecords */
    json_t *records;             /* array of ChatRecord */
    char id[];
};

struct sim_sessions {
    struct strmap *byId;
    struct session *head, *tail;
};

static json_int_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sim_sessions *
sim_sessions_new(void)
{
    struct sim_sessions *ss = calloc(1, sizeof(*ss));
    if (ss && !(ss->byId = strmap_new())) {
        free(ss);
        ss = NULL;
    }
    return ss;
}

static void
session_unlink_free(struct sim_sessions *ss, struct session *s)
{
    strmap_del(ss->byId, s->id, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        ss->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        ss->tail = s->prev;
    json_decref(s->obj);
    json_decref(s->records);
    free(s);
}

void
sim_sessions_clear(struct sim_sessions *ss)
{
    while (ss->head)
        session_unlink_free(ss, ss->head);
}

void
sim_sessions_free(struct sim_sessions *ss)
{
    if (!ss)
        return;
    sim_sessions_clear(ss);
    strmap_free(ss->byId);
    free(ss);
}

const char *
sim_sessions_open(struct sim_sessions *ss, const char *id, const char *question,
                  const char *session_type)
{
    char uuid[37];
    struct session *s;
    if (id && *id && (s = strmap_get(ss->byId, id)))
        return s->id;
    if (!id || !*id) {
        sim_uuid(uuid);
        id = uuid;
    }
    size_t idlen = strlen(id);
    s = calloc(1, sizeof(*s) + idlen + 1);
    if (!s)
        return NULL;
    memcpy(s->id, id, idlen + 1);

    /* The title is the start of the first question, cut on a UTF-8 boundary. */
    char title[64];
    size_t tl = strlen(question);
    if (tl > sizeof(title) - 1) {
        tl = sizeof(title) - 1;
        while (tl > 0 && ((unsigned char)question[tl] & 0xc0) == 0x80)
            tl--;
    }
    memcpy(title, question, tl);
    title[tl] = '\0';

    json_int_t now = now_ms();
    s->obj =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "sessionId", s->id,
                  "sessionTitle", title, "userId", "sim-user", "userName", SIM_DEFAULT_USERNAME,
                  "projectId", "", "projectUri", "", "projectName", "", "gmtCreate", now,
                  "gmtModified", now, "sessionType", session_type ? session_type : "chat");
    s->records = json_array();
    if (!s->obj || !s->records || strmap_put(ss->byId, s->id, s)) {
        json_decref(s->obj);
        json_decref(s->records);
        free(s);
        return NULL;
    }
    s->prev = ss->tail;
    if (ss->tail)
        ss->tail->next = s;
    else
        ss->head = s;
    ss->tail = s;
    return s->id;
}

const char *
sim_sessions_title(struct sim_sessions *ss, const char *id)
{
    struct session *s = strmap_get(ss->byId, id);
    return s ? json_string_value(json_object_get(s->obj, "sessionTitle")) : "";
}

void
sim_sessions_add_record(struct sim_sessions *ss, const char *id, const char *request_id,
                        const char *chat_task, const char *question, const char *answer)
{
    struct session *s = strmap_get(ss->byId, id);
    if (!s)
        return;
    json_int_t now = now_ms();
    json_array_append_new(s->records,
                          json_pack("{s:s, s:s, s:s, s:n, s:s, s:s, s:i, s:I, s:I}", "requestId",
                                    request_id, "sessionId", s->id, "chatTask",
                                    chat_task ? chat_task : "FREE_INPUT", "chatContext", "question",
                                    question, "answer", answer, "likeStatus", 0, "gmtCreate", now,
                                    "gmtModified", now));
    json_object_set_new(s->obj, "gmtModified", json_integer(now));
}

static json_t *
session_json(const struct session *s, bool with_records)
{
    json_t *o = json_copy(s->obj);
    if (o)
        json_object_set_new(o, "chatRecords",
                            with_records ? json_deep_copy(s->records) : json_array());
    return o;
}

json_t *
sim_sessions_list(struct sim_sessions *ss)
{
    json_t *a = json_array();
    for (struct session *s = ss->head; a && s; s = s->next)
        json_array_append_new(a, session_json(s, false));
    return a;
}

json_t *
sim_sessions_get(struct sim_sessions *ss, const char *id)
{
    struct session *s = id ? strmap_get(ss->byId, id) : NULL;
    return s ? session_json(s, true) : NULL;
}

int
sim_sessions_delete(struct sim_sessions *ss, const char *id)
{
    struct session *s = id ? strmap_get(ss->byId, id) : NULL;
    if (!s)
        return -1;
    session_unlink_free(ss, s);
    return 0;
}
