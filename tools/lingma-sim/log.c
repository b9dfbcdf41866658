/* lingma-sim: log file, see log.h. */
#include "log.h"

#include <limits.h>
#include <stdarg.h>
#include <time.h>

#include "files.h"

void
sim_log_open(struct sim_log *log, const char *work_dir)
{
    char path[PATH_MAX];
    log->f = NULL;
    if (sim_mkdir_sub(work_dir, "logs"))
        return;
    if (snprintf(path, sizeof(path), "%s/logs/lingma.log", work_dir) >= (int)sizeof(path))
        return;
    log->f = fopen(path, "ae");
}

void
sim_log_close(struct sim_log *log)
{
    if (log->f)
        fclose(log->f);
    log->f = NULL;
}

void
sim_logf(struct sim_log *log, const char *level, const char *fmt, ...)
{
    if (!log->f)
        return;
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(log->f, "%s.%03ld %s ", when, ts.tv_nsec / 1000000, level);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log->f, fmt, ap);
    va_end(ap);
    fputc('\n', log->f);
    fflush(log->f);
}
