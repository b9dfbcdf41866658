/*
 * Internal: pool-wide admission control, sans-I/O.
 *
 * At most `max_in_flight` chats hold a slot; up to `max_queue` more wait in
 * FIFO order, each at most `queue_timeout_ms`; beyond that a chat is
 * rejected at once (LINGMA_EBUSY with a retry-after hint).
 *
 * No locks, no clock, no allocation: time is passed in (CLOCK_MONOTONIC ms),
 * the caller serialises every call (the pool's service thread, or its
 * lock), and each chat embeds a struct lingma__adm_entry. Every operation is
 * O(1) (expire() is O(1) per expired entry: the queue is ordered by
 * deadline because every entry waits the same queue_timeout).
 *
 * Life of an entry:
 *
 *   lingma__adm_entry_init(&chat->adm);
 *   switch (lingma__admission_try(&a, &chat->adm, now, &retry_ms)) {
 *   ADMITTED: route and send the chat now.
 *   QUEUED:   keep it; it starts when release() returns it.
 *   REJECTED: end it with LINGMA_EBUSY, Retry-After: retry_ms.
 *   }
 *   chat ends (any path):  next = lingma__admission_release(&a, &chat->adm, now);
 *                          if (next) start the chat that embeds `next`.
 *   queued chat cancelled: lingma__admission_remove(&a, &chat->adm);
 *   timer (next_deadline): while ((e = lingma__admission_expire(&a, now)))
 *                              end that chat with LINGMA_EBUSY and
 *                              lingma__admission_retry_after_ms(&a).
 *   lingma__admission_finish(&a, e, now) does the right one of release /
 *   remove / nothing for an entry in any state.
 *
 * Per-instance caps are the router's business (router.h), not this one's:
 * admission is pool-wide. A chat admitted here can still find every
 * instance at its cap (router NONE); the pool should then fail it with
 * LINGMA_EUNAVAIL, or better configure max_in_flight <= the sum of the caps
 * so that this cannot happen while every instance is up.
 */
#ifndef LINGMA_INTERNAL_ADMISSION_H
#define LINGMA_INTERNAL_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

enum lingma__adm_state {
    LINGMA__ADM_ENTRY_IDLE = 0, /**< not known to the controller */
    LINGMA__ADM_ENTRY_QUEUED,   /**< waiting in the FIFO */
    LINGMA__ADM_ENTRY_ACTIVE,   /**< holds a slot */
};

/** Intrusive node; embed it in the chat. Initialise with lingma__adm_entry_init(). */
struct lingma__adm_entry {
    struct lingma__adm_entry *prev;
    struct lingma__adm_entry *next;
    int64_t since_ms;    /**< when it was queued, then when it got its slot */
    int64_t deadline_ms; /**< queue deadline while QUEUED */
    enum lingma__adm_state state;
};

enum lingma__adm_result {
    LINGMA__ADM_ADMITTED = 0,
    LINGMA__ADM_QUEUED = 1,
    LINGMA__ADM_REJECTED = 2,
};

/** Counter snapshot (the /internal/stats "concurrency" object, plus two extras). */
struct lingma__adm_stats {
    unsigned in_flight;
    unsigned queued;
    unsigned max_in_flight;
    unsigned max_queue;
    uint64_t accepted_total;  /**< chats that got a slot, at once or from the queue */
    uint64_t rejected_total;  /**< chats ended with LINGMA_EBUSY: full queue + queue timeouts */
    uint64_t expired_total;   /**< of rejected_total: queue timeouts */
    uint64_t cancelled_total; /**< queued chats removed by their caller */
};

struct lingma__admission {
    unsigned max_in_flight; /**< 0: unlimited */
    unsigned max_queue;     /**< 0: no queue, reject when every slot is taken */
    int64_t queue_timeout_ms;
    unsigned in_flight;
    unsigned queued;
    uint64_t accepted_total;
    uint64_t rejected_total;
    uint64_t expired_total;
    uint64_t cancelled_total;
    int64_t avg_service_ms;         /**< moving average of slot hold times; -1: no sample yet */
    struct lingma__adm_entry queue; /**< sentinel of the circular FIFO */
};

