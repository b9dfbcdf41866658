/*
 * LINGMA_EXIT_WITH_PARENT: lingma-sim and lingma-gatewayd die with the
 * process that started them, so that a test (or benchmark) that dies, even
 * of SIGKILL, leaves none of them behind. Documented in doc/lingma-sim.md
 * and doc/gatewayd.md.
 *
 *   unset, empty or 0  off
 *   1                  ask the kernel for SIGKILL when our parent exits
 *                      (PR_SET_PDEATHSIG), and exit at once when the parent
 *                      has already changed
 *   a pid              the same, and exit at once when that process (the
 *                      one that started us) is gone or a zombie: a parent
 *                      that died before prctl() would never signal us
 *
 * When on, the variable is set to our own pid for what we spawn: a
 * lingma-gatewayd started by a test passes it on to the simulators
 * liblingma starts for it, which then check against the daemon.
 *
 * PR_SET_PDEATHSIG fires when the parent *thread* that forked us exits, not
 * the whole process. That is what we want here: the test runner starts its
 * children from the thread that stops them (procrun.h), and lingma-gatewayd
 * spawns its simulators on the pool's service thread, which exits only in
 * lingma_pool_free(), after it has sent them SIGINT to stop them anyway.
 *
 * Header-only, for the main() of both programs; Linux only.
 */
#ifndef LINGMA_TOOLS_EXIT_WITH_PARENT_H
#define LINGMA_TOOLS_EXIT_WITH_PARENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#define EXIT_WITH_PARENT_ENV "LINGMA_EXIT_WITH_PARENT"

/* true when `pid` exists and is neither a zombie nor dead. */
static inline bool
exit_with_parent_running(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* the name may hold ')' itself */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/*
 * Honour LINGMA_EXIT_WITH_PARENT. Call first thing in main(), before any
 * thread exists (it may setenv). Returns 0 to go on, -1 when the process
 * must exit now (its parent is gone, or prctl failed).
 */
static inline int
exit_with_parent_arm(void)
{
    const char *v = getenv(EXIT_WITH_PARENT_ENV);
    if (!v || !*v || strcmp(v, "0") == 0)
        return 0;
    char *end;
    long starter = strtol(v, &end, 10);
    pid_t before = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return -1;
    if (getppid() != before)
        return -1;
    /* `before` is the reaper already when the starter died before we ran. */
    if (*end == '\0' && starter > 1 && starter != (long)before &&
        !exit_with_parent_running(starter))
        return -1;
    char self[32];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    setenv(EXIT_WITH_PARENT_ENV, self, 1);
    return 0;
}

#endif
