/* lingma-bench: the cost probe (see cost.h). */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"
#include "procs.h"

int
malloc_counts_read(const char *file, struct malloc_counts *out)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, out, sizeof(*out), 0);
    close(fd);
    return n == (ssize_t)sizeof(*out) && out->magic == MALLOC_COUNT_MAGIC ? 0 : -1;
}

static double
clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU and context switches of what is measured, now. */
static void
sample(const struct cost *c, double *cpu, long *ctxsw)
{
    if (c->pid > 0) {
        *cpu = proc_cpu_ns(c->pid);
        *ctxsw = proc_ctxsw(c->pid, 0);
        return;
    }
    double all = clock_ns(CLOCK_PROCESS_CPUTIME_ID), me = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    *cpu = all >= 0 && me >= 0 ? all - me : -1;
    *ctxsw = proc_ctxsw(getpid(), gettid());
}

void
cost_begin(struct cost *c, pid_t pid, const char *mc_file)
{
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    c->mc_file = mc_file;
    /* Found before the window opens: the /proc walk is not the driver's. */
    c->sim_pid = proc_child_named(pid > 0 ? pid : getpid(), "lingma-sim");
    sample(c, &c->cpu_ns, &c->ctxsw);
    c->driver_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    c->sim_ns = c->sim_pid > 0 ? proc_cpu_ns(c->sim_pid) : -1;
    c->mc_ok = mc_file && malloc_counts_read(mc_file, &c->mc) == 0;
}

void
cost_end(struct cost *c)
{
    double cpu;
    long ctxsw;
    struct malloc_counts mc;
    sample(c, &cpu, &ctxsw);
    double me = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    c->driver_ns = me >= 0 && c->driver_ns >= 0 ? me - c->driver_ns : -1;
    c->cpu_ns = cpu >= 0 && c->cpu_ns >= 0 ? cpu - c->cpu_ns : -1;
    c->ctxsw = ctxsw >= 0 && c->ctxsw >= 0 ? ctxsw - c->ctxsw : -1;
    double sim = c->sim_pid > 0 ? proc_cpu_ns(c->sim_pid) : -1;
    c->sim_ns = sim >= 0 && c->sim_ns >= 0 ? sim - c->sim_ns : -1;
    if (c->mc_ok && malloc_counts_read(c->mc_file, &mc) == 0) {
        c->mc.allocs = mc.allocs - c->mc.allocs;
        c->mc.reallocs = mc.reallocs - c->mc.reallocs;
        c->mc.frees = mc.frees - c->mc.frees;
        c->mc.bytes = mc.bytes - c->mc.bytes;
    } else {
        c->mc_ok = 0;
    }
}

void
cost_record(const struct cost *c, json_t *run, unsigned long requests)
{
    double n = (double)requests;
    if (!requests)
        return;
    if (c->cpu_ns >= 0)
        json_object_set_new(run, "cpu_us_per_req", json_real(c->cpu_ns / 1e3 / n));
    if (c->ctxsw >= 0)
        json_object_set_new(run, "ctxsw_per_req", json_real((double)c->ctxsw / n));
    if (c->driver_ns >= 0)
        json_object_set_new(run, "driver_cpu_us_per_req", json_real(c->driver_ns / 1e3 / n));
    if (c->sim_ns >= 0)
        json_object_set_new(run, "sim_cpu_us_per_req", json_real(c->sim_ns / 1e3 / n));
    if (c->mc_ok) {
        json_object_set_new(run, "allocs_per_req",
                            json_real((double)(c->mc.allocs + c->mc.reallocs) / n));
        json_object_set_new(run, "alloc_bytes_per_req", json_real((double)c->mc.bytes / n));
    }
}
