/*
 * lingma-sim: the counters file (cache/sim-state.json) that `lingma-sim
 * status` reads, and the live reload of <workDir>/sim.json.
 *
 * The file is rewritten at most every 50 ms while counters move (a
 * rewrite per push would cap the push rate), at once for events a test
 * waits for (chat/stop, login, logout), and at exit.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>

#include "files.h"
#include "sim.h"

#define STATE_DEBOUNCE_MS 50

json_t *
sim_state_json(const struct sim *sim, bool running)
{
    const struct sim_stats *s = &sim->stats;
    return json_pack(
        "{s:b, s:I, s:i, s:i, s:b, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I}",
        "running", running, "pid", (json_int_t)getpid(), "ws_port", sim->ws_port, "http_port",
        sim->http_port, "logged_in", sim->logged_in, "username",
        sim->logged_in ? sim->username : NULL, "connections", (json_int_t)s->connections,
        "pushes_sent", (json_int_t)s->pushes_sent, "pushes_acked", (json_int_t)s->pushes_acked,
        "unanswered_pushes", (json_int_t)s->unanswered_pushes, "stops_received",
        (json_int_t)s->stops_received, "chats_started", (json_int_t)s->chats_started,
        "chats_finished", (json_int_t)s->chats_finished, "chats_cancelled",
        (json_int_t)s->chats_cancelled, "faults_hit", (json_int_t)s->faults_hit, "tool_invokes",
        (json_int_t)s->tool_invokes, "tool_invokes_refused", (json_int_t)s->tool_invokes_refused);
}

void
sim_state_flush(struct sim *sim)
{
    sim_timer_cancel(&sim->state_timer);
    json_t *j = sim_state_json(sim, !sim->stop);
    if (j)
        sim_state_write(sim->work_dir, j);
    json_decref(j);
}

static void
state_timer_fn(struct sim_timer *t)
{
    struct sim *sim = (struct sim *)((char *)t - offsetof(struct sim, state_timer));
    sim_state_flush(sim);
}

void
sim_state_init(struct sim *sim)
{
    sim_timer_init(&sim->state_timer, sim->lws_ctx, state_timer_fn);
}

void
sim_state_dirty(struct sim *sim)
{
    if (!sim->stop && sim->lws_ctx && !sim->state_timer.armed)
        sim_timer_arm(&sim->state_timer, STATE_DEBOUNCE_MS);
}

void
sim_reload_settings(struct sim *sim)
{
    char path[PATH_MAX], err[512];
    struct sim_settings next;
    snprintf(path, sizeof(path), "%s/sim.json", sim->work_dir);
    if (access(path, F_OK)) {
        /* no sim.json (any more): the base settings hold */
        sim_settings_free(&sim->cur);
        sim_settings_copy(&sim->cur, &sim->base);
        return;
    }
    if (sim_settings_copy(&next, &sim->base))
        return;
    if (sim_settings_from_file(&next, path, err, sizeof(err)) < 0) {
        /* A running instance cannot exit 2 on a typo: keep what we had. */
        sim_logf(&sim->log, "ERROR", "ignoring sim.json: %s", err);
        sim_settings_free(&next);
        return;
    }
    sim_settings_free(&sim->cur);
    sim->cur = next;
}
