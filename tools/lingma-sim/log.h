/*
 * lingma-sim: the log, <workDir>/logs/lingma.log, one line per event with
 * a wall-clock timestamp. Tests grep it ("chat/stop requestId=..."), so
 * every line is flushed at once. Per-delta events are not logged: at
 * 20,000 pushes/s the log would become the bottleneck.
 */
#ifndef LINGMA_SIM_LOG_H
#define LINGMA_SIM_LOG_H

#include <stdio.h>

struct sim_log {
    FILE *f;
};

/* Open (append) <workDir>/logs/lingma.log. On failure the log stays silent. */
void sim_log_open(struct sim_log *log, const char *work_dir);
void sim_log_close(struct sim_log *log);
void sim_logf(struct sim_log *log, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
