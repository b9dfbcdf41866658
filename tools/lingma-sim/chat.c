/*
 * lingma-sim: chat engine.
 *
 * A chat sends, in order (protocol notes §6.2, §11.16):
 *   chat/process_step_callback step_start -> session/title/update ->
 *   [step_end here when STEP_END_FIRST] -> chat/answer deltas ->
 *   [context/usage/sync when USAGE] -> chat/finish -> step_end
 * Every push is a request with an id. Like real Lingma, which sends the
 * next chat/answer only once the client ACKed the previous one, a chat
 * waits for each ACK, at most LINGMA_SIM_ACK_WAIT_MS; a push not ACKed by
 * then counts as unanswered and the chat goes on (never blocked forever).
 * ACK_WAIT_MS=0 sends without waiting.
 */
#include "chat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "files.h"
#include "sessions.h"
#include "strmap.h"
#include "tool_invoke.h"

enum phase {
    P_ASK_DELAY,
    P_STEP_START,
    P_TITLE,
    P_EARLY_END,
    P_TOOL_INVOKE, /* the tool_invoke fault, in an agent-mode chat */
    P_ANSWER,
    P_USAGE,
    P_FINISH,
    P_STEP_END,
    P_DONE,
};

struct sim_chat {
    struct sim_timer step_timer; /* ask delay, first-token and chunk delays */
    struct sim_timer ack_timer;  /* bounded wait for the ACK of the last push */
    struct sim_conn *conn;
    struct sim_chat *prev, *next; /* conn->chats */
    char *request_id;
    char *session_id_copy; /* the session may be deleted meanwhile: keep our own copy */
    char *question;
    char *session_type;
    char *chat_task;
    json_t *ask_id; /* the chat/ask id while its result is delayed */
    char *text;     /* the whole answer */
    size_t text_len;
    size_t sent_bytes; /* answer bytes sent so far (fullAnswer of a cancelled chat) */
    int chunks, n_deltas, d, answers_sent;
    int first_token_ms, chunk_ms, ack_wait_ms;
    bool noisy, usage, timestamps, step_end_first;
    struct sim_faults fault; /* the faults that hit this chat */
    int finish_code;
    const char *finish_reason;
    const char *error_message;
    char *reply_error; /* why the answer could not be made (script:FILE), owned */
    enum phase phase;
    bool agent;         /* asked in mode "agent" */
    bool awaiting_tool; /* tool/invoke sent, its response not in yet */
    bool awaiting_ack, waiting_timer, delay_done, finished, mapped;
    int64_t pending_id;
};

static void chat_run(struct sim_chat *ch);

static void
count_ack(struct sim *sim, int status)
{
    if (status == 0 || status == LINGMA_ERPC) {
        sim->stats.pushes_acked++;
    } else {
        sim->stats.unanswered_pushes++;
        sim_state_dirty(sim);
    }
}

/* Pushes that nobody waits for: payload is the connection. */
static void
on_conn_ack(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct sim_conn *c = payload;
    count_ack(c->sim, status);
}

static void
on_chat_ack(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct sim_chat *ch = payload;
    count_ack(ch->conn->sim, status);
    if (!ch->awaiting_ack || ch->conn->closing)
        return;
    ch->awaiting_ack = false;
    ch->pending_id = 0;
    sim_timer_cancel(&ch->ack_timer);
    chat_run(ch);
}

void
sim_conn_push(struct sim_conn *c, const char *method, json_t *params)
{
    if (c->closing) {
        json_decref(params);
        return;
    }
    if (!lingma_rpc_call(c->rpc, NULL, method, params, 0, on_conn_ack, c))
        c->sim->stats.pushes_sent++;
    sim_conn_kick(c);
}

static void
chat_push(struct sim_chat *ch, const char *method, json_t *params)
{
    struct sim_conn *c = ch->conn;
    bool wait = ch->ack_wait_ms > 0;
    int64_t id = 0;
    if (!lingma_rpc_call(c->rpc, &id, method, params, 0, wait ? on_chat_ack : on_conn_ack,
                         wait ? (void *)ch : (void *)c)) {
        c->sim->stats.pushes_sent++;
        if (wait) {
            ch->awaiting_ack = true;
            ch->pending_id = id;
            sim_timer_arm(&ch->ack_timer, (unsigned)ch->ack_wait_ms);
        }
    }
    sim_conn_kick(c);
}

