/* lingma-bench: the processes it starts, and what it reads about them. */
#ifndef BENCH_PROCS_H
#define BENCH_PROCS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* A fresh directory under $TMPDIR; NULL on failure. */
char *bench_tempdir(const char *tag);
/* Remove a directory tree and free the string; NULL is accepted. */
void bench_rmtree(char *dir);
/* A free loopback TCP port (bound then released), 0 on failure. */
unsigned bench_free_port(void);
/* Raise RLIMIT_NOFILE's soft limit to `want` (capped by the hard limit);
 * returns the resulting soft limit. Children inherit it. */
long bench_raise_nofile(long want);

/* A running lingma-gatewayd (which spawns lingma-sim itself). */
struct gateway {
    pid_t pid;
    char url[128]; /* "http://127.0.0.1:PORT" */
    char *dir;     /* temp dir: work dir and logs */
};

/* Start lingma-gatewayd on an ephemeral port with `env` (NULL-terminated
 * "NAME=value", gateway and LINGMA_SIM_* settings) added to ours, wait
 * for its URL on stdout and for /healthz to report a ready instance.
 * Returns 0, or -1 with a message in `err` (the process is then ended). */
int gateway_start(struct gateway *g, const char *gw_bin, const char *sim_bin,
                  const char *const *env, char *err, size_t errlen);
/* SIGTERM, then SIGKILL after a grace period; reaps; removes the temp dir. */
void gateway_stop(struct gateway *g);

/* Write what a stalled gateway shows into a new directory under `out`:
 * first what can be seen without waking it (threads' syscalls, socket
 * queues), then gdb backtraces of it and its simulator when gdb is
 * installed (plus the gdb scripts named by $LINGMA_BENCH_GDB_GW and
 * $LINGMA_BENCH_GDB_SIM), its /metrics and /healthz, `lingma-sim status`
 * and both logs. */
void gateway_evidence(const struct gateway *g, const char *sim_bin, const char *out);

/* Resident set size and its peak (VmHWM) in KiB, -1 when unknown. */
long proc_rss_kb(pid_t pid);
long proc_hwm_kb(pid_t pid);
/* User + system CPU seconds of a process, -1 when unknown. */
double proc_cpu_s(pid_t pid);
/* CPU nanoseconds of a process (all its threads) from its CPU-time clock:
 * /proc's clock ticks are 10 ms, too coarse for the cost of one request.
 * -1 when unknown. */
double proc_cpu_ns(pid_t pid);

/* Voluntary plus involuntary context switches of every thread of `pid`
 * but `skip_tid` (0: none), summed over /proc/PID/task/TID/status (the
 * process's own status file counts its main thread only); -1 when
 * unknown. Threads that exited take their counts with them. */
long proc_ctxsw(pid_t pid, pid_t skip_tid);
/* The numeric /proc/PID/task/TID/status field `key` summed over the threads
 * of `pid` but `skip_tid`; with `zeros`, also how many have it at 0. -1
 * when `pid` is unknown. */
long proc_tasks_status(pid_t pid, pid_t skip_tid, const char *key, long *zeros);

/* The first child of `parent` whose comm is `comm` (15 bytes at most), 0
 * when none: the simulator a gateway or the direct pool spawned. */
pid_t proc_child_named(pid_t parent, const char *comm);

/* Facts about this machine and build, as a JSON object. */
json_t *machine_facts(void);

#endif
