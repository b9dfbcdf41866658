/*
 * lingma-sim: the lws server (the only file that includes libwebsockets.h):
 * the WebSocket vhost on the socket port, the HTTP login vhost on the HTTP
 * port, the signal fd adopted into the same service loop, and timers.
 */
#ifndef LINGMA_SIM_SERVER_H
#define LINGMA_SIM_SERVER_H

#include "sim.h"

/* Silence lws (errors only) before anything else touches it. */
void sim_server_quiet_logs(void);

/* Create the context (no listener yet). `sigfd` is a signalfd; 0 or -1. */
int sim_server_create(struct sim *sim, int sigfd);

/*
 * Listen for WebSocket on 127.0.0.1:`ws_port` and for HTTP on `http_port`.
 * A busy port or 0 gives an ephemeral one. Sets sim->ws_port and
 * sim->http_port. 0 or -1.
 */
int sim_server_listen(struct sim *sim, int ws_port, int http_port);

/* Run the service loop until sim->stop. */
void sim_server_run(struct sim *sim);

/* Close every connection and destroy the context. */
void sim_server_destroy(struct sim *sim);

/* A port that is free right now on 127.0.0.1 (`port` itself when free, else ephemeral). */
int sim_pick_port(int port);

#endif
