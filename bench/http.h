/* lingma-bench: the HTTP driver (libcurl multi, one thread, SSE parsed incrementally). */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include "bench.h"

struct http;

/* A client of the OpenAI API at `base_url` ("http://127.0.0.1:PORT").
 * Connections are kept alive across runs of the same client. */
int http_open(struct http **out, const char *base_url);
/* Offer `load` to the route of `load->api` (POST /v1/chat/completions,
 * /v1/messages or /v1/responses); fills `r` (zeroed by the caller).
 * Returns 0, -1 when the run could not be driven at all. */
int http_run(struct http *h, const struct load *load, struct run *r);
void http_close(struct http *h);

/* The SSE parser, exposed for the driver's own use and its tests: feed bytes
 * at arbitrary boundaries; each complete `data:` line is classified by the
 * stream shape of `api`, with the `event:` line before it when there is one:
 *
 *   api        text delta                            success              error
 *   chat       "content":" of a chunk                data: [DONE]         data: {"error"
 *   messages   "text":" of content_block_delta       message_stop         event: error
 *   responses  "delta":" of response.output_text.delta  response.completed  response.failed
 *
 * An event of the Messages or Responses API without an `event:` line is
 * named by its data's leading {"type":"..."}. */
struct sse {
    char *line;
    size_t len, cap;
    enum bench_api api;
    int event;  /* what the pending `event:` line named (sse.c), until its data */
    int done;   /* saw the success end of the stream */
    int error;  /* saw an error event */
    int tokens; /* content chunks with non-empty content */
    int events; /* data lines */
};

/* Per content chunk: `stamp_ns` is the sim's send stamp (0 when none). */
typedef void (*sse_chunk_fn)(uint64_t stamp_ns, void *arg);
/* Returns 0, or -1 when a line grew beyond a sane size (a broken stream). */
int sse_feed(struct sse *s, const char *buf, size_t n, sse_chunk_fn on_chunk, void *arg);
/* Ready for the next stream, of `api`; keeps the line buffer. */
void sse_reset(struct sse *s, enum bench_api api);
/* What ends a stream of `api` successfully, for error messages. */
const char *sse_end_name(enum bench_api api);
void sse_free(struct sse *s);

#endif
