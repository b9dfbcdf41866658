/* lingma-sim: the --help text (every flag and setting, with examples). */
#ifndef LINGMA_SIM_HELP_H
#define LINGMA_SIM_HELP_H

#include <stdio.h>

void sim_print_help(FILE *out);

#endif
