/*
 * liblingma umbrella header: include this one.
 */
#ifndef LINGMA_LINGMA_H
#define LINGMA_LINGMA_H

#include "lingma/common.h"
#include "lingma/pool.h"
#include "lingma/chat.h"
#include "lingma/tools.h"

#endif /* LINGMA_LINGMA_H */
