/*
 * notify: the systemd service-manager protocol (sd_notify(3)) for a
 * Type=notify unit (deploy/lingma-gatewayd.service).
 *
 *   READY=1     once the listener is up (after the "listening" line)
 *   STOPPING=1  when a drain starts (SIGTERM/SIGINT)
 *   WATCHDOG=1  every half WatchdogSec= (WATCHDOG_USEC), from main's wait
 *               loop and its drain loop, each time after the daemon's own
 *               loops answered (main.c decides what "answered" means)
 *
 * Built with libsystemd when meson's `systemd` feature finds it
 * (GW_HAVE_SYSTEMD); without it, or when the process was not started by a
 * service manager (no NOTIFY_SOCKET), every call is a no-op. Main thread
 * only: sd_notify reads the environment, which nothing changes after
 * start-up.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <stdbool.h>

/* true when built with libsystemd. */
bool gw_notify_available(void);

/* READY=1, with a STATUS= line naming the URL (may be NULL). */
void gw_notify_ready(const char *url);
/* STOPPING=1 with STATUS=draining. */
void gw_notify_stopping(void);
/* WATCHDOG=1. */
void gw_notify_watchdog(void);
/* How often to send WATCHDOG=1, in milliseconds: half of WATCHDOG_USEC
 * (at least 1), or 0 when no watchdog is set for this process. */
unsigned gw_notify_watchdog_interval_ms(void);

#endif
