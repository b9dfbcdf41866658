/* lingma-bench: medians over repeats, the goals, the table and the JSON file. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include <jansson.h>

/* {"runs":[{k:v}...]} -> adds "summary":{k:{"median","min","max"}} for
 * every number of the runs. Applies to every object in `root` that has a
 * "runs" array, recursively. */
void report_summarize(json_t *root);

/* Evaluate the goals of issue 7 into root["goals"]. */
void report_goals(json_t *root);

/* The human-readable table. */
void report_table(FILE *f, json_t *root);

/* Write root as <dir>/lingma-bench.json and the table as <dir>/lingma-bench.txt. */
int report_write(json_t *root, const char *dir);

#endif
