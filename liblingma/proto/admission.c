/* Pool-wide admission control, sans-I/O (see admission.h). */
#include <stddef.h>

#include "admission.h"

void
lingma__admission_init(struct lingma__admission *a, unsigned max_in_flight, unsigned max_queue,
                       int64_t queue_timeout_ms)
{
    *a = (struct lingma__admission){0};
    a->max_in_flight = max_in_flight;
    a->max_queue = max_queue;
    a->queue_timeout_ms = queue_timeout_ms > 0 ? queue_timeout_ms : 0;
    a->avg_service_ms = -1;
    a->queue.prev = a->queue.next = &a->queue;
}

void
lingma__adm_entry_init(struct lingma__adm_entry *e)
{
    *e = (struct lingma__adm_entry){0};
    e->state = LINGMA__ADM_ENTRY_IDLE;
}

enum lingma__adm_state
lingma__adm_entry_state(const struct lingma__adm_entry *e)
{
    return e->state;
}

static bool
slot_free(const struct lingma__admission *a)
{
    return a->max_in_flight == 0 || a->in_flight < a->max_in_flight;
}

static void
unlink_entry(struct lingma__admission *a, struct lingma__adm_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
    e->state = LINGMA__ADM_ENTRY_IDLE;
    a->queued--;
}

static void
activate(struct lingma__admission *a, struct lingma__adm_entry *e, int64_t now_ms)
{
    e->state = LINGMA__ADM_ENTRY_ACTIVE;
    e->since_ms = now_ms;
    a->in_flight++;
    a->accepted_total++;
}

enum lingma__adm_result
lingma__admission_try(struct lingma__admission *a, struct lingma__adm_entry *e, int64_t now_ms,
                      int64_t *retry_after_ms)
{
    if (e->state != LINGMA__ADM_ENTRY_IDLE) {
        /* A caller bug; refusing keeps the counters honest. */
        if (retry_after_ms)
            *retry_after_ms = LINGMA__ADM_MIN_RETRY_MS;
        return LINGMA__ADM_REJECTED;
    }
    if (slot_free(a) && a->queued == 0) {
        activate(a, e, now_ms);
        return LINGMA__ADM_ADMITTED;
    }
    if (a->queued < a->max_queue) {
        e->state = LINGMA__ADM_ENTRY_QUEUED;
        e->since_ms = now_ms;
        e->deadline_ms = now_ms + a->queue_timeout_ms;
        e->next = &a->queue;
        e->prev = a->queue.prev;
        a->queue.prev->next = e;
        a->queue.prev = e;
        a->queued++;
        return LINGMA__ADM_QUEUED;
    }
    a->rejected_total++;
    if (retry_after_ms)
        *retry_after_ms = lingma__admission_retry_after_ms(a);
    return LINGMA__ADM_REJECTED;
}

struct lingma__adm_entry *
lingma__admission_release(struct lingma__admission *a, struct lingma__adm_entry *e, int64_t now_ms)
{
    if (e->state != LINGMA__ADM_ENTRY_ACTIVE)
        return NULL;
    e->state = LINGMA__ADM_ENTRY_IDLE;
    a->in_flight--;

    /* Exponential moving average, weight 1/8: follows load changes within ~10 chats. */
    int64_t held = now_ms - e->since_ms;
    if (held < 0)
        held = 0;
    if (a->avg_service_ms < 0)
        a->avg_service_ms = held;
    else
        a->avg_service_ms += (held - a->avg_service_ms) / 8;

    if (a->queued == 0 || !slot_free(a))
        return NULL;
    struct lingma__adm_entry *next = a->queue.next;
    unlink_entry(a, next);
    activate(a, next, now_ms);
    return next;
}

struct lingma__adm_entry *
lingma__admission_expire(struct lingma__admission *a, int64_t now_ms)
{
    if (a->queued == 0)
        return NULL;
    struct lingma__adm_entry *head = a->queue.next;
    if (head->deadline_ms > now_ms)
        return NULL;
    unlink_entry(a, head);
    a->rejected_total++;
    a->expired_total++;
    return head;
}

bool
lingma__admission_remove(struct lingma__admission *a, struct lingma__adm_entry *e)
{
    if (e->state != LINGMA__ADM_ENTRY_QUEUED)
        return false;
    unlink_entry(a, e);
    a->cancelled_total++;
    return true;
}

struct lingma__adm_entry *
lingma__admission_finish(struct lingma__admission *a, struct lingma__adm_entry *e, int64_t now_ms)
{
    switch (e->state) {
    case LINGMA__ADM_ENTRY_ACTIVE:
        return lingma__admission_release(a, e, now_ms);
    case LINGMA__ADM_ENTRY_QUEUED:
        lingma__admission_remove(a, e);
        return NULL;
    case LINGMA__ADM_ENTRY_IDLE:
        break;
    }
    return NULL;
}

int64_t
lingma__admission_next_deadline(const struct lingma__admission *a)
{
    return a->queued ? a->queue.next->deadline_ms : INT64_MAX;
}

int64_t
lingma__admission_retry_after_ms(const struct lingma__admission *a)
{
    int64_t hint;
    if (a->avg_service_ms < 0 || a->max_in_flight == 0) {
        hint = a->queue_timeout_ms;
    } else {
        /*
         * Slots free up at about max_in_flight / avg_service per ms; a
         * newcomer behind `queued` others needs queued + 1 of them.
         */
        hint = ((int64_t)a->queued + 1) * a->avg_service_ms / (int64_t)a->max_in_flight;
        if (a->queue_timeout_ms > 0 && hint > a->queue_timeout_ms)
            hint = a->queue_timeout_ms;
    }
    return hint < LINGMA__ADM_MIN_RETRY_MS ? LINGMA__ADM_MIN_RETRY_MS : hint;
}

void
lingma__admission_stats(const struct lingma__admission *a, struct lingma__adm_stats *out)
{
    out->in_flight = a->in_flight;
    out->queued = a->queued;
    out->max_in_flight = a->max_in_flight;
    out->max_queue = a->max_queue;
    out->accepted_total = a->accepted_total;
    out->rejected_total = a->rejected_total;
    out->expired_total = a->expired_total;
    out->cancelled_total = a->cancelled_total;
}
