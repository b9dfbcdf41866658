/*
 * lingma-sim: the chat engine. One struct sim_chat per chat/ask, owned by
 * its connection, driven by two embedded timers (delays, ACK wait) and by
 * the ACKs of its pushes. See chat.c for the order of the pushes.
 */
#ifndef LINGMA_SIM_CHAT_H
#define LINGMA_SIM_CHAT_H

#include "sim.h"

#endif