static void
notify(struct sim_conn *c, const char *method, json_t *params)
{
    lingma_rpc_notify(c->rpc, method, params);
    sim_conn_kick(c);
}

static void
push_step(struct sim_chat *ch, const char *step)
{
    chat_push(ch, "chat/process_step_callback",
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:s}", "requestId", ch->request_id,
                        "sessionId", ch->session_id_copy, "step", step, "description", "", "status",
                        "done", "result", "message", ""));
}

static void
push_answer(struct sim_chat *ch)
{
    size_t off, n;
    char stamp[32];
    sim_answer_delta(ch->text, ch->text_len, ch->chunks, ch->d, &off, &n);
    json_t *text;
    if (ch->timestamps && n > 0) {
        int sl = snprintf(stamp, sizeof(stamp), "@%llu@", (unsigned long long)sim_now_ns());
        char *buf = malloc((size_t)sl + n);
        if (!buf)
            return;
        memcpy(buf, stamp, (size_t)sl);
        memcpy(buf + sl, ch->text + off, n);
        text = json_stringn(buf, (size_t)sl + n);
        free(buf);
    } else {
        text = json_stringn(ch->text + off, n);
    }
    ch->sent_bytes = off + n;
    chat_push(ch, "chat/answer",
              json_pack("{s:s, s:s, s:o, s:b, s:b, s:I, s:{s:s}}", "requestId", ch->request_id,
                        "sessionId", ch->session_id_copy, "text", text, "overwrite", 0,
                        "isFiltered", 0, "timestamp", (json_int_t)sim_epoch_ms(), "extra",
                        "sessionType", ch->session_type));
}

static void
usage_counts(const struct sim_chat *ch, int *prompt, int *completion)
{
    *prompt = sim_answer_tokens(ch->question);
    char save = ch->text[ch->sent_bytes];
    ch->text[ch->sent_bytes] = '\0';
    *completion = sim_answer_tokens(ch->text);
    ch->text[ch->sent_bytes] = save;
}

static void
push_finish(struct sim_chat *ch)
{
    struct sim *sim = ch->conn->sim;
    json_t *extra = json_pack("{s:s}", "sessionType", ch->session_type);
    if (ch->usage) {
        int p, c;
        usage_counts(ch, &p, &c);
        json_object_set_new(extra, "usage",
                            json_pack("{s:i, s:i, s:i}", "prompt_tokens", p, "completion_tokens", c,
                                      "total_tokens", p + c));
    }
    if (ch->error_message)
        json_object_set_new(extra, "errorMessage", json_string(ch->error_message));
    json_t *full = json_stringn(ch->text, ch->sent_bytes);
    chat_push(ch, "chat/finish",
              json_pack("{s:s, s:s, s:s, s:i, s:o, s:o}", "requestId", ch->request_id, "sessionId",
                        ch->session_id_copy, "reason", ch->finish_reason, "statusCode",
                        ch->finish_code, "fullAnswer", full, "extra", extra));
    ch->finished = true;
    ch->conn->open_chats--;
    sim->stats.chats_finished++;
    if (!strcmp(ch->finish_reason, "cancelled"))
        sim->stats.chats_cancelled++;
    char save = ch->text[ch->sent_bytes];
    ch->text[ch->sent_bytes] = '\0';
    sim_sessions_add_record(sim->sessions, ch->session_id_copy, ch->request_id, ch->chat_task,
                            ch->question, ch->text);
    ch->text[ch->sent_bytes] = save;
    sim_state_dirty(sim);
}

static void
chat_free(struct sim_chat *ch)
{
    struct sim_conn *c = ch->conn;
    sim_timer_cancel(&ch->step_timer);
    sim_timer_cancel(&ch->ack_timer);
    if (ch->mapped)
        strmap_del(c->sim->chats, ch->request_id, ch);
    if (!ch->finished)
        c->open_chats--;
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        c->chats = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    json_decref(ch->ask_id);
    free(ch->request_id);
    free(ch->session_id_copy);
    free(ch->question);
    free(ch->session_type);
    free(ch->chat_task);
    free(ch->text);
    free(ch->reply_error);
    free(ch);
}

void
sim_conn_free_chats(struct sim_conn *c)
{
    while (c->chats)
        chat_free(c->chats);
}

static void
respond_ask(struct sim_chat *ch, const json_t *id)
{
    lingma_rpc_respond(ch->conn->rpc, id,
                       json_pack("{s:b, s:b, s:s, s:s, s:s, s:s}", "success", 1, "isSuccess", 1,
                                 "requestId", ch->request_id, "status", "processing", "errorCode",
                                 "", "errorMessage", ""));
    sim_conn_kick(ch->conn);
}