/** Minimum retry-after hint, milliseconds. */
#define LINGMA__ADM_MIN_RETRY_MS 1000

/**
 * Sets the limits and zeroes the counters. `max_in_flight` 0 means
 * unlimited; `max_queue` 0 means no waiting; `queue_timeout_ms` < 0 is 0.
 */
void lingma__admission_init(struct lingma__admission *a, unsigned max_in_flight, unsigned max_queue,
                            int64_t queue_timeout_ms);

void lingma__adm_entry_init(struct lingma__adm_entry *e);

/**
 * Admits `e` (IDLE) when a slot is free and nobody waits (FIFO: a newcomer
 * never overtakes the queue), else queues it when there is room, else
 * rejects it. On REJECTED `retry_after_ms` (may be NULL) receives the hint of
 * lingma__admission_retry_after_ms().
 */
enum lingma__adm_result lingma__admission_try(struct lingma__admission *a,
                                              struct lingma__adm_entry *e, int64_t now_ms,
                                              int64_t *retry_after_ms);

/**
 * Frees the slot held by `e` (ACTIVE; it becomes IDLE) and, when a chat is
 * waiting, gives the slot to the head of the queue: that entry is returned
 * ACTIVE and counted, and the caller must start its chat. Strict FIFO: the
 * head is admitted even if its deadline passed since the last expire().
 * Also feeds the service-time average used by the retry-after hint.
 * @return the newly admitted entry or NULL.
 */
struct lingma__adm_entry *lingma__admission_release(struct lingma__admission *a,
                                                    struct lingma__adm_entry *e, int64_t now_ms);

/**
 * Pops the head of the queue if its deadline is at or before `now_ms` (it
 * becomes IDLE and counts as rejected and expired). Call in a loop. The
 * caller ends that chat with a terminal LINGMA_EBUSY event.
 * @return an expired entry or NULL.
 */
struct lingma__adm_entry *lingma__admission_expire(struct lingma__admission *a, int64_t now_ms);

/**
 * Removes a QUEUED entry whose chat was cancelled (it never reaches Lingma).
 * @return true if it was queued; false (no-op) otherwise.
 */
bool lingma__admission_remove(struct lingma__admission *a, struct lingma__adm_entry *e);

/**
 * End of a chat in any state: ACTIVE -> release() (returns the next entry to
 * start), QUEUED -> remove() (returns NULL), IDLE -> nothing (NULL).
 */
struct lingma__adm_entry *lingma__admission_finish(struct lingma__admission *a,
                                                   struct lingma__adm_entry *e, int64_t now_ms);

/**
 * The earliest queue deadline (for the caller's timer), or INT64_MAX when
 * nothing is queued.
 */
int64_t lingma__admission_next_deadline(const struct lingma__admission *a);

/**
 * The retry-after hint for a rejected chat, in milliseconds, never below
 * LINGMA__ADM_MIN_RETRY_MS. Once slot hold times have been observed it is
 * the expected time until a newcomer would get a slot if it joined the back
 * of the queue now: (queued + 1) * avg_service / max_in_flight, capped at
 * the queue timeout (a queued chat never waits longer than that, so a client
 * retrying after it competes with a queue that has turned over entirely).
 * Before any sample, and with no limit, it is the queue timeout (or the
 * minimum when that is shorter).
 */
int64_t lingma__admission_retry_after_ms(const struct lingma__admission *a);

void lingma__admission_stats(const struct lingma__admission *a, struct lingma__adm_stats *out);

/** State of an entry (IDLE, QUEUED or ACTIVE). */
enum lingma__adm_state lingma__adm_entry_state(const struct lingma__adm_entry *e);

#endif
