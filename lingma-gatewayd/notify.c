/* sd_notify(3) for a Type=notify unit; see notify.h. */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>

#ifdef GW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

bool
gw_notify_available(void)
{
    return true;
}

void
gw_notify_ready(const char *url)
{
    char msg[400];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=listening on %s", url ? url : "?");
    sd_notify(0, msg);
}

void
gw_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void
gw_notify_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}

unsigned
gw_notify_watchdog_interval_ms(void)
{
    uint64_t usec = 0;
    /* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is us). */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    uint64_t ms = usec / 2000;
    return ms == 0 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (unsigned)ms;
}

#else /* without libsystemd: no service manager to talk to */

bool
gw_notify_available(void)
{
    return false;
}

void
gw_notify_ready(const char *url)
{
    (void)url;
}

void
gw_notify_stopping(void)
{
}

void
gw_notify_watchdog(void)
{
}

unsigned
gw_notify_watchdog_interval_ms(void)
{
    return 0;
}

#endif