static void
wait_ms(struct sim_chat *ch, int ms)
{
    ch->waiting_timer = true;
    sim_timer_arm(&ch->step_timer, (unsigned)ms);
}

static void
noise(struct sim_chat *ch, int n)
{
    struct sim_conn *c = ch->conn;
    char msg[160];
    switch (n % 3) {
    case 0:
        snprintf(msg, sizeof(msg), "Async chat, request id: %s", ch->request_id);
        notify(c, "window/logMessage", json_pack("{s:i, s:s}", "type", 3, "message", msg));
        break;
    case 1:
        notify(c, "telemetry/event",
               json_pack("{s:s, s:s, s:i}", "name", "chat_progress", "requestId", ch->request_id,
                         "step", n));
        break;
    default:
        /* An unknown server request: the client should answer it (with an
         * error) and must not stall the stream. Nobody waits for it. */
        sim_conn_push(c, "sim/unknownServerRequest",
                      json_pack("{s:s}", "requestId", ch->request_id));
        break;
    }
}

static void
on_tool_done(void *payload, bool answered)
{
    struct sim_chat *ch = payload;
    ch->awaiting_tool = false;
    if (answered && !ch->conn->closing)
        chat_run(ch);
}

static void
chat_run(struct sim_chat *ch)
{
    struct sim_conn *c = ch->conn;
    struct sim *sim = c->sim;
    for (;;) {
        if (c->closing || sim->hang || ch->awaiting_ack || ch->awaiting_tool || ch->waiting_timer ||
            c->drop_when_flushed || c->exit_when_flushed)
            return;
        switch (ch->phase) {
        case P_ASK_DELAY:
            return; /* the step timer answers the ask */
        case P_STEP_START:
            push_step(ch, "step_start");
            if (ch->noisy)
                noise(ch, 0);
            ch->phase = P_TITLE;
            break;
        case P_TITLE:
            chat_push(ch, "session/title/update",
                      json_pack("{s:s, s:s}", "sessionId", ch->session_id_copy, "sessionTitle",
                                sim_sessions_title(sim->sessions, ch->session_id_copy)));
            if (ch->noisy)
                noise(ch, 1);
            ch->phase = ch->step_end_first ? P_EARLY_END : P_TOOL_INVOKE;
            break;
        case P_EARLY_END:
            push_step(ch, "step_end");
            ch->phase = P_TOOL_INVOKE;
            break;
        case P_TOOL_INVOKE:
            ch->phase = P_ANSWER;
            if (ch->fault.tool_invoke && ch->agent && ch->finish_code == 200 &&
                sim_tool_invoke_push(c, ch->request_id, ch->session_id_copy, on_tool_done, ch) == 0)
                ch->awaiting_tool = true;
            break;
        case P_ANSWER:
            if (ch->fault.drop_after >= 0 && ch->answers_sent >= ch->fault.drop_after) {
                sim_logf(&sim->log, "WARN", "fault drop_after:%d: dropping connection %llu",
                         ch->fault.drop_after, (unsigned long long)c->id);
                c->drop_when_flushed = true;
                sim_conn_kick(c);
                return;
            }
            if (ch->fault.exit_after >= 0 && ch->answers_sent >= ch->fault.exit_after) {
                sim_logf(&sim->log, "WARN", "fault exit_after:%d: exiting", ch->fault.exit_after);
                c->exit_when_flushed = true;
                sim_conn_kick(c);
                return;
            }
            if (ch->finish_code != 200 || ch->d >= ch->n_deltas) {
                ch->phase = P_USAGE;
                break;
            }
            if (!ch->delay_done) {
                int ms = ch->d == 0 ? ch->first_token_ms : ch->chunk_ms;
                if (ms > 0) {
                    ch->delay_done = true;
                    wait_ms(ch, ms);
                    return;
                }
            }
            ch->delay_done = false;
            push_answer(ch);
            ch->d++;
            ch->answers_sent++;
            if (ch->noisy && ch->answers_sent % 2 == 0)
                noise(ch, ch->answers_sent / 2 + 1);
            break;
        case P_USAGE:
            if (ch->usage) {
                int p, cpl;
                usage_counts(ch, &p, &cpl);
                notify(c, "context/usage/sync",
                       json_pack("{s:i, s:i}", "usedTokens", p + cpl, "limitTokens", 131072));
            }
            ch->phase = P_FINISH;
            break;
        case P_FINISH:
            push_finish(ch);
            ch->phase = ch->step_end_first ? P_DONE : P_STEP_END;
            break;
        case P_STEP_END:
            push_step(ch, "step_end");
            ch->phase = P_DONE;
            break;
        case P_DONE:
            chat_free(ch);
            return;
        }
    }
}

static void
on_step_timer(struct sim_timer *t)
{
    struct sim_chat *ch = (struct sim_chat *)((char *)t - offsetof(struct sim_chat, step_timer));
    ch->waiting_timer = false;
    if (ch->phase == P_ASK_DELAY) {
        if (ch->conn->sim->hang)
            return;
        respond_ask(ch, ch->ask_id);
        json_decref(ch->ask_id);
        ch->ask_id = NULL;
        ch->phase = P_STEP_START;
    }
    chat_run(ch);
}

static void
on_ack_timer(struct sim_timer *t)
{
    struct sim_chat *ch = (struct sim_chat *)((char *)t - offsetof(struct sim_chat, ack_timer));
    if (!ch->awaiting_ack)
        return;
    ch->awaiting_ack = false;
    int64_t id = ch->pending_id;
    ch->pending_id = 0;
    lingma_rpc_cancel(ch->conn->rpc, id); /* counts it as unanswered */
    chat_run(ch);
}

void
sim_chat_stop(struct sim *sim, const char *request_id)
{
    sim->stats.stops_received++;
    sim_logf(&sim->log, "INFO", "chat/stop requestId=%s", request_id ? request_id : "");
    sim_state_flush(sim);
    struct sim_chat *ch = request_id ? strmap_get(sim->chats, request_id) : NULL;
    if (!ch || ch->finished || ch->phase >= P_FINISH)
        return;
    ch->finish_reason = "cancelled";
    ch->finish_code = 200;
    ch->error_message = NULL;
    if (ch->waiting_timer) {
        sim_timer_cancel(&ch->step_timer);
        ch->waiting_timer = false;
    }
    ch->delay_done = false;
    if (ch->phase == P_ASK_DELAY) {
        respond_ask(ch, ch->ask_id);
        json_decref(ch->ask_id);
        ch->ask_id = NULL;
    }
    ch->phase = P_USAGE;
    chat_run(ch);
}

/* The model key of an ask: customModel.key > extra.modelConfig.key > default. */
static const char *
ask_model_key(json_t *params)
{
    const char *k =
        json_string_value(json_object_get(json_object_get(params, "customModel"), "key"));
    if (k && *k)
        return k;
    return json_string_value(
        json_object_get(json_object_get(json_object_get(params, "extra"), "modelConfig"), "key"));
}

/* Decide which faults hit this chat (FAULT_LIMIT counts chats in the work dir). */
static void
chat_faults(struct sim *sim, struct sim_faults *out)
{
    const struct sim_faults *f = &sim->cur.fault;
    memset(out, 0, sizeof(*out));
    out->drop_after = out->exit_after = -1;
    if (!sim_faults_chat_active(f))
        return;
    if (sim->cur.fault_limit > 0 &&
        sim_counter_read(sim->work_dir, "fault-chats") >= sim->cur.fault_limit)
        return;
    sim_counter_bump(sim->work_dir, "fault-chats");
    sim->stats.faults_hit++;
    sim_state_flush(sim); /* tests and launchers poll for it */
    sim_logf(&sim->log, "WARN", "fault hits this chat: %s",
             sim->cur.fault_text ? sim->cur.fault_text : "");
    *out = *f;
}

static char *
dup_str(const char *s, const char *fallback)
{
    return strdup(s && *s ? s : fallback);
}

int
sim_chat_ask(struct sim_conn *c, const json_t *id, json_t *params)
{
    struct sim *sim = c->sim;
    sim_reload_settings(sim);
    const struct sim_settings *s = &sim->cur;

    const char *rid = json_string_value(json_object_get(params, "requestId"));
    const char *q = json_string_value(json_object_get(params, "questionText"));
    if (!rid || !*rid || !q || !*q) {
        lingma_rpc_respond_error(c->rpc, id, LINGMA_RPC_INVALID_PARAMS,
                                 "requestId and questionText are required");
        return 0;
    }
    if (s->one_chat_per_connection && c->open_chats > 0) {
        lingma_rpc_respond_error(c->rpc, id, LINGMA_RPC_INVALID_PARAMS,
                                 "Another chat is in progress");
        return 0;
    }

    struct sim_faults fault;
    chat_faults(sim, &fault);
    if (fault.hang) {
        sim_logf(&sim->log, "WARN", "fault hang: no longer answering anything");
        sim->hang = true;
        return LINGMA_RPC_DEFER; /* never answered */
    }
    if (fault.rpc_error) {
        lingma_rpc_respond_error(c->rpc, id, LINGMA_RPC_INTERNAL_ERROR,
                                 "simulated internal error (LINGMA_SIM_FAULT=rpc_error)");
        return 0;
    }

    struct sim_chat *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return LINGMA_ENOMEM;
    ch->conn = c;
    sim_timer_init(&ch->step_timer, sim->lws_ctx, on_step_timer);
    sim_timer_init(&ch->ack_timer, sim->lws_ctx, on_ack_timer);
    ch->next = c->chats;
    if (c->chats)
        c->chats->prev = ch;
    c->chats = ch;
    c->open_chats++;

    const char *stype = json_string_value(json_object_get(params, "sessionType"));
    const char *task = json_string_value(json_object_get(params, "chatTask"));
    const char *sid = json_string_value(json_object_get(params, "sessionId"));
    const json_t *model = sim_models_find(&sim->models, ask_model_key(params));
    bool logged_in = sim->logged_in && !fault.logged_out;

    ch->request_id = strdup(rid);
    ch->question = strdup(q);
    ch->session_type = dup_str(stype, "chat");
    const char *mode = json_string_value(json_object_get(params, "mode"));
    ch->agent = mode && strcmp(mode, "agent") == 0;
    ch->chat_task = dup_str(task, "FREE_INPUT");
    ch->fault = fault;
    ch->chunks = s->chunks;
    ch->n_deltas = sim_answer_delta_count(s->chunks);
    ch->first_token_ms = s->first_token_ms;
    ch->chunk_ms = s->chunk_ms;
    ch->ack_wait_ms = s->ack_wait_ms;
    ch->noisy = s->noisy;
    ch->usage = s->usage;
    ch->timestamps = s->timestamps;
    ch->step_end_first = s->step_end_first;
    ch->finish_reason = "success";
    ch->finish_code = 200;
    if (!logged_in) {
        ch->finish_reason = "error";
        ch->finish_code = 401;
        ch->error_message = "not logged in";
    } else if (!model) {
        ch->finish_reason = "error";
        ch->finish_code = 400;
        ch->error_message = "model not found";
    } else if (fault.finish_code) {
        ch->finish_reason = "error";
        ch->finish_code = fault.finish_code;
        ch->error_message = "simulated upstream failure (LINGMA_SIM_FAULT=finish)";
    }
    bool reasoning = model && json_is_true(json_object_get(model, "isReasoning"));
    char reply_err[512];
    ch->text = sim_answer_text(s, q, reasoning, reply_err, sizeof(reply_err));
    if (!ch->text && reply_err[0]) {
        /* A broken rules file is the test's mistake: say so loudly, in the
         * finish and in the log, rather than answer something plausible. */
        sim_logf(&sim->log, "ERROR", "LINGMA_SIM_REPLY script: %s", reply_err);
        ch->text = strdup("");
        ch->reply_error = strdup(reply_err);
        if (ch->finish_code == 200) {
            ch->finish_reason = "error";
            ch->finish_code = 500;
            ch->error_message = ch->reply_error;
        }
    }
    const char *session = sim_sessions_open(sim->sessions, sid, q, ch->session_type);
    ch->session_id_copy = session ? strdup(session) : NULL;
    if (!ch->request_id || !ch->question || !ch->session_type || !ch->chat_task || !ch->text ||
        !ch->session_id_copy) {
        chat_free(ch);
        return LINGMA_ENOMEM;
    }
    ch->text_len = strlen(ch->text);
    ch->mapped = !strmap_put(sim->chats, ch->request_id, ch);
    sim->stats.chats_started++;

    if (fault.ask_delay_ms > 0) {
        ch->ask_id = json_deep_copy(id);
        ch->phase = P_ASK_DELAY;
        wait_ms(ch, fault.ask_delay_ms);
        return LINGMA_RPC_DEFER;
    }
    respond_ask(ch, id);
    ch->phase = P_STEP_START;
    chat_run(ch);
    return 0;
}
