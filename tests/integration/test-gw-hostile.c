/*
 * lingma-gatewayd under hostile input (issue 10): the real daemon on
 * lingma-sim, driven over raw TCP sockets on 127.0.0.1 with requests no
 * well-behaved client would send.
 *
 * Every case is one row of a table: the raw request bytes (embedded NULs,
 * CR/LF variants, pipelined or smuggled requests), how the client behaves
 * (half-closing with shutdown(SHUT_WR) right after sending, or delivering
 * the head one byte per segment), which daemon configuration it runs
 * against (API keys, CORS, connection memory), and what must come back: the
 * status (or a documented set where libmicrohttpd answers on its own, the
 * rows marked mhd_owned), our OpenAI error envelope with x-request-id and
 * Content-Type, required or forbidden headers, whether the connection is
 * closed, whether a request hidden after the refused one is ever answered,
 * and side effects: no login starts, and a refused chat never reaches
 * lingma-sim. For the latter a sentinel chat follows the case (chats are
 * dispatched in order), then the daemon's log must show no dispatch
 * ("chat N -> inst-0") but the sentinel's; the final test checks that
 * lingma-sim's chats_started never exceeds the dispatches in the log, so
 * the log accounts for every chat lingma-sim ran. Half-closed valid chats
 * are checked on lingma-sim directly (chats_started, stops_received).
 *
 * After every case the daemon must still run (its pid) and serve (GET
 * /healthz 200 on a fresh connection); a daemon that died is restarted and
 * the case fails with the tail of its log (the ASan report, in a sanitized
 * build). One daemon per configuration is shared by all the cases that use
 * it; the final test checks that none leaked a slot and that each exits 0
 * on SIGTERM. Every send uses MSG_NOSIGNAL; EPIPE and ECONNRESET are
 * results, not errors. Every wait is bounded and ends on a condition (EOF,
 * a complete response, a counter); the only pause paces the one-byte sends.
 *
 * The counts per group, what libmicrohttpd did for each mhd_owned row and
 * the slowest cases are printed at the end. GW_HOSTILE_ONLY=<substring>
 * runs the matching cases ("framing/", "/trickle"); GW_HOSTILE_TIMES=1
 * prints every case's duration.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gwd.h"

/* ---- request fragments ------------------------------------------------- */

#define KEY1      "sk-hostile-key-1"
#define KEY2      "sk-hostile-key-2"
#define HOST      "Host: 127.0.0.1\r\n"
#define AUTH      "Authorization: Bearer " KEY1 "\r\n"
#define JSONCT    "Content-Type: application/json\r\n"
#define CLOSE     "Connection: close\r\n"
#define CHAT_BODY "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
_Static_assert(sizeof(CHAT_BODY) - 1 == 45, "CHAT_BODY is 45 bytes (0x2d)");
#define POST_CHAT "POST /v1/chat/completions HTTP/1.1\r\n" HOST
/* A valid chat with the key; @CL@ becomes the length of what follows the
 * blank line. */
#define CHATB(body)  POST_CHAT AUTH JSONCT "Content-Length: @CL@\r\n\r\n" body
#define CHAT_OK      CHATB(CHAT_BODY)
#define CHAT_NOKEY   POST_CHAT JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY
#define CHUNKED_CHAT "2d\r\n" CHAT_BODY "\r\n0\r\n\r\n"
/* A well-formed request whose answer would carry this id: it must never be
 * answered when it hides behind a refused request. */
#define SMUGGLE           "GET /healthz HTTP/1.1\r\n" HOST "x-request-id: SMUGGLED\r\n\r\n"
#define GETH(path, extra) "GET " path " HTTP/1.1\r\n" HOST extra "\r\n"
#define MSG1              "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

/* ---- the table ---------------------------------------------------------- */

enum grp { G_HTTP, G_FRAMING, G_AUTH, G_ROUTES, G_JSON, G_HALF, G_CORS, G_N };
static const char *const grp_name[G_N] = {"http", "framing",     "auth",     "routes",
                                          "json", "half-closed", "cors-head"};

enum cfg { C_KEYS, C_OPEN, C_CORS, C_CORS_STAR, C_MEM16K, C_N };

enum {
    F_SHUT = 1 << 0,    /* shutdown(SHUT_WR) right after sending */
    F_CLOSE = 1 << 1,   /* the connection must be closed after the answer */
    F_MHD = 1 << 2,     /* mhd_owned: libmicrohttpd may answer itself */
    F_ENVOPT = 1 << 3,  /* libmicrohttpd's own answer accepted (far above a limit) */
    F_NOCHAT = 1 << 4,  /* the chat must not reach lingma-sim */
    F_NOLOGIN = 1 << 5, /* no login attempt may start */
    F_SMUGGLE = 1 << 6, /* nothing after the head is answered ("SMUGGLED") */
    F_HEAD = 1 << 7,    /* a HEAD request: no body may follow the headers */
    F_NOT200 = 1 << 8,  /* anything but a 200 (half-closed valid chat) */
    F_GONE = 1 << 9,    /* the chat never started or was stopped upstream */
    F_NOCT = 1 << 10,   /* success Content-Type is not JSON (metrics, SSE) */
    F_NO100 = 1 << 11,  /* no "100 Continue" before the final answer */
    F_RSTOK = 1 << 12,  /* a reset may cut the answer short (body still sending) */
    /* An incomplete request then FIN: libmicrohttpd 0.9.75 may miss a FIN
     * that arrives with the last data (edge-triggered epoll, fixed in
     * 0.9.76) and keep the connection until its idle timeout (60 s), so an
     * open connection without an answer is accepted after a short wait. */
    F_LINGER = 1 << 13,
    /* Fragmented delivery: one byte per segment (TCP_NODELAY, 1 ms apart),
     * so that the daemon sees the head in many reads. */
    F_TRICKLE = 1 << 14,
    /* A half-closed client of a stream whose FIN reached the gateway only
     * after the stream's status line went out (a race no server can win):
     * a 200 is accepted if the stream was then cut, with no end marker
     * and no finish reason, so that nothing looks complete. */
    F_CUTOK = 1 << 15,
    /* No answer, or a complete 200 (see valid-chat-fast-half-closed). */
    F_WHOLEOK = 1 << 16,
};

#define NORESP (-1) /* "closed without an answer" in a status set */

struct hcase {
    enum grp grp;
    enum cfg cfg;
    const char *name;
    const char *req; /* raw bytes (req_len of them), or NULL with gen */
    size_t req_len;
    void (*gen)(void *o, long arg);
    long arg;
    unsigned flags;
    int st[6];            /* accepted statuses, 0-terminated; NORESP allowed */
    const char *code;     /* "a|b": accepted error codes */
    const char *type;     /* error type; default invalid_request_error for 4xx */
    const char *param;    /* exact error param; "-" for null */
    const char *hdr;      /* '\n'-separated header rules, see hdr_rule() */
    const char *body_has; /* substring of the first answer's body */
    const char *never;    /* substring that must appear nowhere in the bytes */
    const char *ids;      /* "a,b": pipelined answers in this order */
    const char *sim;      /* sim.json during the case */
    const char *head_of;  /* HEAD: Content-Length equals GET <path>'s body */
    int wait_ms;          /* read deadline (default 2000) */
    int repeat;           /* a burst: this many connections, all sent before any read */
};

#define RQ(s)   .req = (s), .req_len = sizeof(s) - 1
#define ST(...) .st = {__VA_ARGS__}

/* Generators for requests too large or too regular to write out. */
struct obuf {
    char *p;
    size_t n, cap;
};

static void
ob_add(struct obuf *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void
ob_str(struct obuf *b, const char *s)
{
    ob_add(b, s, strlen(s));
}

static void
ob_fill(struct obuf *b, char c, size_t n)
{
    char chunk[1024];
    memset(chunk, c, sizeof(chunk));
    while (n) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        ob_add(b, chunk, k);
        n -= k;
    }
}

static void ob_fmt(struct obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ob_fmt(struct obuf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        ob_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A header block (request line through the blank line) of exactly `size`
 * bytes: `prefix`, an X-Pad header, the blank line; then `body`. */
static void
block(struct obuf *o, const char *prefix, long size, const char *body)
{
    size_t fixed = strlen(prefix) + strlen("X-Pad: ") + 2 + 2;
    size_t pad = (size_t)size > fixed ? (size_t)size - fixed : 1;
    ob_str(o, prefix);
    ob_str(o, "X-Pad: ");
    ob_fill(o, 'a', pad);
    ob_str(o, "\r\n\r\n");
    ob_str(o, body);
}

static void
gen_block_healthz(void *o, long size)
{
    block(o, "GET /healthz HTTP/1.1\r\n" HOST, size, "");
}

static void
gen_block_chat(void *o, long size)
{
    block(o, POST_CHAT AUTH JSONCT "Content-Length: 45\r\n", size, CHAT_BODY);
}

static void
gen_many_headers(void *o, long count)
{
    ob_str(o, "GET /healthz HTTP/1.1\r\n" HOST);
    for (long i = 0; i < count; i++)
        ob_fmt(o, "X-H%05ld: v\r\n", i);
    ob_str(o, "\r\n");
}

static void
gen_long_target(void *o, long n)
{
    ob_str(o, "GET /healthz?q=");
    ob_fill(o, 'a', (size_t)n);
    ob_str(o, " HTTP/1.1\r\n" HOST "\r\n");
}

/* A target with `n` query arguments: libmicrohttpd stores each in the
 * connection's pool while it parses the request line. */
static void
gen_query_args(void *o, long n)
{
    ob_str(o, "GET /healthz?a");
    for (long i = 1; i < n; i++)
        ob_str(o, "&a");
    ob_str(o, " HTTP/1.1\r\n" HOST "\r\n");
}

static void
gen_cookies(void *o, long n)
{
    ob_str(o, "GET /healthz HTTP/1.1\r\n" HOST "Cookie: c0=1");
    for (long i = 1; i < n; i++)
        ob_fmt(o, "; c%ld=1", i);
    ob_str(o, "\r\n\r\n");
}

static void
gen_long_model(void *o, long n)
{
    ob_str(o, "GET /v1/models/m");
    ob_fill(o, 'm', (size_t)n);
    ob_str(o, " HTTP/1.1\r\n" HOST AUTH "\r\n");
}

static void
gen_long_key(void *o, long n)
{
    ob_str(o, "GET /v1/models HTTP/1.1\r\n" HOST "Authorization: Bearer ");
    ob_fill(o, 'k', (size_t)n);
    ob_str(o, "\r\n\r\n");
}

/* A chat whose ignored "metadata.x" field nests `depth` arrays: with the
 * root object and metadata, depth + 2 levels. */
static void
gen_deep(void *o, long depth)
{
    struct obuf body = {0};
    ob_str(&body, "{" MSG1 ",\"metadata\":{\"x\":");
    ob_fill(&body, '[', (size_t)depth);
    ob_fill(&body, ']', (size_t)depth);
    ob_str(&body, "}}");
    ob_fmt(o, POST_CHAT AUTH JSONCT "Content-Length: %zu\r\n\r\n", body.n);
    ob_add(o, body.p, body.n);
    free(body.p);
}

/* A run of `n` '[' as the whole body (no closing brackets). */
static void
gen_bracket_run(void *o, long n)
{
    ob_fmt(o, POST_CHAT AUTH JSONCT "Content-Length: %ld\r\n\r\n", n);
    ob_fill(o, '[', (size_t)n);
}

static void
gen_chunked_over(void *o, long total)
{
    ob_str(o, POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n");
    for (long left = total; left > 0;) {
        long k = left < 16384 ? left : 16384;
        ob_fmt(o, "%lx\r\n", k);
        ob_fill(o, ' ', (size_t)k);
        ob_str(o, "\r\n");
        left -= k;
    }
    ob_str(o, "0\r\n\r\n");
}

static void
gen_chunk_ext(void *o, long n)
{
    ob_str(o, POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d;e=");
    ob_fill(o, 'e', (size_t)n);
    ob_str(o, "\r\n" CHAT_BODY "\r\n0\r\n\r\n");
}

/* The head of a chat announcing `n` bytes; the body is never sent. */
static void
gen_cl_only(void *o, long n)
{
    ob_fmt(o, POST_CHAT AUTH JSONCT "Content-Length: %ld\r\n\r\n", n);
}

static void
gen_cl_expect(void *o, long n)
{
    ob_fmt(o, POST_CHAT AUTH JSONCT "Expect: 100-continue\r\nContent-Length: %ld\r\n\r\n", n);
}

static void
gen_cl_expect_nokey(void *o, long n)
{
    ob_fmt(o, POST_CHAT JSONCT "Expect: 100-continue\r\nContent-Length: %ld\r\n\r\n", n);
}

/* The head and all `n` bytes of the body. */
static void
gen_cl_body(void *o, long n)
{
    ob_fmt(o, POST_CHAT AUTH JSONCT "Content-Length: %ld\r\n\r\n", n);
    ob_fill(o, ' ', (size_t)n);
}

static void
gen_long_stop(void *o, long n)
{
    struct obuf body = {0};
    ob_str(&body, "{" MSG1 ",\"stop\":\"");
    ob_fill(&body, 's', (size_t)n);
    ob_str(&body, "\"}");
    ob_fmt(o, POST_CHAT AUTH JSONCT "Content-Length: %zu\r\n\r\n", body.n);
    ob_add(o, body.p, body.n);
    free(body.p);
}

#define GEN(f, a) .gen = (f), .arg = (a)

/* Flag sets used by many rows. */
#define REFUSE_HDR  (F_CLOSE | F_NOCHAT | F_SMUGGLE)
#define BAD_HEADER  ST(400), .code = "bad_header", .hdr = "connection: close"
#define BAD_FRAMING ST(400), .code = "bad_framing", .hdr = "connection: close"
#define BAD_TARGET  ST(400), .code = "bad_request_target"
/* A raw NUL in the request target: issue 10's contract said bad_header,
 * doc/gatewayd.md files it under the target rules (bad_request_target). */
#define NUL_TARGET    ST(400), .code = "bad_request_target", .hdr = "connection: close"
#define TOO_LARGE     ST(431), .code = "headers_too_large", .hdr = "connection: close"
#define UNAUTH        ST(401), .code = "invalid_api_key", .hdr = "www-authenticate: Bearer*"
#define DUPCRED       ST(400), .code = "duplicate_credentials"
#define NOT_FOUND     ST(404), .code = "not_found"
#define ALLOW_GET     ST(405), .code = "method_not_allowed", .hdr = "allow: GET, HEAD"
#define ALLOW_POST    ST(405), .code = "method_not_allowed", .hdr = "allow: POST"
#define BADJSON       ST(400), .code = "invalid_json", .param = "-", .flags = F_NOCHAT
#define JSONERR(c, p) ST(400), .code = (c), .param = (p), .flags = F_NOCHAT /* JSON semantics */
#define MHD_CL        ST(400), .flags = F_MHD | F_CLOSE | F_NOCHAT /* MHD's Content-Length 400 */
#define MHD_CHUNK                                                                                  \
    ST(400, 413, 500, NORESP), .flags = F_MHD | F_CLOSE | F_NOCHAT /* MHD's chunk parser */

static struct hcase cases[] = {
    /* ---- http: request line, versions, methods, targets, header bytes,
     * sizes, pipelining ------------------------------------------------ */
    {G_HTTP, C_KEYS, "healthz", RQ(GETH("/healthz", "")), ST(200), .body_has = "\"status\":\"ok\""},
    {G_HTTP, C_KEYS, "healthz-conn-close", RQ(GETH("/healthz", CLOSE)), ST(200), .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "http10-no-host", RQ("GET /healthz HTTP/1.0\r\n\r\n"), ST(200),
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "http10-keepalive",
     RQ("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), ST(200)},
    {G_HTTP, C_KEYS, "http11-no-host", RQ("GET /healthz HTTP/1.1\r\n\r\n"), ST(200, 400)},
    {G_HTTP, C_KEYS, "http09", RQ("GET /healthz\r\n\r\n"), ST(400, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "http09-fin", RQ("GET /\r\n"), ST(400, NORESP),
     .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "h2-preface", RQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ST(505, 400, NORESP),
     .flags = F_MHD},
    {G_HTTP, C_KEYS, "h2c-upgrade-ignored",
     RQ(GETH("/healthz", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                         "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")),
     ST(200)},
    {G_HTTP, C_KEYS, "websocket-upgrade-ignored",
     RQ(GETH("/v1/models", AUTH "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                                "dGhlIHNhbXBsZSBub25jZQ==\r\n")),
     ST(200)},
    {G_HTTP, C_KEYS, "version-1.2", RQ("GET /healthz HTTP/1.2\r\n" HOST "\r\n"), ST(200, 505, 400),
     .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-9.9", RQ("GET /healthz HTTP/9.9\r\n" HOST "\r\n"),
     ST(505, 400, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-2.0", RQ("GET /healthz HTTP/2.0\r\n" HOST "\r\n"),
     ST(505, 400, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-0.9", RQ("GET /healthz HTTP/0.9\r\n" HOST "\r\n"),
     ST(505, 400, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-lowercase", RQ("GET /healthz http/1.1\r\n" HOST "\r\n"),
     ST(400, 505, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-1.10", RQ("GET /healthz HTTP/1.10\r\n" HOST "\r\n"),
     ST(400, 505, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-no-slash", RQ("GET /healthz HTTP1.1\r\n" HOST "\r\n"),
     ST(400, 505, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "version-trailing-space", RQ("GET /healthz HTTP/1.1 \r\n" HOST "\r\n"),
     ST(200, 400), .flags = F_MHD},
    {G_HTTP, C_KEYS, "method-lowercase", RQ("get /healthz HTTP/1.1\r\n" HOST "\r\n"), ALLOW_GET},
    {G_HTTP, C_KEYS, "method-unknown", RQ("BREW /healthz HTTP/1.1\r\n" HOST "\r\n"), ALLOW_GET},
    {G_HTTP, C_KEYS, "method-long",
     RQ("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXX /healthz HTTP/1.1\r\n" HOST "\r\n"),
     ALLOW_GET},
    {G_HTTP, C_KEYS, "method-empty", RQ(" /healthz HTTP/1.1\r\n" HOST "\r\n"), ST(400, NORESP),
     .flags = F_MHD},
    {G_HTTP, C_KEYS, "method-connect-authority",
     RQ("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n"), ST(400, 404, 405)},
    {G_HTTP, C_KEYS, "method-connect-chat",
     RQ("CONNECT /v1/chat/completions HTTP/1.1\r\n" HOST AUTH "\r\n"), ALLOW_POST},
    {G_HTTP, C_KEYS, "method-trace-no-reflection",
     RQ("TRACE /healthz HTTP/1.1\r\n" HOST AUTH "X-Echo: reflect-me\r\n\r\n"), ALLOW_GET,
     .never = "reflect-me"},
    {G_HTTP, C_KEYS, "method-delete-models", RQ("DELETE /v1/models HTTP/1.1\r\n" HOST AUTH "\r\n"),
     ALLOW_GET},
    {G_HTTP, C_KEYS, "method-put-chat",
     RQ("PUT /v1/chat/completions HTTP/1.1\r\n" HOST AUTH JSONCT
        "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     ALLOW_POST, .flags = F_NOCHAT},
    {G_HTTP, C_KEYS, "method-patch-healthz", RQ("PATCH /healthz HTTP/1.1\r\n" HOST "\r\n"),
     ALLOW_GET},
    {G_HTTP, C_KEYS, "target-absolute-form", RQ(GETH("http://127.0.0.1/healthz", "")),
     ST(200, 404)},
    {G_HTTP, C_KEYS, "target-absolute-form-no-key", RQ(GETH("http://127.0.0.1/v1/models", "")),
     ST(401, 404), .never = "\"object\":\"list\""},
    {G_HTTP, C_KEYS, "target-asterisk-get", RQ(GETH("*", "")), ST(404, 400)},
    {G_HTTP, C_KEYS, "target-authority-get", RQ(GETH("127.0.0.1:80", "")), ST(404, 400)},
    {G_HTTP, C_KEYS, "target-no-slash", RQ(GETH("healthz", "")), ST(404, 400)},
    {G_HTTP, C_KEYS, "target-missing", RQ("GET  HTTP/1.1\r\n" HOST "\r\n"), ST(400, 404, NORESP),
     .flags = F_MHD},
    {G_HTTP, C_KEYS, "target-space-inside", RQ(GETH("/health z", "")), ST(400, 404)},
    {G_HTTP, C_KEYS, "target-nul", RQ("GET /healthz\0x HTTP/1.1\r\n" HOST "\r\n"), NUL_TARGET,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "target-nul-model",
     RQ("GET /v1/models/auto\0junk HTTP/1.1\r\n" HOST AUTH "\r\n"), NUL_TARGET, .flags = F_CLOSE,
     .never = "\"id\":\"auto\""},
    {G_HTTP, C_KEYS, "target-nul-login",
     RQ("POST /internal/auto-login/start?instance=inst-0\0x HTTP/1.1\r\n" HOST AUTH
        "Content-Length: 0\r\n\r\n"),
     NUL_TARGET, .flags = F_CLOSE | F_NOLOGIN},
    {G_HTTP, C_KEYS, "target-ctl-01", RQ(GETH("/healthz\x01", "")), ST(400, 404)},
    {G_HTTP, C_KEYS, "target-tab", RQ(GETH("/healthz\t", "")), ST(400, 404)},
    {G_HTTP, C_KEYS, "target-del", RQ(GETH("/healthz\x7f", "")), ST(400, 404)},
    {G_HTTP, C_KEYS, "target-high-bytes", RQ(GETH("/\xff\xfe", "")), ST(400, 404)},
    {G_HTTP, C_KEYS, "target-long-model-3k", GEN(gen_long_model, 3000), ST(404),
     .code = "model_not_found"},
    {G_HTTP, C_KEYS, "target-long-9k", GEN(gen_long_target, 9000), ST(414),
     .flags = F_MHD | F_CLOSE},
    {G_HTTP, C_KEYS, "target-long-32k", GEN(gen_long_target, 32768), ST(414),
     .flags = F_MHD | F_CLOSE | F_RSTOK},
    {G_HTTP, C_KEYS, "bare-lf-everywhere",
     RQ("GET /healthz HTTP/1.1\n"
        "Host: 127.0.0.1\n\n"),
     ST(200, 400)},
    {G_HTTP, C_KEYS, "bare-lf-blank-line", RQ("GET /healthz HTTP/1.1\r\n" HOST "\n"), ST(200, 400)},
    {G_HTTP, C_KEYS, "bare-cr-line-ends", RQ("GET /healthz HTTP/1.1\rHost: 127.0.0.1\r\r\n\r\n"),
     ST(400, 505, NORESP), .flags = F_MHD},
    {G_HTTP, C_KEYS, "leading-empty-lines", RQ("\r\n\r\n" GETH("/healthz", "")), ST(200, 400)},
    {G_HTTP, C_KEYS, "tls-client-hello",
     RQ("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03\x04\x05\x06\x07"),
     ST(400, NORESP), .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "nul-flood",
     RQ("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\r\n\r\n"),
     ST(400, NORESP), .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "connect-then-fin", RQ(""), ST(NORESP, 400),
     .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "partial-request-line-fin", RQ("GET /heal"), ST(NORESP, 400),
     .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "partial-headers-fin", RQ("GET /healthz HTTP/1.1\r\n" HOST), ST(NORESP, 400),
     .flags = F_MHD | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_HTTP, C_KEYS, "header-without-colon", RQ(GETH("/healthz", "NoColonHere\r\n")), ST(400),
     .flags = F_MHD | F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-nul-in-value", RQ(GETH("/healthz", "X-A: a\0b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-nul-value-only", RQ(GETH("/healthz", "X-A: \0\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-nul-in-name", RQ(GETH("/healthz", "X-\0A: b\r\n")), ST(400),
     .code = "bad_header", .flags = F_CLOSE | F_ENVOPT},
    {G_HTTP, C_KEYS, "hdr-ctl-01-value",
     RQ(GETH("/healthz", "X-A: a\x01"
                         "b\r\n")),
     BAD_HEADER, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-ctl-1f-value", RQ(GETH("/healthz", "X-A: a\x1f\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-del-value", RQ(GETH("/healthz", "X-A: a\x7f\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-bare-cr-value", RQ(GETH("/healthz", "X-A: a\rb\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-esc-value", RQ(GETH("/healthz", "X-A: \x1b[31mred\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-vt-value",
     RQ(GETH("/healthz", "X-A: a\x0b"
                         "b\r\n")),
     BAD_HEADER, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-ctl-in-name", RQ(GETH("/healthz", "X-\x01: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-host-ctl", RQ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\x01\r\n\r\n"),
     BAD_HEADER, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-htab-in-value-ok", RQ(GETH("/healthz", "X-A: a\tb\r\n")), ST(200)},
    {G_HTTP, C_KEYS, "hdr-obs-text-ok", RQ(GETH("/healthz", "X-A: caf\xc3\xa9\r\n")), ST(200)},
    {G_HTTP, C_KEYS, "hdr-obs-fold-space", RQ(GETH("/healthz", "X-A: a\r\n b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-obs-fold-tab", RQ(GETH("/healthz", "X-A: a\r\n\tb\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-obs-fold-first-line",
     RQ("GET /healthz HTTP/1.1\r\n X-A: a\r\n" HOST "\r\n"), ST(400), .code = "bad_header",
     .flags = F_CLOSE | F_ENVOPT},
    {G_HTTP, C_KEYS, "hdr-space-before-colon", RQ(GETH("/healthz", "X-A : b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-tab-before-colon", RQ(GETH("/healthz", "X-A\t: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-space-in-name", RQ(GETH("/healthz", "X A: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-empty-name", RQ(GETH("/healthz", ": b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-paren", RQ(GETH("/healthz", "X(A): b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-at", RQ(GETH("/healthz", "X@A: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-slash", RQ(GETH("/healthz", "X/A: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-quote", RQ(GETH("/healthz", "X\"A: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-brace", RQ(GETH("/healthz", "{X}: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-utf8", RQ(GETH("/healthz", "X\xc3\xa9: b\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-name-all-tchars-ok", RQ(GETH("/healthz", "X!#$%&'*+-.^_`|~1: b\r\n")),
     ST(200)},
    {G_HTTP, C_KEYS, "many-headers-100", GEN(gen_many_headers, 100), ST(200, 431)},
    {G_HTTP, C_KEYS, "many-headers-400", GEN(gen_many_headers, 400), ST(200, 431),
     .flags = F_ENVOPT},
    {G_HTTP, C_KEYS, "many-headers-2000", GEN(gen_many_headers, 2000), ST(431),
     .flags = F_ENVOPT | F_CLOSE | F_RSTOK},
    {G_HTTP, C_KEYS, "query-args-100", GEN(gen_query_args, 100), ST(200)},
    /* 124 arguments overflowed libmicrohttpd's pool: no answer until the
     * idle timeout. Any answer will do, never silence. */
    {G_HTTP, C_KEYS, "query-args-124", GEN(gen_query_args, 124), ST(200, 414, 431),
     .flags = F_ENVOPT},
    {G_HTTP, C_KEYS, "query-args-1000", GEN(gen_query_args, 1000), ST(200, 414, 431),
     .flags = F_ENVOPT},
    {G_HTTP, C_KEYS, "cookies-20", GEN(gen_cookies, 20), ST(200)},
    {G_HTTP, C_KEYS, "cookies-1500", GEN(gen_cookies, 1500), ST(431),
     .flags = F_CLOSE | F_ENVOPT | F_RSTOK},
    /* The documented limit (doc/gatewayd.md, Hardening): the header block
     * plus 64 bytes per header field at most GATEWAY_CONNECTION_MEMORY -
     * 1024, 7168 by default. gen_block_healthz's heads have 2 fields (Host,
     * X-Pad), gen_block_chat's 5, gen_many_headers(n)'s n + 1. */
    {G_HTTP, C_KEYS, "hdr-block-at-limit", GEN(gen_block_healthz, 7168 - 2 * 64), ST(200)},
    {G_HTTP, C_KEYS, "hdr-block-limit-plus-1", GEN(gen_block_healthz, 7168 - 2 * 64 + 1), TOO_LARGE,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "many-headers-at-limit", GEN(gen_many_headers, 91), ST(200)},
    {G_HTTP, C_KEYS, "many-headers-limit-plus-one-field", GEN(gen_many_headers, 92), TOO_LARGE,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-7168", GEN(gen_block_healthz, 7168), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-7169", GEN(gen_block_healthz, 7169), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-7200", GEN(gen_block_healthz, 7200), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-7681", GEN(gen_block_healthz, 7681), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-7800", GEN(gen_block_healthz, 7800), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-8001", GEN(gen_block_healthz, 8001), TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "hdr-block-8192", GEN(gen_block_healthz, 8192), ST(431),
     .flags = F_CLOSE | F_ENVOPT},
    {G_HTTP, C_KEYS, "hdr-block-9000", GEN(gen_block_healthz, 9000), ST(431),
     .flags = F_CLOSE | F_ENVOPT},
    {G_HTTP, C_KEYS, "hdr-block-16k", GEN(gen_block_healthz, 16384), ST(431),
     .flags = F_CLOSE | F_ENVOPT | F_RSTOK},
    {G_HTTP, C_KEYS, "hdr-block-64k", GEN(gen_block_healthz, 65536), ST(431),
     .flags = F_CLOSE | F_ENVOPT | F_RSTOK},
    {G_HTTP, C_KEYS, "hdr-block-chat-at-limit", GEN(gen_block_chat, 7168 - 5 * 64), ST(200),
     .body_has = "ECHO: hi"},
    {G_HTTP, C_KEYS, "hdr-block-chat-limit-plus-1", GEN(gen_block_chat, 7168 - 5 * 64 + 1),
     TOO_LARGE, .flags = F_CLOSE | F_NOCHAT},
    {G_HTTP, C_KEYS, "hdr-block-7169-chat", GEN(gen_block_chat, 7169), TOO_LARGE,
     .flags = F_CLOSE | F_NOCHAT},
    {G_HTTP, C_MEM16K, "hdr-block-mem16k-at-limit", GEN(gen_block_healthz, 15360 - 2 * 64),
     ST(200)},
    {G_HTTP, C_MEM16K, "hdr-block-mem16k-limit-plus-1", GEN(gen_block_healthz, 15360 - 2 * 64 + 1),
     TOO_LARGE, .flags = F_CLOSE},
    {G_HTTP, C_MEM16K, "hdr-block-15361-mem16k", GEN(gen_block_healthz, 15361), TOO_LARGE,
     .flags = F_CLOSE},
    {G_HTTP, C_KEYS, "pipeline-two-valid",
     RQ(GETH("/healthz", "x-request-id: p1\r\n") GETH("/healthz", "x-request-id: p2\r\n" CLOSE)),
     ST(200), .ids = "p1,p2"},
    {G_HTTP, C_KEYS, "pipeline-three-valid",
     RQ(GETH("/healthz", "x-request-id: p1\r\n") GETH("/v1/models", AUTH "x-request-id: p2\r\n")
            GETH("/internal/stats", AUTH "x-request-id: p3\r\n" CLOSE)),
     ST(200), .ids = "p1,p2,p3"},
    {G_HTTP, C_KEYS, "reqid-echo", RQ(GETH("/healthz", "x-request-id: my.id-1:x\r\n")), ST(200),
     .hdr = "x-request-id: my.id-1:x"},
    {G_HTTP, C_KEYS, "reqid-too-long",
     RQ(GETH("/healthz",
             "x-request-id: "
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")),
     ST(200), .hdr = "x-request-id: req_*"},
    {G_HTTP, C_KEYS, "reqid-bad-chars", RQ(GETH("/healthz", "x-request-id: <script>\r\n")), ST(200),
     .hdr = "x-request-id: req_*", .never = "<script>"},
    {G_HTTP, C_KEYS, "dup-host", RQ(GETH("/healthz", "Host: evil.example\r\n")), ST(200, 400)},
    {G_HTTP, C_KEYS, "expect-100-on-get", RQ(GETH("/healthz", "Expect: 100-continue\r\n")),
     ST(200, 417)},
    {G_HTTP, C_KEYS, "expect-unknown", RQ(GETH("/healthz", "Expect: 200-ok\r\n")), ST(200, 417)},
    {G_HTTP, C_KEYS, "get-body-is-not-a-request",
     RQ("GET /healthz HTTP/1.1\r\n" HOST CLOSE "Content-Length: @CL@\r\n\r\n" SMUGGLE), ST(200),
     .flags = F_SMUGGLE},
    /* Fragmented delivery of heads the daemon must judge as a whole. */
    {G_HTTP, C_KEYS, "trickle-valid-get", RQ(GETH("/healthz", "X-A: b\r\n")), ST(200),
     .flags = F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-valid-chat", RQ(CHAT_OK), ST(200), .flags = F_TRICKLE,
     .body_has = "ECHO: hi"},
    {G_HTTP, C_KEYS, "trickle-nul-in-value", RQ(GETH("/healthz", "X-A: a\0b\r\n")), BAD_HEADER,
     .flags = F_CLOSE | F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-obs-fold", RQ(GETH("/healthz", "X-A: a\r\n b\r\n")), BAD_HEADER,
     .flags = F_CLOSE | F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-bare-cr-value", RQ(GETH("/healthz", "X-A: a\rb\r\n")), BAD_HEADER,
     .flags = F_CLOSE | F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-key-nul-junk",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "\0junk\r\n")), BAD_HEADER,
     .flags = F_CLOSE | F_TRICKLE, .never = "\"object\":\"list\""},
    {G_HTTP, C_KEYS, "trickle-pct00-target", RQ(GETH("/v1/models/auto%00x", AUTH)), BAD_TARGET,
     .flags = F_TRICKLE, .never = "\"id\":\"auto\""},
    {G_HTTP, C_KEYS, "trickle-cl-cl",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nContent-Length: 111\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR | F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-cl-te",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR | F_TRICKLE},
    {G_HTTP, C_KEYS, "trickle-no-key-chat-half-closed", RQ(CHAT_NOKEY), UNAUTH,
     .flags = F_TRICKLE | F_SHUT | F_NOCHAT, .never = "ECHO"},

    /* ---- framing: Content-Length, Transfer-Encoding, chunked bodies ---- */
    {G_FRAMING, C_KEYS, "cl-cl-differ",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nContent-Length: 111\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-differ-reversed",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 111\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-equal",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-case",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\ncontent-length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-zero-first",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 0\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-second-malformed",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nContent-Length: abc\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-cl-far-apart",
     RQ(POST_CHAT "Content-Length: 45\r\n" AUTH JSONCT
                  "X-A: b\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-comma-list",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45, 45\r\n\r\n" CHAT_BODY SMUGGLE), ST(400),
     .flags = F_MHD | REFUSE_HDR},
    /* A body left unread behind an early refusal must never be parsed as
     * the next request on the connection. */
    {G_FRAMING, C_KEYS, "early-401-body-is-not-a-request",
     RQ(POST_CHAT JSONCT "Content-Length: @CL@\r\n\r\n" SMUGGLE), UNAUTH,
     .flags = F_SMUGGLE | F_NOCHAT, .wait_ms = 800},
    {G_FRAMING, C_KEYS, "early-404-body-is-not-a-request",
     RQ("POST /nope HTTP/1.1\r\n" HOST AUTH "Content-Length: @CL@\r\n\r\n" SMUGGLE), NOT_FOUND,
     .flags = F_SMUGGLE, .wait_ms = 800},
    {G_FRAMING, C_KEYS, "early-405-body-is-not-a-request",
     RQ("POST /v1/models HTTP/1.1\r\n" HOST AUTH "Content-Length: @CL@\r\n\r\n" SMUGGLE), ALLOW_GET,
     .flags = F_SMUGGLE, .wait_ms = 800},
    {G_FRAMING, C_KEYS, "early-400-dupcred-body-is-not-a-request",
     RQ(POST_CHAT AUTH AUTH "Content-Length: @CL@\r\n\r\n" SMUGGLE), DUPCRED,
     .flags = F_SMUGGLE | F_NOCHAT, .wait_ms = 800},
    {G_FRAMING, C_KEYS, "early-401-chunked-body-is-not-a-request",
     RQ(POST_CHAT JSONCT "Transfer-Encoding: chunked\r\n\r\n42\r\n" SMUGGLE
                         "\r\n0\r\n\r\n" SMUGGLE),
     UNAUTH, .flags = F_SMUGGLE | F_NOCHAT, .wait_ms = 800},
    {G_FRAMING, C_KEYS, "cl-te",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-cl",
     RQ(POST_CHAT AUTH JSONCT
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl0-te",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-te-identity",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding: identity\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-te-on-public-get",
     RQ("GET /healthz HTTP/1.1\r\n" HOST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n" SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-malformed-te-chunked",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: abc\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
#define TE_CASE(nm, te)                                                                            \
    {                                                                                              \
        G_FRAMING, C_KEYS, nm, RQ(POST_CHAT AUTH JSONCT te "\r\n\r\n" CHUNKED_CHAT SMUGGLE),       \
            BAD_FRAMING, .flags = REFUSE_HDR                                                       \
    }
    TE_CASE("te-xchunked", "Transfer-Encoding: xchunked"),
    TE_CASE("te-chunked-identity", "Transfer-Encoding: chunked, identity"),
    TE_CASE("te-identity-chunked", "Transfer-Encoding: identity, chunked"),
    TE_CASE("te-gzip-chunked", "Transfer-Encoding: gzip, chunked"),
    TE_CASE("te-chunked-chunked", "Transfer-Encoding: chunked, chunked"),
    TE_CASE("te-identity", "Transfer-Encoding: identity"),
    TE_CASE("te-gzip", "Transfer-Encoding: gzip"),
    TE_CASE("te-two-headers", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"),
    TE_CASE("te-two-headers-mixed", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"),
    TE_CASE("te-trailing-space", "Transfer-Encoding: chunked "),
    TE_CASE("te-trailing-tab", "Transfer-Encoding: chunked\t"),
    TE_CASE("te-empty", "Transfer-Encoding:"),
    TE_CASE("te-leading-comma", "Transfer-Encoding: , chunked"),
    TE_CASE("te-parameter", "Transfer-Encoding: chunked;q=1"),
    TE_CASE("te-quoted", "Transfer-Encoding: \"chunked\""),
    TE_CASE("te-chunk", "Transfer-Encoding: chunk"),
    TE_CASE("te-chunkedx", "Transfer-Encoding: chunkedx"),
    TE_CASE("te-kelvin-sign", "Transfer-Encoding: chun\xe2\x84\xaa"
                              "ed"),
#undef TE_CASE
    {G_FRAMING, C_KEYS, "te-space-before-colon",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding : chunked\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-space-before-colon-no-cl",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding : chunked\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-tab-before-colon",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding\t: chunked\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-obs-fold",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-obs-fold-after-value",
     RQ(POST_CHAT AUTH JSONCT
        "Transfer-Encoding: chunked\r\n , identity\r\n\r\n" CHUNKED_CHAT SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-vertical-tab",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\nTransfer-Encoding:\x0b"
                              "chunked\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-nul-after-value",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding: chunked\0x\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-hidden-by-bare-lf",
     RQ(POST_CHAT AUTH JSONCT
        "X-A: a\nTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     ST(400), .code = "bad_framing|bad_header", .hdr = "connection: close", .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-hidden-by-bare-cr",
     RQ(POST_CHAT AUTH JSONCT
        "X-A: a\rTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n" CHAT_BODY SMUGGLE),
     BAD_HEADER, .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "te-uppercase-valid",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: CHUNKED\r\n\r\n" CHUNKED_CHAT), ST(200),
     .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "te-name-uppercase-valid",
     RQ(POST_CHAT AUTH JSONCT "TRANSFER-ENCODING: chunked\r\n\r\n" CHUNKED_CHAT), ST(200),
     .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "te-tab-before-value-valid",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding:\tchunked\r\n\r\n" CHUNKED_CHAT), ST(200),
     .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "chunk-extension-valid",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d;name=value\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     ST(200), .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "chunk-trailer-valid",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d\r\n" CHAT_BODY
                              "\r\n0\r\nX-Trailer: 1\r\n\r\n"),
     ST(200), .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "chunks-split-valid",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
                              "2b\r\n\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]\r\n"
                              "1\r\n}\r\n0\r\n\r\n"),
     ST(200), .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "chunk-trailer-does-not-authenticate",
     RQ(POST_CHAT JSONCT "Transfer-Encoding: chunked\r\n\r\n"
                         "2d\r\n" CHAT_BODY "\r\n0\r\n" AUTH "\r\n"),
     UNAUTH, .flags = F_NOCHAT},
    {G_FRAMING, C_KEYS, "chunk-size-overflow",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-2^64",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-negative",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n-2d\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-0x",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n0x2d\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-plus",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n+2d\r\n" CHAT_BODY
                              "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-empty",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n\r\n" CHAT_BODY "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-size-huge-then-fin",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n" CHAT_BODY),
     ST(400, 413, 500, NORESP), .flags = F_MHD | F_CLOSE | F_NOCHAT | F_SHUT | F_LINGER,
     .wait_ms = 600},
    {G_FRAMING, C_KEYS, "chunk-data-overrun",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2\r\n" CHAT_BODY "\r\n0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-missing-crlf",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d\r\n" CHAT_BODY "0\r\n\r\n"),
     MHD_CHUNK},
    {G_FRAMING, C_KEYS, "chunk-extension-8k", GEN(gen_chunk_ext, 8000),
     ST(400, 413, 431, 500, NORESP), .flags = F_MHD | F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "chunk-last-missing-then-fin",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d\r\n" CHAT_BODY "\r\n"),
     ST(NORESP, 400), .flags = F_MHD | F_CLOSE | F_NOCHAT | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_FRAMING, C_KEYS, "chunk-incomplete-then-fin",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n2d\r\n{\"mess"), ST(NORESP, 400),
     .flags = F_MHD | F_CLOSE | F_NOCHAT | F_SHUT | F_LINGER, .wait_ms = 600},
    {G_FRAMING, C_KEYS, "chunked-over-max-body", GEN(gen_chunked_over, 70000), ST(413),
     .code = "request_too_large", .flags = F_NOCHAT | F_RSTOK},
    {G_FRAMING, C_KEYS, "cl-negative",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: -1\r\n\r\n" CHAT_BODY SMUGGLE), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-alpha",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: abc\r\n\r\n" CHAT_BODY), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-plus",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: +45\r\n\r\n" CHAT_BODY), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-hex",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 0x2d\r\n\r\n" CHAT_BODY), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-decimal",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45.0\r\n\r\n" CHAT_BODY), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-two-numbers",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 4 5\r\n\r\n" CHAT_BODY), MHD_CL},
    {G_FRAMING, C_KEYS, "cl-empty", RQ(POST_CHAT AUTH JSONCT "Content-Length:\r\n\r\n" CHAT_BODY),
     MHD_CL},
    {G_FRAMING, C_KEYS, "cl-2^64",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 18446744073709551616\r\n\r\n" CHAT_BODY), ST(413),
     .flags = F_MHD | F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "cl-40-digits",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 1234567890123456789012345678901234567890\r\n\r\n" CHAT_BODY),
     ST(413), .flags = F_MHD | F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "cl-2^64-minus-1",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 18446744073709551615\r\n\r\n"), ST(413),
     .code = "request_too_large", .flags = F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "cl-2^63",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 9223372036854775808\r\n\r\n"), ST(413),
     .code = "request_too_large", .flags = F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "cl-leading-zeros-valid",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 00045\r\n\r\n" CHAT_BODY), ST(200),
     .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "cl-extra-ows-valid",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: \t 45\r\n\r\n" CHAT_BODY), ST(200),
     .body_has = "ECHO: hi"},
    {G_FRAMING, C_KEYS, "cl-trailing-space",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45 \r\n\r\n" CHAT_BODY), ST(200, 400),
     .flags = F_MHD},
    {G_FRAMING, C_KEYS, "cl-space-before-colon",
     RQ(POST_CHAT AUTH JSONCT "Content-Length : 45\r\n\r\n" CHAT_BODY SMUGGLE), BAD_HEADER,
     .flags = REFUSE_HDR},
    {G_FRAMING, C_KEYS, "cl-over-max-body", GEN(gen_cl_only, 65537), ST(413),
     .code = "request_too_large", .hdr = "connection: close", .flags = F_CLOSE | F_NOCHAT},
    {G_FRAMING, C_KEYS, "cl-over-max-expect-100", GEN(gen_cl_expect, 1000000), ST(413),
     .code = "request_too_large", .flags = F_CLOSE | F_NOCHAT | F_NO100},
    {G_FRAMING, C_KEYS, "cl-over-max-expect-100-no-key", GEN(gen_cl_expect_nokey, 1000000), UNAUTH,
     .flags = F_NOCHAT | F_NO100},
    {G_FRAMING, C_KEYS, "cl-over-max-body-sent", GEN(gen_cl_body, 70000), ST(413),
     .code = "request_too_large", .flags = F_CLOSE | F_NOCHAT | F_RSTOK},
    {G_FRAMING, C_KEYS, "cl-short-body-then-fin",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\n\r\n{\"messages\""), ST(NORESP, 400),
     .flags = F_MHD | F_CLOSE | F_NOCHAT | F_SHUT | F_LINGER, .wait_ms = 600},

    /* ---- auth ---------------------------------------------------------- */
    {G_AUTH, C_KEYS, "no-key-chat", RQ(CHAT_NOKEY), UNAUTH, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "no-key-models", RQ(GETH("/v1/models", "")), UNAUTH,
     .never = "\"object\":\"list\""},
    {G_AUTH, C_KEYS, "no-key-model", RQ(GETH("/v1/models/auto", "")), UNAUTH},
    {G_AUTH, C_KEYS, "no-key-stats", RQ(GETH("/internal/stats", "")), UNAUTH,
     .never = "concurrency"},
    {G_AUTH, C_KEYS, "no-key-metrics", RQ(GETH("/metrics", "")), UNAUTH, .never = "gateway_"},
    {G_AUTH, C_KEYS, "no-key-login-status", RQ(GETH("/internal/auto-login/status", "")), UNAUTH},
    {G_AUTH, C_KEYS, "no-key-login-start",
     RQ("POST /internal/auto-login/start?instance=inst-0 HTTP/1.1\r\n" HOST
        "Content-Length: 0\r\n\r\n"),
     UNAUTH, .flags = F_NOLOGIN},
    {G_AUTH, C_KEYS, "no-key-chat-alias",
     RQ("POST /chat/completions HTTP/1.1\r\n" HOST JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     UNAUTH, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "wrong-key-chat",
     RQ(POST_CHAT "Authorization: Bearer sk-wrong\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     UNAUTH, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "wrong-x-api-key", RQ(GETH("/v1/models", "x-api-key: sk-wrong\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "bearer-without-key", RQ(GETH("/v1/models", "Authorization: Bearer\r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "bearer-space-only", RQ(GETH("/v1/models", "Authorization: Bearer \r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "bearer-lowercase-valid",
     RQ(GETH("/v1/models", "authorization: bearer " KEY1 "\r\n")), ST(200)},
    {G_AUTH, C_KEYS, "bearer-uppercase-valid",
     RQ(GETH("/v1/models", "AUTHORIZATION: BEARER " KEY1 "\r\n")), ST(200)},
    {G_AUTH, C_KEYS, "bearer-two-spaces",
     RQ(GETH("/v1/models", "Authorization: Bearer  " KEY1 "\r\n")), ST(200, 401)},
    {G_AUTH, C_KEYS, "basic-scheme",
     RQ(GETH("/v1/models", "Authorization: Basic c2staG9zdGlsZS1rZXktMTo=\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "basic-raw-key", RQ(GETH("/v1/models", "Authorization: Basic " KEY1 "\r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "token-scheme", RQ(GETH("/v1/models", "Authorization: Token " KEY1 "\r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "key-without-scheme", RQ(GETH("/v1/models", "Authorization: " KEY1 "\r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "key-prefix",
     RQ(GETH("/v1/models", "Authorization: Bearer sk-hostile-key-\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "key-longer", RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "x\r\n")),
     UNAUTH},
    {G_AUTH, C_KEYS, "key-other-case",
     RQ(GETH("/v1/models", "Authorization: Bearer SK-HOSTILE-KEY-1\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "key-list-in-header",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "," KEY2 "\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "key-nul-junk-chat",
     RQ(POST_CHAT "Authorization: Bearer " KEY1 "\0junk\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     BAD_HEADER, .flags = F_CLOSE | F_NOCHAT},
    {G_AUTH, C_KEYS, "key-nul-junk-models",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "\0junk\r\n")), BAD_HEADER,
     .flags = F_CLOSE, .never = "\"object\":\"list\""},
    {G_AUTH, C_KEYS, "key-trailing-nul",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "\0\r\n")), BAD_HEADER, .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "x-api-key-nul-junk", RQ(GETH("/v1/models", "x-api-key: " KEY1 "\0junk\r\n")),
     BAD_HEADER, .flags = F_CLOSE, .never = "\"object\":\"list\""},
    {G_AUTH, C_KEYS, "key-ctl", RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "\x01\r\n")),
     BAD_HEADER, .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "key-bare-cr-junk",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 "\rjunk\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "key-trailing-space",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY1 " \r\n")), ST(200, 401)},
    {G_AUTH, C_KEYS, "authorization-empty", RQ(GETH("/v1/models", "Authorization:\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "x-api-key-empty", RQ(GETH("/v1/models", "x-api-key:\r\n")), UNAUTH},
    {G_AUTH, C_KEYS, "x-api-key-valid", RQ(GETH("/v1/models", "x-api-key: " KEY1 "\r\n")), ST(200),
     .body_has = "\"object\":\"list\""},
    {G_AUTH, C_KEYS, "second-key-valid",
     RQ(GETH("/v1/models", "Authorization: Bearer " KEY2 "\r\n")), ST(200)},
    {G_AUTH, C_KEYS, "both-headers-valid", RQ(GETH("/v1/models", AUTH "x-api-key: " KEY2 "\r\n")),
     ST(200)},
    {G_AUTH, C_KEYS, "two-authorization-same",
     RQ(POST_CHAT AUTH AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY), DUPCRED,
     .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "two-authorization-valid-wrong",
     RQ(POST_CHAT AUTH "Authorization: Bearer sk-wrong\r\n" JSONCT
                       "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     DUPCRED, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "two-authorization-wrong-valid",
     RQ(POST_CHAT "Authorization: Bearer sk-wrong\r\n" AUTH JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     DUPCRED, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "two-authorization-name-case",
     RQ(GETH("/v1/models", AUTH "authorization: Bearer " KEY2 "\r\n")), DUPCRED},
    {G_AUTH, C_KEYS, "two-authorization-one-empty",
     RQ(GETH("/v1/models", "Authorization:\r\n" AUTH)), DUPCRED},
    {G_AUTH, C_KEYS, "two-x-api-key-same",
     RQ(POST_CHAT "x-api-key: " KEY1 "\r\nx-api-key: " KEY1 "\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     DUPCRED, .flags = F_NOCHAT},
    {G_AUTH, C_KEYS, "two-x-api-key-wrong-valid",
     RQ(GETH("/v1/models", "x-api-key: sk-wrong\r\nx-api-key: " KEY1 "\r\n")), DUPCRED},
    {G_AUTH, C_KEYS, "two-authorization-on-healthz", RQ(GETH("/healthz", AUTH AUTH)), DUPCRED},
    {G_AUTH, C_KEYS, "two-authorization-login-start",
     RQ("POST /internal/auto-login/start?instance=inst-0 HTTP/1.1\r\n" HOST AUTH AUTH
        "Content-Length: 0\r\n\r\n"),
     DUPCRED, .flags = F_NOLOGIN},
    {G_AUTH, C_KEYS, "long-key-4k", GEN(gen_long_key, 4000), UNAUTH},
    {G_AUTH, C_KEYS, "long-key-over-limit", GEN(gen_long_key, 9000), ST(431),
     .flags = F_CLOSE | F_ENVOPT},
    {G_AUTH, C_KEYS, "authorization-space-before-colon",
     RQ(GETH("/v1/models", "Authorization : Bearer " KEY1 "\r\n")), BAD_HEADER, .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "authorization-obs-fold",
     RQ(GETH("/v1/models", "Authorization: Bearer\r\n " KEY1 "\r\n")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "x-api-key-obs-fold", RQ(GETH("/v1/models", "x-api-key:\r\n\t" KEY1 "\r\n")),
     BAD_HEADER, .flags = F_CLOSE},
    {G_AUTH, C_KEYS, "healthz-needs-no-key", RQ(GETH("/healthz", "")), ST(200)},
    {G_AUTH, C_OPEN, "open-no-key-models", RQ(GETH("/v1/models", "")), ST(200)},
    {G_AUTH, C_OPEN, "open-two-authorization",
     RQ(POST_CHAT "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     DUPCRED, .flags = F_NOCHAT},
    {G_AUTH, C_OPEN, "open-key-nul-junk", RQ(GETH("/v1/models", "Authorization: Bearer a\0b\r\n")),
     BAD_HEADER, .flags = F_CLOSE},

    /* ---- routes: paths, methods, targets -------------------------------- */
    {G_ROUTES, C_KEYS, "unknown-path", RQ(GETH("/nope", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "unknown-path-no-key", RQ(GETH("/nope", "")), NOT_FOUND},
    {G_ROUTES, C_KEYS, "root", RQ(GETH("/", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "v1", RQ(GETH("/v1", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "v1-slash", RQ(GETH("/v1/", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "healthz-trailing-slash", RQ(GETH("/healthz/", "")), NOT_FOUND},
    {G_ROUTES, C_KEYS, "healthz-uppercase", RQ(GETH("/HEALTHZ", "")), NOT_FOUND},
    {G_ROUTES, C_KEYS, "v1-uppercase", RQ(GETH("/V1/models", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "dotdot-to-public", RQ(GETH("/v1/../healthz", "")), ST(404, 200)},
    {G_ROUTES, C_KEYS, "dotdot-to-private-no-key", RQ(GETH("/healthz/../internal/stats", "")),
     ST(404, 401), .never = "concurrency"},
    {G_ROUTES, C_KEYS, "dotdot-encoded-no-key", RQ(GETH("/healthz/%2e%2e/internal/stats", "")),
     ST(404, 401), .never = "concurrency"},
    {G_ROUTES, C_KEYS, "double-slash-public", RQ(GETH("//healthz", "")), ST(404, 200)},
    {G_ROUTES, C_KEYS, "double-slash-private-no-key", RQ(GETH("/v1//models", "")), ST(404, 401),
     .never = "\"object\":\"list\""},
    {G_ROUTES, C_KEYS, "encoded-slash-in-model", RQ(GETH("/v1/models/a%2Fb", AUTH)), ST(404),
     .code = "not_found|model_not_found"},
    {G_ROUTES, C_KEYS, "encoded-letter-in-path", RQ(GETH("/%68ealthz", "")), ST(200, 404)},
    {G_ROUTES, C_KEYS, "backslash-in-path", RQ(GETH("/v1\\models", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "semicolon-in-path", RQ(GETH("/healthz;a=b", "")), NOT_FOUND},
    {G_ROUTES, C_KEYS, "fragment-in-target", RQ(GETH("/healthz#frag", "")), ST(200, 400, 404)},
    {G_ROUTES, C_KEYS, "pct00-path", RQ(GETH("/healthz%00", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct00-model", RQ(GETH("/v1/models/auto%00x", AUTH)), BAD_TARGET,
     .never = "\"id\":\"auto\""},
    {G_ROUTES, C_KEYS, "pct00-query-value", RQ(GETH("/healthz?x=%00", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct00-query-name", RQ(GETH("/healthz?%00=1", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct00-models-query", RQ(GETH("/v1/models?a=b%00c", AUTH)), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct00-chat-query",
     RQ("POST /v1/chat/completions?x=%00 HTTP/1.1\r\n" HOST AUTH JSONCT
        "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     BAD_TARGET, .flags = F_NOCHAT},
    {G_ROUTES, C_KEYS, "pct-lone-path", RQ(GETH("/healthz%", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-one-digit-path", RQ(GETH("/v1/models/%4", AUTH)), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-zz-path", RQ(GETH("/v1/models/%zz", AUTH)), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-g0-path", RQ(GETH("/v1/models/%g0", AUTH)), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-lone-query", RQ(GETH("/healthz?a=%", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-one-digit-query", RQ(GETH("/healthz?a=%4", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-zz-query", RQ(GETH("/healthz?a=%zz", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-zz-query-name", RQ(GETH("/healthz?%zz=1", "")), BAD_TARGET},
    {G_ROUTES, C_KEYS, "pct-valid-query", RQ(GETH("/healthz?x=%41", "")), ST(200)},
    {G_ROUTES, C_KEYS, "pct-valid-model", RQ(GETH("/v1/models/dashscope%5Fqwen3%5fcoder", AUTH)),
     ST(200), .body_has = "\"id\":\"dashscope_qwen3_coder\""},
    {G_ROUTES, C_KEYS, "pct-double-encoded-nul", RQ(GETH("/healthz%2500", "")), ST(404, 400)},
    {G_ROUTES, C_KEYS, "pct-utf8-model", RQ(GETH("/v1/models/%C3%A9", AUTH)), ST(404),
     .code = "model_not_found"},
    {G_ROUTES, C_KEYS, "pct-invalid-utf8-model", RQ(GETH("/v1/models/%FF%FE", AUTH)), ST(404, 400)},
    {G_ROUTES, C_KEYS, "model-ok", RQ(GETH("/v1/models/dashscope_qwen3_coder", AUTH)), ST(200),
     .body_has = "\"object\":\"model\""},
    {G_ROUTES, C_KEYS, "model-unknown", RQ(GETH("/v1/models/gpt-4o", AUTH)), ST(404),
     .code = "model_not_found", .param = "-"},
    {G_ROUTES, C_KEYS, "model-empty-id", RQ(GETH("/v1/models/", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "model-nested-id", RQ(GETH("/v1/models/a/b", AUTH)), NOT_FOUND},
    {G_ROUTES, C_KEYS, "models-with-query", RQ(GETH("/v1/models?limit=1", AUTH)), ST(200)},
    {G_ROUTES, C_KEYS, "stats-ok", RQ(GETH("/internal/stats", AUTH)), ST(200),
     .body_has = "\"concurrency\""},
    {G_ROUTES, C_KEYS, "metrics-ok", RQ(GETH("/metrics", AUTH)), ST(200), .flags = F_NOCT,
     .body_has = "gateway_"},
    {G_ROUTES, C_KEYS, "login-status-ok", RQ(GETH("/internal/auto-login/status", AUTH)), ST(200)},
    {G_ROUTES, C_KEYS, "get-chat", RQ(GETH("/v1/chat/completions", AUTH)), ALLOW_POST},
    {G_ROUTES, C_KEYS, "post-models",
     RQ("POST /v1/models HTTP/1.1\r\n" HOST AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     ALLOW_GET},
    {G_ROUTES, C_KEYS, "post-healthz",
     RQ("POST /healthz HTTP/1.1\r\n" HOST "Content-Length: @CL@\r\n\r\n" CHAT_BODY), ALLOW_GET},
    {G_ROUTES, C_KEYS, "delete-stats", RQ("DELETE /internal/stats HTTP/1.1\r\n" HOST AUTH "\r\n"),
     ALLOW_GET},
    {G_ROUTES, C_KEYS, "post-metrics",
     RQ("POST /metrics HTTP/1.1\r\n" HOST AUTH "Content-Length: 0\r\n\r\n"), ALLOW_GET},
    {G_ROUTES, C_KEYS, "get-login-start",
     RQ(GETH("/internal/auto-login/start?instance=inst-0", AUTH)), ALLOW_POST, .flags = F_NOLOGIN},
    {G_ROUTES, C_KEYS, "post-login-status",
     RQ("POST /internal/auto-login/status HTTP/1.1\r\n" HOST AUTH "Content-Length: 0\r\n\r\n"),
     ALLOW_GET},
    {G_ROUTES, C_KEYS, "wrong-method-no-key", RQ("DELETE /v1/models HTTP/1.1\r\n" HOST "\r\n"),
     ALLOW_GET},
#define LOGIN_START(q)                                                                             \
    "POST /internal/auto-login/start" q " HTTP/1.1\r\n" HOST AUTH "Content-Length: 0\r\n\r\n"
    {G_ROUTES, C_KEYS, "login-start-pct00", RQ(LOGIN_START("?instance=inst-0%00x")), BAD_TARGET,
     .flags = F_NOLOGIN},
    {G_ROUTES, C_KEYS, "login-start-pct-zz", RQ(LOGIN_START("?instance=inst-%zz")), BAD_TARGET,
     .flags = F_NOLOGIN},
    {G_ROUTES, C_KEYS, "login-start-unknown-instance", RQ(LOGIN_START("?instance=inst-9")),
     ST(400, 404), .flags = F_NOLOGIN},
    {G_ROUTES, C_KEYS, "login-start-duplicate-param",
     RQ(LOGIN_START("?instance=inst-9&instance=inst-0")), ST(400, 404), .flags = F_NOLOGIN},
    /* With one instance an empty name means that instance, like no name. */
    {G_ROUTES, C_KEYS, "login-start-empty-instance", RQ(LOGIN_START("?instance=")),
     ST(202, 400, 404)},
#undef LOGIN_START
    {G_ROUTES, C_KEYS, "chat-trailing-slash",
     RQ("POST /v1/chat/completions/ HTTP/1.1\r\n" HOST AUTH JSONCT
        "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     NOT_FOUND, .flags = F_NOCHAT},

    /* ---- json and OpenAI semantics -------------------------------------- */
    {G_JSON, C_KEYS, "valid-chat", RQ(CHAT_OK), ST(200), .body_has = "ECHO: hi"},
    {G_JSON, C_KEYS, "valid-stream", RQ(CHATB("{" MSG1 ",\"stream\":true}")), ST(200),
     .flags = F_NOCT, .hdr = "content-type: text/event-stream*", .body_has = "data: [DONE]"},
    {G_JSON, C_KEYS, "nulls-for-optionals",
     RQ(CHATB("{" MSG1 ",\"model\":null,\"temperature\":null,\"stop\":null,\"n\":null,"
              "\"max_tokens\":null,\"tools\":null}")),
     ST(200)},
    {G_JSON, C_KEYS, "max-tokens-huge-valid",
     RQ(CHATB("{" MSG1 ",\"max_tokens\":4611686018427387904}")), ST(200)},
    {G_JSON, C_KEYS, "n-1-valid", RQ(CHATB("{" MSG1 ",\"n\":1}")), ST(200)},
    {G_JSON, C_KEYS, "empty-body", RQ(CHATB("")), BADJSON},
    {G_JSON, C_KEYS, "null", RQ(CHATB("null")), BADJSON},
    {G_JSON, C_KEYS, "empty-array", RQ(CHATB("[]")), BADJSON},
    {G_JSON, C_KEYS, "number", RQ(CHATB("1")), BADJSON},
    {G_JSON, C_KEYS, "string", RQ(CHATB("\"x\"")), BADJSON},
    {G_JSON, C_KEYS, "true", RQ(CHATB("true")), BADJSON},
    {G_JSON, C_KEYS, "open-brace", RQ(CHATB("{")), BADJSON},
    {G_JSON, C_KEYS, "truncated", RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"h")),
     BADJSON},
    {G_JSON, C_KEYS, "trailing-object", RQ(CHATB(CHAT_BODY "{}")), BADJSON},
    {G_JSON, C_KEYS, "trailing-garbage", RQ(CHATB(CHAT_BODY "x")), BADJSON},
    {G_JSON, C_KEYS, "utf8-bom", RQ(CHATB("\xef\xbb\xbf" CHAT_BODY)), BADJSON},
    {G_JSON, C_KEYS, "single-quotes", RQ(CHATB("{'messages':[]}")), BADJSON},
    {G_JSON, C_KEYS, "invalid-utf8",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "overlong-utf8-nul",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\x80\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "truncated-utf8",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\xe2\x82\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "cesu-surrogate-utf8",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "lone-high-surrogate",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "lone-low-surrogate",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00x\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "high-surrogate-then-letter",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\\u0041\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "escaped-nul-in-content",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "escaped-nul-in-key", RQ(CHATB("{" MSG1 ",\"x\\u0000\":1}")), BADJSON},
    {G_JSON, C_KEYS, "raw-nul-in-body",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"a\0b\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "raw-nul-after-object", RQ(CHATB(CHAT_BODY "\0")), BADJSON},
    {G_JSON, C_KEYS, "raw-control-in-string",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"a\x01\"}]}")), BADJSON},
    {G_JSON, C_KEYS, "duplicate-top-key", RQ(CHATB("{" MSG1 "," MSG1 "}")), BADJSON},
    {G_JSON, C_KEYS, "duplicate-model-key",
     RQ(CHATB("{" MSG1 ",\"model\":\"auto\",\"model\":\"gpt-4o\"}")), BADJSON},
    {G_JSON, C_KEYS, "duplicate-nested-key",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"role\":\"system\",\"content\":\"hi\"}]}")),
     BADJSON},
    {G_JSON, C_KEYS, "nesting-64-accepted", GEN(gen_deep, 62), ST(200)},
    {G_JSON, C_KEYS, "nesting-65", GEN(gen_deep, 63), BADJSON},
    {G_JSON, C_KEYS, "nesting-10000", GEN(gen_deep, 10000), BADJSON},
    {G_JSON, C_KEYS, "bracket-run-60000", GEN(gen_bracket_run, 60000), BADJSON},
    {G_JSON, C_KEYS, "number-overflow-real", RQ(CHATB("{" MSG1 ",\"temperature\":1e400}")),
     BADJSON},
    {G_JSON, C_KEYS, "number-overflow-int",
     RQ(CHATB("{" MSG1 ",\"max_tokens\":99999999999999999999}")), BADJSON},
    {G_JSON, C_KEYS, "nan", RQ(CHATB("{" MSG1 ",\"temperature\":NaN}")), BADJSON},
    {G_JSON, C_KEYS, "infinity", RQ(CHATB("{" MSG1 ",\"temperature\":Infinity}")), BADJSON},
    {G_JSON, C_KEYS, "temperature-1e308", RQ(CHATB("{" MSG1 ",\"temperature\":1e308}")),
     JSONERR("decimal_above_max_value", "temperature")},
    {G_JSON, C_KEYS, "unknown-model", RQ(CHATB("{" MSG1 ",\"model\":\"gpt-4o\"}")), ST(404),
     .code = "model_not_found", .param = "-", .flags = F_NOCHAT},
    {G_JSON, C_KEYS, "model-int", RQ(CHATB("{" MSG1 ",\"model\":1}")),
     JSONERR("invalid_type", "model")},
    {G_JSON, C_KEYS, "model-empty", RQ(CHATB("{" MSG1 ",\"model\":\"\"}")),
     JSONERR("invalid_value", "model")},
    {G_JSON, C_KEYS, "model-array", RQ(CHATB("{" MSG1 ",\"model\":[]}")),
     JSONERR("invalid_type", "model")},
    {G_JSON, C_KEYS, "model-object", RQ(CHATB("{" MSG1 ",\"model\":{}}")),
     JSONERR("invalid_type", "model")},
    {G_JSON, C_KEYS, "messages-missing", RQ(CHATB("{\"model\":\"auto\"}")),
     JSONERR("missing_required_parameter", "messages")},
    {G_JSON, C_KEYS, "messages-empty", RQ(CHATB("{\"messages\":[]}")),
     JSONERR("empty_array", "messages")},
    {G_JSON, C_KEYS, "messages-string", RQ(CHATB("{\"messages\":\"hi\"}")),
     JSONERR("invalid_type", "messages")},
    {G_JSON, C_KEYS, "messages-object", RQ(CHATB("{\"messages\":{}}")),
     JSONERR("invalid_type", "messages")},
    {G_JSON, C_KEYS, "messages-null", RQ(CHATB("{\"messages\":null}")),
     JSONERR("invalid_type", "messages")},
    {G_JSON, C_KEYS, "message-int", RQ(CHATB("{\"messages\":[1]}")),
     JSONERR("invalid_type", "messages[0]")},
    {G_JSON, C_KEYS, "message-null", RQ(CHATB("{\"messages\":[null]}")),
     JSONERR("invalid_type", "messages[0]")},
    {G_JSON, C_KEYS, "message-no-role", RQ(CHATB("{\"messages\":[{\"content\":\"a\"}]}")),
     JSONERR("missing_required_parameter", "messages[0].role")},
    {G_JSON, C_KEYS, "role-int", RQ(CHATB("{\"messages\":[{\"role\":7,\"content\":\"a\"}]}")),
     JSONERR("invalid_type", "messages[0].role")},
    {G_JSON, C_KEYS, "role-unknown",
     RQ(CHATB("{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}")),
     JSONERR("invalid_value", "messages[0].role")},
    {G_JSON, C_KEYS, "content-int", RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":5}]}")),
     JSONERR("invalid_type", "messages[0].content")},
    {G_JSON, C_KEYS, "content-missing", RQ(CHATB("{\"messages\":[{\"role\":\"user\"}]}")),
     JSONERR("missing_required_parameter", "messages[0].content")},
    {G_JSON, C_KEYS, "content-object",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":{}}]}")),
     JSONERR("invalid_type", "messages[0].content")},
    {G_JSON, C_KEYS, "content-part-string",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":[\"text\"]}]}")),
     JSONERR("invalid_type", "messages[0].content[0]")},
    {G_JSON, C_KEYS, "content-part-image",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
              "\"image_url\":{\"url\":\"http://x\"}}]}]}")),
     JSONERR("unsupported_content_type", "messages[0].content[0]")},
    {G_JSON, C_KEYS, "content-part-no-text",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}")),
     JSONERR("missing_required_parameter", "messages[0].content[0].text")},
    {G_JSON, C_KEYS, "second-message-bad",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
              "\"content\":true}]}")),
     JSONERR("invalid_type", "messages[1].content")},
    {G_JSON, C_KEYS, "name-int",
     RQ(CHATB("{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"name\":1}]}")),
     JSONERR("invalid_type", "messages[0].name")},
    {G_JSON, C_KEYS, "stream-string", RQ(CHATB("{" MSG1 ",\"stream\":\"yes\"}")),
     JSONERR("invalid_type", "stream")},
    {G_JSON, C_KEYS, "stream-int", RQ(CHATB("{" MSG1 ",\"stream\":1}")),
     JSONERR("invalid_type", "stream")},
    {G_JSON, C_KEYS, "stream-options-int", RQ(CHATB("{" MSG1 ",\"stream_options\":1}")),
     JSONERR("invalid_type", "stream_options")},
    {G_JSON, C_KEYS, "include-usage-string",
     RQ(CHATB("{" MSG1 ",\"stream_options\":{\"include_usage\":\"x\"}}")),
     JSONERR("invalid_type", "stream_options.include_usage")},
    {G_JSON, C_KEYS, "max-tokens-0", RQ(CHATB("{" MSG1 ",\"max_tokens\":0}")),
     JSONERR("integer_below_min_value", "max_tokens")},
    {G_JSON, C_KEYS, "max-tokens-negative", RQ(CHATB("{" MSG1 ",\"max_tokens\":-1}")),
     JSONERR("integer_below_min_value", "max_tokens")},
    {G_JSON, C_KEYS, "max-tokens-int64-min",
     RQ(CHATB("{" MSG1 ",\"max_tokens\":-9223372036854775808}")),
     JSONERR("integer_below_min_value", "max_tokens")},
    {G_JSON, C_KEYS, "max-tokens-float", RQ(CHATB("{" MSG1 ",\"max_tokens\":1.5}")),
     JSONERR("invalid_type", "max_tokens")},
    {G_JSON, C_KEYS, "max-tokens-string", RQ(CHATB("{" MSG1 ",\"max_tokens\":\"10\"}")),
     JSONERR("invalid_type", "max_tokens")},
    {G_JSON, C_KEYS, "max-tokens-bool", RQ(CHATB("{" MSG1 ",\"max_tokens\":true}")),
     JSONERR("invalid_type", "max_tokens")},
    {G_JSON, C_KEYS, "max-completion-tokens-0", RQ(CHATB("{" MSG1 ",\"max_completion_tokens\":0}")),
     JSONERR("integer_below_min_value", "max_completion_tokens")},
    {G_JSON, C_KEYS, "temperature-string", RQ(CHATB("{" MSG1 ",\"temperature\":\"hot\"}")),
     JSONERR("invalid_type", "temperature")},
    {G_JSON, C_KEYS, "temperature-negative", RQ(CHATB("{" MSG1 ",\"temperature\":-0.1}")),
     JSONERR("decimal_below_min_value", "temperature")},
    {G_JSON, C_KEYS, "temperature-above", RQ(CHATB("{" MSG1 ",\"temperature\":2.5}")),
     JSONERR("decimal_above_max_value", "temperature")},
    {G_JSON, C_KEYS, "top-p-above", RQ(CHATB("{" MSG1 ",\"top_p\":1.5}")),
     JSONERR("decimal_above_max_value", "top_p")},
    {G_JSON, C_KEYS, "n-2", RQ(CHATB("{" MSG1 ",\"n\":2}")), JSONERR("unsupported_value", "n")},
    {G_JSON, C_KEYS, "n-0", RQ(CHATB("{" MSG1 ",\"n\":0}")),
     JSONERR("integer_below_min_value", "n")},
    {G_JSON, C_KEYS, "n-string", RQ(CHATB("{" MSG1 ",\"n\":\"1\"}")), JSONERR("invalid_type", "n")},
    {G_JSON, C_KEYS, "stop-five", RQ(CHATB("{" MSG1 ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}")),
     JSONERR("array_above_max_length", "stop")},
    {G_JSON, C_KEYS, "stop-int", RQ(CHATB("{" MSG1 ",\"stop\":5}")),
     JSONERR("invalid_type", "stop")},
    {G_JSON, C_KEYS, "stop-item-int", RQ(CHATB("{" MSG1 ",\"stop\":[\"a\",5]}")),
     JSONERR("invalid_type", "stop[1]")},
    {G_JSON, C_KEYS, "stop-257-bytes", GEN(gen_long_stop, 257),
     JSONERR("string_above_max_length", "stop")},
    {G_JSON, C_KEYS, "user-int", RQ(CHATB("{" MSG1 ",\"user\":42}")),
     JSONERR("invalid_type", "user")},
    {G_JSON, C_KEYS, "tools-string", RQ(CHATB("{" MSG1 ",\"tools\":\"x\"}")),
     JSONERR("invalid_type", "tools")},
    {G_JSON, C_KEYS, "tools-item-int", RQ(CHATB("{" MSG1 ",\"tools\":[1]}")),
     JSONERR("invalid_type", "tools[0]")},
    {G_JSON, C_KEYS, "tool-choice-unknown", RQ(CHATB("{" MSG1 ",\"tool_choice\":\"sometimes\"}")),
     JSONERR("invalid_value", "tool_choice")},
    {G_JSON, C_KEYS, "presence-penalty-above", RQ(CHATB("{" MSG1 ",\"presence_penalty\":3}")),
     JSONERR("decimal_above_max_value", "presence_penalty")},
    {G_JSON, C_KEYS, "seed-float", RQ(CHATB("{" MSG1 ",\"seed\":1.5}")),
     JSONERR("invalid_type", "seed")},
    {G_JSON, C_KEYS, "logprobs-string", RQ(CHATB("{" MSG1 ",\"logprobs\":\"yes\"}")),
     JSONERR("invalid_type", "logprobs")},
    {G_JSON, C_KEYS, "top-logprobs-21", RQ(CHATB("{" MSG1 ",\"top_logprobs\":21}")),
     JSONERR("decimal_above_max_value", "top_logprobs")},
    {G_JSON, C_KEYS, "response-format-string", RQ(CHATB("{" MSG1 ",\"response_format\":\"json\"}")),
     JSONERR("invalid_type", "response_format")},
    {G_JSON, C_KEYS, "logit-bias-array", RQ(CHATB("{" MSG1 ",\"logit_bias\":[]}")),
     JSONERR("invalid_type", "logit_bias")},
    {G_JSON, C_KEYS, "metadata-int", RQ(CHATB("{" MSG1 ",\"metadata\":1}")),
     JSONERR("invalid_type", "metadata")},

/* ---- half-closed clients (shutdown(SHUT_WR) right after sending) ---- */
#define HALF F_SHUT
    {G_HALF, C_KEYS, "401-chat", RQ(CHAT_NOKEY), UNAUTH, .flags = HALF | F_NOCHAT, .never = "ECHO"},
    {G_HALF, C_KEYS, "401-chat-again", RQ(CHAT_NOKEY), UNAUTH, .flags = HALF | F_NOCHAT,
     .never = "ECHO"},
    /* Bursts: the use-after-free of issue 10 was a race between the refusal
     * and the half-close; many at once make it likely. */
    {G_HALF, C_KEYS, "burst-40-401-chat", RQ(CHAT_NOKEY), UNAUTH, .flags = HALF | F_NOCHAT,
     .never = "ECHO", .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-401-chat-stream",
     RQ(POST_CHAT JSONCT "Content-Length: @CL@\r\n\r\n{" MSG1 ",\"stream\":true}"), UNAUTH,
     .flags = HALF | F_NOCHAT, .never = "ECHO", .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-401-login-start",
     RQ("POST /internal/auto-login/start?instance=inst-0 HTTP/1.1\r\n" HOST
        "Content-Length: 0\r\n\r\n"),
     UNAUTH, .flags = HALF | F_NOLOGIN, .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-404-post",
     RQ("POST /nope HTTP/1.1\r\n" HOST AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     NOT_FOUND, .flags = HALF | F_NOCHAT, .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-405-get-chat", RQ(GETH("/v1/chat/completions", AUTH)), ALLOW_POST,
     .flags = HALF | F_NOCHAT, .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-400-framing-chat",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT),
     BAD_FRAMING, .flags = HALF | F_CLOSE | F_NOCHAT, .repeat = 40},
    {G_HALF, C_KEYS, "burst-40-200-models", RQ(GETH("/v1/models", AUTH)), ST(200), .flags = HALF,
     .body_has = "\"object\":\"list\"", .repeat = 40},
    {G_HALF, C_KEYS, "401-chat-connection-close",
     RQ(POST_CHAT JSONCT CLOSE "Content-Length: @CL@\r\n\r\n" CHAT_BODY), UNAUTH,
     .flags = HALF | F_NOCHAT, .never = "ECHO"},
    {G_HALF, C_KEYS, "401-chat-wrong-key",
     RQ(POST_CHAT "Authorization: Bearer sk-wrong\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     UNAUTH, .flags = HALF | F_NOCHAT, .never = "ECHO"},
    {G_HALF, C_KEYS, "401-chat-stream",
     RQ(POST_CHAT JSONCT "Content-Length: @CL@\r\n\r\n{" MSG1 ",\"stream\":true}"), UNAUTH,
     .flags = HALF | F_NOCHAT, .never = "ECHO"},
    {G_HALF, C_KEYS, "401-chat-chunked",
     RQ(POST_CHAT JSONCT "Transfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT), UNAUTH,
     .flags = HALF | F_NOCHAT, .never = "ECHO"},
    {G_HALF, C_KEYS, "401-login-start",
     RQ("POST /internal/auto-login/start?instance=inst-0 HTTP/1.1\r\n" HOST
        "Content-Length: 0\r\n\r\n"),
     UNAUTH, .flags = HALF | F_NOLOGIN},
    {G_HALF, C_KEYS, "401-models", RQ(GETH("/v1/models", "")), UNAUTH, .flags = HALF,
     .never = "\"object\":\"list\""},
    {G_HALF, C_KEYS, "401-model", RQ(GETH("/v1/models/auto", "")), UNAUTH, .flags = HALF,
     .never = "\"object\":\"model\""},
    {G_HALF, C_KEYS, "401-stats", RQ(GETH("/internal/stats", "")), UNAUTH, .flags = HALF,
     .never = "concurrency"},
    {G_HALF, C_KEYS, "401-login-status", RQ(GETH("/internal/auto-login/status", "")), UNAUTH,
     .flags = HALF, .never = "\"instances\""},
    {G_HALF, C_KEYS, "401-metrics", RQ(GETH("/metrics", "")), UNAUTH, .flags = HALF,
     .never = "gateway_"},
    {G_HALF, C_KEYS, "404-get", RQ(GETH("/nope", AUTH)), NOT_FOUND, .flags = HALF},
    {G_HALF, C_KEYS, "404-post-with-body",
     RQ("POST /nope HTTP/1.1\r\n" HOST AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     NOT_FOUND, .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "404-no-key", RQ(GETH("/nope", "")), NOT_FOUND, .flags = HALF},
    {G_HALF, C_KEYS, "405-get-chat", RQ(GETH("/v1/chat/completions", AUTH)), ALLOW_POST,
     .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "405-post-models",
     RQ("POST /v1/models HTTP/1.1\r\n" HOST AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     ALLOW_GET, .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "405-get-login-start",
     RQ(GETH("/internal/auto-login/start?instance=inst-0", AUTH)), ALLOW_POST,
     .flags = HALF | F_NOLOGIN},
    {G_HALF, C_KEYS, "400-bad-header-chat",
     RQ(POST_CHAT AUTH "X-A: a\0b\r\n" JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY), BAD_HEADER,
     .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "400-bad-framing-chat",
     RQ(POST_CHAT AUTH JSONCT
        "Content-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT),
     BAD_FRAMING, .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "400-cl-cl-chat",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\nContent-Length: 45\r\n\r\n" CHAT_BODY),
     BAD_FRAMING, .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "400-duplicate-credentials-chat",
     RQ(POST_CHAT AUTH AUTH JSONCT "Content-Length: @CL@\r\n\r\n" CHAT_BODY), DUPCRED,
     .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "400-duplicate-credentials-login",
     RQ("POST /internal/auto-login/start?instance=inst-0 HTTP/1.1\r\n" HOST AUTH AUTH
        "Content-Length: 0\r\n\r\n"),
     DUPCRED, .flags = HALF | F_NOLOGIN},
    {G_HALF, C_KEYS, "400-target-login",
     RQ("POST /internal/auto-login/start?instance=inst-0%00x HTTP/1.1\r\n" HOST AUTH
        "Content-Length: 0\r\n\r\n"),
     BAD_TARGET, .flags = HALF | F_NOLOGIN},
    {G_HALF, C_KEYS, "400-target-model", RQ(GETH("/v1/models/auto%00x", AUTH)), BAD_TARGET,
     .flags = HALF, .never = "\"id\":\"auto\""},
    {G_HALF, C_KEYS, "400-key-nul-junk",
     RQ(POST_CHAT "Authorization: Bearer " KEY1 "\0junk\r\n" JSONCT
                  "Content-Length: @CL@\r\n\r\n" CHAT_BODY),
     BAD_HEADER, .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "413-chat", GEN(gen_cl_only, 65537), ST(413), .code = "request_too_large",
     .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "413-chat-expect-100", GEN(gen_cl_expect, 1000000), ST(413),
     .code = "request_too_large", .flags = HALF | F_CLOSE | F_NOCHAT | F_NO100},
    {G_HALF, C_KEYS, "431-chat", GEN(gen_block_chat, 7169), TOO_LARGE,
     .flags = HALF | F_CLOSE | F_NOCHAT},
    {G_HALF, C_KEYS, "400-invalid-json-chat", RQ(CHATB("{\"messages\":")), ST(400, NORESP),
     .code = "invalid_json", .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "404-unknown-model-chat", RQ(CHATB("{" MSG1 ",\"model\":\"gpt-4o\"}")),
     ST(404, NORESP), .code = "model_not_found", .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "401-partial-body",
     RQ(POST_CHAT JSONCT "Content-Length: 45\r\n\r\n{\"messages\""), UNAUTH,
     .flags = HALF | F_NOCHAT},
    {G_HALF, C_KEYS, "partial-body-with-key",
     RQ(POST_CHAT AUTH JSONCT "Content-Length: 45\r\n\r\n{\"messages\""), ST(NORESP, 400),
     .flags = HALF | F_MHD | F_CLOSE | F_NOCHAT | F_LINGER, .wait_ms = 600},
    {G_HALF, C_KEYS, "200-healthz", RQ(GETH("/healthz", "")), ST(200), .flags = HALF,
     .body_has = "\"status\":\"ok\""},
    {G_HALF, C_KEYS, "200-models", RQ(GETH("/v1/models", AUTH)), ST(200), .flags = HALF,
     .body_has = "\"object\":\"list\""},
    {G_HALF, C_KEYS, "200-model", RQ(GETH("/v1/models/dashscope_qwen3_coder", AUTH)), ST(200),
     .flags = HALF, .body_has = "\"object\":\"model\""},
    {G_HALF, C_KEYS, "200-stats", RQ(GETH("/internal/stats", AUTH)), ST(200), .flags = HALF,
     .body_has = "\"concurrency\""},
    {G_HALF, C_KEYS, "200-login-status", RQ(GETH("/internal/auto-login/status", AUTH)), ST(200),
     .flags = HALF, .body_has = "\"instances\""},
    {G_HALF, C_KEYS, "200-metrics", RQ(GETH("/metrics", AUTH)), ST(200), .flags = HALF | F_NOCT,
     .body_has = "gateway_"},
    {G_HALF, C_KEYS, "200-head-healthz", RQ("HEAD /healthz HTTP/1.1\r\n" HOST CLOSE "\r\n"),
     ST(200), .flags = HALF | F_HEAD, .head_of = "/healthz"},
    {G_HALF, C_KEYS, "valid-chat-slow-is-gone", RQ(CHAT_OK), ST(0),
     .flags = HALF | F_NOT200 | F_GONE, .sim = "{\"first_token_ms\":1500}", .wait_ms = 4000,
     .never = "ECHO"},
    {G_HALF, C_KEYS, "valid-stream-slow-is-gone", RQ(CHATB("{" MSG1 ",\"stream\":true}")), ST(0),
     .flags = HALF | F_NOT200 | F_GONE | F_NOCT | F_CUTOK, .sim = "{\"first_token_ms\":1500}",
     .wait_ms = 4000, .never = "ECHO"},
    {G_HALF, C_KEYS, "valid-chunked-chat-slow-is-gone",
     RQ(POST_CHAT AUTH JSONCT "Transfer-Encoding: chunked\r\n\r\n" CHUNKED_CHAT), ST(0),
     .flags = HALF | F_NOT200 | F_GONE, .sim = "{\"first_token_ms\":1500}", .wait_ms = 4000,
     .never = "ECHO"},
    /* A chat that finishes before the client's FIN reaches the gateway is
     * answered in full: no server can see a FIN that has not arrived. Either
     * way nothing half-done: no answer, or a complete one. */
    {G_HALF, C_KEYS, "valid-chat-fast-half-closed", RQ(CHAT_OK), ST(0), .flags = HALF | F_WHOLEOK},
#undef HALF

/* ---- HEAD and CORS -------------------------------------------------- */
#define HEADR(path, extra) "HEAD " path " HTTP/1.1\r\n" HOST extra CLOSE "\r\n"
    {G_CORS, C_KEYS, "head-healthz", RQ(HEADR("/healthz", "")), ST(200), .flags = F_HEAD,
     .head_of = "/healthz"},
    {G_CORS, C_KEYS, "head-models", RQ(HEADR("/v1/models", AUTH)), ST(200), .flags = F_HEAD,
     .head_of = "/v1/models"},
    {G_CORS, C_KEYS, "head-model", RQ(HEADR("/v1/models/dashscope_qwen3_coder", AUTH)), ST(200),
     .flags = F_HEAD, .head_of = "/v1/models/dashscope_qwen3_coder"},
    {G_CORS, C_KEYS, "head-alias-models", RQ(HEADR("/models", AUTH)), ST(200), .flags = F_HEAD,
     .head_of = "/models"},
    {G_CORS, C_KEYS, "head-stats", RQ(HEADR("/internal/stats", AUTH)), ST(200), .flags = F_HEAD,
     .head_of = "/internal/stats"},
    {G_CORS, C_KEYS, "head-login-status", RQ(HEADR("/internal/auto-login/status", AUTH)), ST(200),
     .flags = F_HEAD, .head_of = "/internal/auto-login/status"},
    {G_CORS, C_KEYS, "head-metrics", RQ(HEADR("/metrics", AUTH)), ST(200), .flags = F_HEAD | F_NOCT,
     .hdr = "content-length"},
    {G_CORS, C_KEYS, "head-models-no-key", RQ(HEADR("/v1/models", "")), UNAUTH, .flags = F_HEAD},
    {G_CORS, C_KEYS, "head-chat", RQ(HEADR("/v1/chat/completions", AUTH)), ALLOW_POST,
     .flags = F_HEAD},
    {G_CORS, C_KEYS, "head-unknown", RQ(HEADR("/nope", AUTH)), ST(404), .flags = F_HEAD},
    {G_CORS, C_KEYS, "head-model-unknown", RQ(HEADR("/v1/models/gpt-4o", AUTH)), ST(404),
     .flags = F_HEAD},
    {G_CORS, C_KEYS, "head-login-start",
     RQ(HEADR("/internal/auto-login/start?instance=inst-0", AUTH)), ALLOW_POST,
     .flags = F_HEAD | F_NOLOGIN},
#undef HEADR
#define PREFLIGHT(path, origin, extra)                                                             \
    "OPTIONS " path " HTTP/1.1\r\n" HOST "Origin: " origin "\r\n"                                  \
    "Access-Control-Request-Method: POST\r\n" extra "\r\n"
#define CORS_OK                                                                                    \
    "access-control-allow-origin: https://a.example\naccess-control-allow-methods\n"               \
    "access-control-allow-headers\nvary~Origin"
#define NO_ACAO "!access-control-allow-origin"
    {G_CORS, C_KEYS, "cors-off-preflight",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example", "")), ST(405),
     .code = "method_not_allowed", .hdr = "allow: POST\n" NO_ACAO},
    {G_CORS, C_KEYS, "cors-off-options-healthz", RQ("OPTIONS /healthz HTTP/1.1\r\n" HOST "\r\n"),
     ALLOW_GET},
    {G_CORS, C_KEYS, "cors-off-options-asterisk", RQ("OPTIONS * HTTP/1.1\r\n" HOST "\r\n"),
     ST(400, 404, 405)},
    {G_CORS, C_KEYS, "cors-off-actual-request",
     RQ(GETH("/v1/models", AUTH "Origin: https://a.example\r\n")), ST(200), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-chat",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example", "")), ST(204), .hdr = CORS_OK},
    {G_CORS, C_CORS, "preflight-models",
     RQ("OPTIONS /v1/models HTTP/1.1\r\n" HOST "Origin: https://a.example\r\n"
        "Access-Control-Request-Method: GET\r\n\r\n"),
     ST(204), .hdr = CORS_OK},
    {G_CORS, C_CORS, "preflight-request-headers",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example",
                  "Access-Control-Request-Headers: authorization, content-type, "
                  "x-stainless-retry-count\r\n")),
     ST(204), .hdr = CORS_OK},
    {G_CORS, C_CORS, "preflight-with-wrong-key",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example",
                  "Authorization: Bearer sk-wrong\r\n")),
     ST(204), .hdr = CORS_OK},
    {G_CORS, C_CORS, "preflight-half-closed",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example", "")), ST(204), .hdr = CORS_OK,
     .flags = F_SHUT},
    {G_CORS, C_CORS, "preflight-evil-origin",
     RQ(PREFLIGHT("/v1/chat/completions", "https://evil.example", "")), ST(403, 405),
     .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-suffix",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example.evil.example", "")), ST(403, 405),
     .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-prefix",
     RQ(PREFLIGHT("/v1/chat/completions", "https://xa.example", "")), ST(403, 405), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-http",
     RQ(PREFLIGHT("/v1/chat/completions", "http://a.example", "")), ST(403, 405), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-port",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example:8443", "")), ST(403, 405),
     .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-null", RQ(PREFLIGHT("/v1/chat/completions", "null", "")),
     ST(403, 405), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-trailing-slash",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example/", "")), ST(403, 405), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-origin-nul",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example\0.evil", "")), BAD_HEADER,
     .flags = F_CLOSE},
    {G_CORS, C_CORS, "preflight-no-origin",
     RQ("OPTIONS /v1/models HTTP/1.1\r\n" HOST "Access-Control-Request-Method: GET\r\n\r\n"),
     ST(204, 400, 403, 405), .hdr = NO_ACAO},
    {G_CORS, C_CORS, "preflight-bad-framing",
     RQ(PREFLIGHT("/v1/chat/completions", "https://a.example",
                  "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") "0\r\n\r\n" SMUGGLE),
     BAD_FRAMING, .flags = REFUSE_HDR},
    {G_CORS, C_CORS, "actual-chat-no-key",
     RQ(POST_CHAT JSONCT "Origin: https://a.example\r\nContent-Length: @CL@\r\n\r\n" CHAT_BODY),
     ST(401), .code = "invalid_api_key",
     .hdr = "www-authenticate: Bearer*\naccess-control-allow-origin: https://a.example",
     .flags = F_NOCHAT},
    {G_CORS, C_CORS, "actual-models-key",
     RQ(GETH("/v1/models", AUTH "Origin: https://a.example\r\n")), ST(200),
     .hdr = "access-control-allow-origin: https://a.example"},
    {G_CORS, C_CORS, "actual-chat-key",
     RQ(POST_CHAT AUTH JSONCT
        "Origin: https://a.example\r\nContent-Length: @CL@\r\n\r\n" CHAT_BODY),
     ST(200), .hdr = "access-control-allow-origin: https://a.example", .body_has = "ECHO: hi"},
    {G_CORS, C_CORS, "actual-evil-origin",
     RQ(GETH("/v1/models", AUTH "Origin: https://evil.example\r\n")), ST(200), .hdr = NO_ACAO},
    {G_CORS, C_CORS_STAR, "star-preflight",
     RQ(PREFLIGHT("/v1/chat/completions", "https://b.example", "")), ST(204),
     .hdr = "access-control-allow-origin\naccess-control-allow-methods\n"
            "access-control-allow-headers"},
    {G_CORS, C_CORS_STAR, "star-actual-no-key",
     RQ(POST_CHAT JSONCT "Origin: https://b.example\r\nContent-Length: @CL@\r\n\r\n" CHAT_BODY),
     ST(401), .code = "invalid_api_key", .hdr = "access-control-allow-origin", .flags = F_NOCHAT},
    {G_CORS, C_CORS_STAR, "star-actual-key",
     RQ(GETH("/v1/models", AUTH "Origin: https://b.example\r\n")), ST(200),
     .hdr = "access-control-allow-origin"},
#undef PREFLIGHT
#undef CORS_OK
#undef NO_ACAO
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- daemons, one per configuration ------------------------------------ */

/* A request still uploading its body holds a SIGTERM drain for the whole
 * drain timeout (30 s by default): keep the final clean-exit check short. */
#define DRAIN "GATEWAY_DRAIN_TIMEOUT_SEC=3"

static const char *const env_keys[] = {"API_KEYS=" KEY1 "," KEY2, "GATEWAY_MAX_BODY_BYTES=65536",
                                       DRAIN, NULL};
static const char *const env_open[] = {"GATEWAY_MAX_BODY_BYTES=65536", DRAIN, NULL};
static const char *const env_cors[] = {"API_KEYS=" KEY1 "," KEY2, "GATEWAY_MAX_BODY_BYTES=65536",
                                       DRAIN, "GATEWAY_CORS_ORIGINS=https://a.example", NULL};
static const char *const env_star[] = {"API_KEYS=" KEY1 "," KEY2, "GATEWAY_MAX_BODY_BYTES=65536",
                                       DRAIN, "GATEWAY_CORS_ORIGINS=*", NULL};
static const char *const env_mem16k[] = {"API_KEYS=" KEY1 "," KEY2, "GATEWAY_MAX_BODY_BYTES=65536",
                                         DRAIN, "GATEWAY_CONNECTION_MEMORY=16384", NULL};
static const char *const *const cfg_env[C_N] = {env_keys, env_open, env_cors, env_star, env_mem16k};

static struct gwd D[C_N];
static bool D_up[C_N];
static unsigned restarts;

/* A plain loopback connection with a send timeout, or -1. */
static int
tcp_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send everything; 0 or the errno that stopped it (EPIPE, ECONNRESET,
 * EAGAIN on the send timeout). */
static int
send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- responses ---------------------------------------------------------- */

struct hresp {
    int status;
    const char *head; /* status line and headers, into the raw bytes */
    size_t head_len;
    char *body; /* malloc'd, decoded when chunked */
    size_t body_len;
    bool complete;
};

struct result {
    struct obuf raw;
    bool eof, reset, timed_out, stopped_early;
    int send_err;
    struct hresp r[8];
    size_t nr;      /* final answers */
    size_t interim; /* 1xx before them */
    size_t tail;    /* bytes after the last answer that are not one */
    long long ms;   /* time to the end of the read */
};

static void
parse_free(struct result *res)
{
    for (size_t i = 0; i < res->nr; i++)
        free(res->r[i].body);
    res->nr = 0;
    res->interim = 0;
    res->tail = 0;
}

/* The value of header `name` in a head block, the i-th occurrence. */
static bool
head_get(const char *head, size_t len, const char *name, size_t nth, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = memmem(head, len, "\r\n", 2);
    const char *end = head + len;
    while (p && p < end) {
        p += 2;
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0 && nth-- == 0) {
            const char *v = p + nl + 1;
            while (v < p + ll && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(p + ll - v);
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = eol;
    }
    return false;
}

static bool
rget(const struct hresp *r, const char *name, char *out, size_t outlen)
{
    return head_get(r->head, r->head_len, name, 0, out, outlen);
}

/* Decode a chunked body; returns the bytes consumed or 0 when incomplete. */
static size_t
dechunk(const char *p, size_t n, struct obuf *out)
{
    size_t off = 0;
    for (;;) {
        const char *eol = memmem(p + off, n - off, "\r\n", 2);
        if (!eol)
            return 0;
        unsigned long long sz = strtoull(p + off, NULL, 16);
        off = (size_t)(eol - p) + 2;
        if (sz == 0) {
            /* trailers up to the blank line */
            for (;;) {
                const char *e2 = memmem(p + off, n - off, "\r\n", 2);
                if (!e2)
                    return 0;
                bool blank = e2 == p + off;
                off = (size_t)(e2 - p) + 2;
                if (blank)
                    return off;
            }
        }
        if (sz > n - off || n - off - sz < 2)
            return 0;
        ob_add(out, p + off, sz);
        off += sz + 2;
    }
}

static void
parse(struct result *res, bool is_head)
{
    parse_free(res);
    const char *buf = res->raw.p ? res->raw.p : "";
    size_t n = res->raw.n, off = 0;
    while (off < n && res->nr < 8) {
        const char *s = buf + off;
        size_t left = n - off;
        if (left < 12 || memcmp(s, "HTTP/", 5) != 0) {
            if (memcmp(s, "HTTP/", left < 5 ? left : 5) != 0 || res->eof || res->reset)
                res->tail = left;
            break;
        }
        const char *he = memmem(s, left, "\r\n\r\n", 4);
        if (!he) {
            if (res->eof || res->reset)
                res->tail = left;
            break;
        }
        int st = atoi(s + 9);
        size_t hl = (size_t)(he - s), boff = hl + 4;
        if (st >= 100 && st < 200) {
            res->interim++;
            off += boff;
            continue;
        }
        struct hresp *r = &res->r[res->nr++];
        memset(r, 0, sizeof(*r));
        r->status = st;
        r->head = s;
        r->head_len = hl;
        char v[64];
        bool chunked = head_get(s, hl, "transfer-encoding", 0, v, sizeof(v)) &&
                       strcasestr(v, "chunked") != NULL;
        long long cl = head_get(s, hl, "content-length", 0, v, sizeof(v)) ? atoll(v) : -1;
        size_t used = 0;
        struct obuf body = {0};
        if (is_head || st == 204 || st == 304) {
            r->complete = true;
        } else if (chunked) {
            used = dechunk(s + boff, left - boff, &body);
            r->complete = used > 0;
            if (!r->complete) {
                free(body.p);
                body = (struct obuf){0};
                ob_add(&body, s + boff, left - boff);
                used = left - boff;
            }
        } else if (cl >= 0) {
            used = (size_t)cl <= left - boff ? (size_t)cl : left - boff;
            ob_add(&body, s + boff, used);
            r->complete = used == (size_t)cl;
        } else {
            used = left - boff;
            ob_add(&body, s + boff, used);
            r->complete = res->eof || res->reset;
        }
        if (!body.p)
            ob_add(&body, "", 0);
        r->body = body.p;
        r->body_len = body.n;
        off += boff + used;
        if (!r->complete)
            break;
    }
}

static bool
in_set(const int *st, int v)
{
    for (size_t i = 0; i < 6 && st[i]; i++)
        if (st[i] == v)
            return true;
    return false;
}

/* Read until EOF (until_eof) or until `want` complete answers, the deadline,
 * or a complete first answer whose status is not accepted (the case has
 * failed; waiting for more only slows a failing run down). */
static void
read_result(int fd, struct result *res, const struct hcase *c, bool until_eof, size_t want,
            int timeout_ms)
{
    long long t0 = gwd_now_ms(), end = t0 + timeout_ms;
    bool is_head = (c->flags & F_HEAD) != 0;
    char tmp[16384];
    for (;;) {
        long long left = end - gwd_now_ms();
        if (left <= 0) {
            res->timed_out = true;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left < 100 ? left : 100));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if (r == 0) {
            res->eof = true;
            break;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            res->reset = true;
            break;
        }
        ob_add(&res->raw, tmp, (size_t)r);
        parse(res, is_head);
        if (res->nr && res->r[0].complete && !(c->flags & (F_NOT200 | F_SMUGGLE)) &&
            !in_set(c->st, res->r[0].status)) {
            res->stopped_early = true;
            break;
        }
        /* An error answer of libmicrohttpd's must end with a close. */
        bool want_eof =
            until_eof || ((c->flags & (F_MHD | F_ENVOPT)) && res->nr && res->r[0].status >= 400);
        if (!want_eof && res->nr >= want && res->r[res->nr - 1].complete)
            break;
    }
    res->ms = gwd_now_ms() - t0;
    parse(res, is_head);
}

/* Build the request bytes: the row's, or its generator's; @CL@ becomes the
 * length of what follows the first blank line. */
static void
build_request(struct obuf *o, const struct hcase *c)
{
    if (c->gen)
        c->gen(o, c->arg);
    else
        ob_add(o, c->req, c->req_len);
    char *at = o->p ? memmem(o->p, o->n, "@CL@", 4) : NULL;
    if (!at)
        return;
    const char *he = memmem(o->p, o->n, "\r\n\r\n", 4);
    size_t body = he ? o->n - (size_t)(he + 4 - o->p) : 0;
    struct obuf n = {0};
    ob_add(&n, o->p, (size_t)(at - o->p));
    ob_fmt(&n, "%zu", body);
    ob_add(&n, at + 4, o->n - (size_t)(at + 4 - o->p));
    free(o->p);
    *o = n;
}

/* A printable excerpt of bytes: control bytes escaped. */
static void
excerpt(struct obuf *e, const char *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r')
            ob_str(e, "\\r");
        else if (ch == '\n')
            ob_str(e, "\\n");
        else if (ch < 0x20 || ch >= 0x7f)
            ob_fmt(e, "\\x%02x", ch);
        else
            ob_add(e, p + i, 1);
    }
    if (n > max)
        ob_fmt(e, "...(%zu bytes)", n);
}

/* ---- small synchronous requests for checks ------------------------------ */

/* One request on a fresh connection with "Connection: close" already in
 * it; the first answer's status (-1 none) and body. */
static int
simple(unsigned port, const char *req, char **body, int timeout_ms)
{
    if (body)
        *body = NULL;
    int fd = tcp_connect(port);
    if (fd < 0)
        return -1;
    struct hcase dummy = {.st = {1}};
    struct result res = {0};
    int st = -1;
    if (send_all(fd, req, strlen(req)) == 0) {
        read_result(fd, &res, &dummy, true, 1, timeout_ms);
        if (res.nr && res.r[0].complete) {
            st = res.r[0].status;
            if (body) {
                *body = res.r[0].body;
                res.r[0].body = NULL;
            }
        }
    }
    close(fd);
    parse_free(&res);
    free(res.raw.p);
    return st;
}

static bool
serving(struct gwd *g, char *why, size_t whylen)
{
    int st = simple(g->port, "GET /healthz HTTP/1.1\r\n" HOST CLOSE "\r\n", NULL, 5000);
    if (st == 200)
        return true;
    snprintf(why, whylen, "GET /healthz on a fresh connection: %s %d",
             st < 0 ? "no answer" : "status", st);
    return false;
}

static char *
login_status(struct gwd *g)
{
    char *body = NULL;
    simple(g->port, GETH("/internal/auto-login/status", AUTH CLOSE), &body, 5000);
    return body ? body : strdup("(none)");
}

static int
sentinel_chat(struct gwd *g)
{
    return simple(g->port,
                  POST_CHAT AUTH JSONCT CLOSE "Content-Length: 51\r\n\r\n"
                                              "{\"messages\":[{\"role\":\"user\",\"content\":"
                                              "\"sentinel\"}]}",
                  NULL, 10000);
}

/* ---- the daemon's log ---------------------------------------------------- */

static long
file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n < 0 ? 0 : n;
}

static char *
read_from(const char *path, long off, size_t *len)
{
    struct obuf b = {0};
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, off, SEEK_SET);
        char tmp[8192];
        size_t r;
        while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
            ob_add(&b, tmp, r);
        fclose(f);
    }
    if (!b.p)
        ob_add(&b, "", 0);
    *len = b.n;
    return b.p;
}

static size_t
count_in(const char *p, size_t n, const char *needle)
{
    size_t k = 0, nl = strlen(needle);
    for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), needle, nl)); q += nl)
        k++;
    return k;
}

/* Chats handed to the pool: "msg":"chat <n> -> <instance>. */
static size_t
count_dispatch(const char *p, size_t n)
{
    size_t k = 0;
    static const char pre[] = "\"msg\":\"chat ";
    for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), pre, sizeof(pre) - 1));) {
        q += sizeof(pre) - 1;
        const char *d = q;
        while (d < p + n && *d >= '0' && *d <= '9')
            d++;
        if (d > q && (size_t)(p + n - d) > 4 && memcmp(d, " -> ", 4) == 0)
            k++;
    }
    return k;
}

/* Chats dispatched by a daemon since it started, from its log, scanned
 * incrementally up to the last complete line. */
static long log_scanned[C_N];
static size_t log_dispatched[C_N];

static size_t
dispatched_total(enum cfg cfg)
{
    size_t ln;
    char *log = read_from(D[cfg].log, log_scanned[cfg], &ln);
    const char *nl = ln ? memrchr(log, '\n', ln) : NULL;
    if (nl) {
        size_t upto = (size_t)(nl - log) + 1;
        log_dispatched[cfg] += count_dispatch(log, upto);
        log_scanned[cfg] += (long)upto;
    }
    free(log);
    return log_dispatched[cfg];
}

static void
daemon_start(enum cfg cfg)
{
    struct gwd *g = &D[cfg];
    /* A start that failed half-way (gwd_start failed its case) may have left
     * a process and a work dir: end them before they are forgotten. */
    gwd_stop(g);
    gwd_start(g, cfg_env[cfg], true);
    D_up[cfg] = true;
    log_scanned[cfg] = 0;
    log_dispatched[cfg] = 0;
    /* The catalogue is loaded once the instance is ready: unknown models are
     * 404 only from then on. */
    long long end = gwd_now_ms() + 15000;
    while (gwd_now_ms() < end) {
        struct gwd_resp r;
        gwd_req(&r, g, "GET", "/v1/models", NULL, (const char *const[]){AUTH, NULL});
        size_t n = json_array_size(json_object_get(r.json, "data"));
        gwd_resp_free(&r);
        if (n >= 3)
            return;
        usleep(20000);
    }
    fail_msg("lingma-gatewayd (config %d): the model catalogue never loaded", (int)cfg);
}

static struct gwd *
daemon_for(enum cfg cfg)
{
    if (D_up[cfg] && gwd_pid_alive(D[cfg].pid))
        return &D[cfg];
    if (D_up[cfg]) {
        gwd_stop(&D[cfg]);
        D_up[cfg] = false;
        restarts++;
    }
    daemon_start(cfg);
    return &D[cfg];
}

/* ---- checks ------------------------------------------------------------- */

static struct obuf E; /* the current case's failures */

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
err(const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    ob_str(&E, E.n ? "\n    - " : "    - ");
    ob_str(&E, tmp);
}

static void
set_str(char *out, size_t len, const int *st)
{
    struct obuf b = {0};
    for (size_t i = 0; i < 6 && st[i]; i++) {
        if (st[i] == NORESP)
            ob_fmt(&b, "%snone", i ? "," : "");
        else
            ob_fmt(&b, "%s%d", i ? "," : "", st[i]);
    }
    snprintf(out, len, "%s", b.p ? b.p : "");
    free(b.p);
}

static bool
alt_match(const char *alts, const char *v)
{
    if (!v)
        return false;
    size_t vl = strlen(v);
    for (const char *p = alts; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && strncmp(p, v, l) == 0)
            return true;
        p += l + (bar ? 1 : 0);
    }
    return false;
}

/* One header rule: "name" present, "!name" absent, "name: value" exact
 * (case-insensitive), "name: pre*" prefix, "name~sub" contains. */
static void
hdr_rule(const struct hresp *r, const char *rule, size_t len)
{
    char buf[256], name[128], want[200], got[1024];
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, rule, len);
    buf[len] = '\0';
    bool absent = buf[0] == '!';
    const char *b = buf + (absent ? 1 : 0);
    const char *colon = strstr(b, ": ");
    const char *tilde = strchr(b, '~');
    const char *sep = colon ? colon : tilde;
    size_t nl = sep ? (size_t)(sep - b) : strlen(b);
    snprintf(name, sizeof(name), "%.*s", (int)nl, b);
    snprintf(want, sizeof(want), "%s", sep ? sep + (colon ? 2 : 1) : "");
    if (absent) {
        if (rget(r, name, got, sizeof(got)))
            err("header %s must be absent, got '%s'", name, got);
        return;
    }
    bool any = false;
    for (size_t i = 0; head_get(r->head, r->head_len, name, i, got, sizeof(got)); i++) {
        any = true;
        size_t wl = strlen(want);
        if (!sep)
            return;
        if (tilde && !colon && strcasestr(got, want))
            return;
        if (colon && wl && want[wl - 1] == '*' && strncasecmp(got, want, wl - 1) == 0)
            return;
        if (colon && strcasecmp(got, want) == 0)
            return;
    }
    if (!any)
        err("header %s missing%s%s", name, sep ? ", expected " : "", sep ? want : "");
    else
        err("header %s: '%s', expected %s'%s'", name, got, tilde && !colon ? "to contain " : "",
            want);
}

static void
check_envelope(const struct hcase *c, const struct hresp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        struct obuf x = {0};
        excerpt(&x, r->body, r->body_len, 160);
        err("body is not our JSON envelope: %s", x.p ? x.p : "");
        free(x.p);
        json_decref(j);
        return;
    }
    json_t *e = json_object_get(j, "error");
    if (json_object_size(j) != 1 || !json_is_object(e)) {
        err("envelope: the body is not {\"error\":{...}}");
        json_decref(j);
        return;
    }
    json_t *msg = json_object_get(e, "message"), *type = json_object_get(e, "type"),
           *param = json_object_get(e, "param"), *code = json_object_get(e, "code");
    if (json_object_size(e) != 4 || !json_is_string(msg) || !json_is_string(type) ||
        !(json_is_string(param) || json_is_null(param)) || !json_is_string(code))
        err("envelope: error needs exactly message, type (strings), param (string|null), code "
            "(string)");
    const char *want_type =
        c->type ? c->type : (r->status >= 400 && r->status < 500 ? "invalid_request_error" : NULL);
    if (want_type && json_is_string(type) && strcmp(json_string_value(type), want_type) != 0)
        err("error.type '%s', expected '%s'", json_string_value(type), want_type);
    if (c->code && !alt_match(c->code, json_string_value(code)))
        err("error.code '%s', expected '%s'", json_is_string(code) ? json_string_value(code) : "?",
            c->code);
    if (c->param) {
        bool want_null = strcmp(c->param, "-") == 0;
        if (want_null ? !json_is_null(param)
                      : !json_is_string(param) || strcmp(json_string_value(param), c->param))
            err("error.param %s%s%s, expected %s", json_is_string(param) ? "'" : "",
                json_is_string(param) ? json_string_value(param) : "null",
                json_is_string(param) ? "'" : "", want_null ? "null" : c->param);
    }
    json_decref(j);
}

struct obs {
    char text[200];
};
static struct obs observed[sizeof(cases) / sizeof(cases[0])];
static long long case_ms[sizeof(cases) / sizeof(cases[0])];
static long long case_ms_all[sizeof(cases) / sizeof(cases[0])];
static bool failed[sizeof(cases) / sizeof(cases[0])];

static void
check_result(const struct hcase *c, struct result *res, struct gwd *g, size_t idx)
{
    int st = res->nr ? res->r[0].status : NORESP;
    const struct hresp *r0 = res->nr ? &res->r[0] : NULL;
    bool closed = res->eof || res->reset;
    char xrid[256], ct[256];
    bool has_xrid = r0 && rget(r0, "x-request-id", xrid, sizeof(xrid));
    bool ours = r0 && (!(c->flags & (F_MHD | F_ENVOPT)) || has_xrid);

    struct obuf o = {0};
    if (st == NORESP)
        ob_str(&o, "no answer");
    else
        ob_fmt(&o, "status %d%s", st, has_xrid ? " (ours)" : " (not ours: no x-request-id)");
    ob_str(&o, res->reset ? ", reset" : res->eof ? ", closed" : ", left open");
    if (res->send_err)
        ob_fmt(&o, ", send failed: %s", strerror(res->send_err));
    snprintf(observed[idx].text, sizeof(observed[idx].text), "%s", o.p);
    free(o.p);

    bool cut_stream = false;
    if ((c->flags & F_CUTOK) && st == 200 && r0 && !r0->complete) {
        const char *b = r0->body ? r0->body : "";
        cut_stream = !strstr(b, "[DONE]") && !strstr(b, "\"finish_reason\":\"");
        if (!cut_stream)
            err("a half-closed client's stream was cut but looks finished");
    }
    if (c->flags & F_NOT200) {
        if (st == 200 && !cut_stream)
            err("a half-closed client's chat was answered 200 (it should be treated as gone)");
    } else if (c->flags & F_WHOLEOK) {
        if (st == 200 && (!r0 || !r0->complete))
            err("a half-closed client got a 200 that is not complete");
        else if (st != 200 && st != NORESP)
            err("status %d, expected no answer or a complete 200", st);
    } else if (!in_set(c->st, st) && !(st == NORESP && (c->flags & F_LINGER) && !closed)) {
        char want[64];
        set_str(want, sizeof(want), c->st);
        if (st == NORESP)
            err("no answer (%s after %lld ms%s), expected %s",
                res->reset ? "reset"
                : res->eof ? "closed"
                           : "still open",
                res->ms, res->send_err ? ", send failed" : "", want);
        else
            err("status %d, expected %s", st, want);
    }
    if (st == NORESP && !closed && !(c->flags & F_LINGER))
        err("no answer and the connection was left open for %lld ms", res->ms);
    if (r0 && !r0->complete && !(c->flags & F_RSTOK) && !cut_stream)
        err("the answer is incomplete (%zu body bytes)", r0->body_len);
    if (r0 && ours) {
        if (!has_xrid)
            err("no x-request-id header");
        bool json_ct =
            rget(r0, "content-type", ct, sizeof(ct)) && strcasecmp(ct, "application/json") == 0;
        if (st >= 400 || !(c->flags & F_NOCT)) {
            if (st != 204 && !json_ct)
                err("Content-Type is %s, expected application/json",
                    rget(r0, "content-type", ct, sizeof(ct)) ? ct : "missing");
        }
        if (st >= 400 && !(c->flags & F_HEAD) && r0->complete)
            check_envelope(c, r0);
        else if (st >= 200 && st < 300 && st != 204 && !(c->flags & (F_HEAD | F_NOCT)) &&
                 r0->complete) {
            json_t *j = json_loadb(r0->body, r0->body_len, 0, NULL);
            if (!j)
                err("a %d answer whose body is not JSON", st);
            json_decref(j);
        }
    }
    if (r0 && c->hdr && (ours || !(c->flags & (F_MHD | F_ENVOPT)))) {
        for (const char *p = c->hdr; *p;) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            hdr_rule(r0, p, l);
            p += l + (nl ? 1 : 0);
        }
    }
    if (r0 && c->body_has && !memmem(r0->body, r0->body_len, c->body_has, strlen(c->body_has)))
        err("the body lacks '%s'", c->body_has);
    if (c->never && memmem(res->raw.p ? res->raw.p : "", res->raw.n, c->never, strlen(c->never)))
        err("the answer contains '%s'", c->never);
    if (memmem(res->raw.p ? res->raw.p : "", res->raw.n, KEY1, strlen(KEY1)))
        err("the API key is reflected in the answer");
    bool must_close = (c->flags & F_CLOSE) || ((c->flags & (F_MHD | F_ENVOPT)) && st >= 400);
    if (must_close && !closed && r0)
        err("the connection was not closed after the answer%s",
            res->stopped_early ? " (not waited for: the status was already wrong)" : "");
    if (c->flags & F_SMUGGLE) {
        if (memmem(res->raw.p ? res->raw.p : "", res->raw.n, "SMUGGLED", 8))
            err("the request hidden after the head was answered (SMUGGLED)");
        else if (ours && res->nr > 1)
            err("%zu answers for one request: bytes after the head were read as a request",
                res->nr);
    }
    if (c->ids) {
        size_t k = 0;
        for (const char *p = c->ids; *p; k++) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            char got[128];
            if (k >= res->nr)
                err("pipelined answer %zu missing", k + 1);
            else if (res->r[k].status != 200 ||
                     !rget(&res->r[k], "x-request-id", got, sizeof(got)) || strlen(got) != l ||
                     strncmp(got, p, l) != 0)
                err("pipelined answer %zu: status %d, x-request-id '%s', expected 200 '%.*s'",
                    k + 1, res->r[k].status,
                    rget(&res->r[k], "x-request-id", got, sizeof(got)) ? got : "", (int)l, p);
            p += l + (comma ? 1 : 0);
        }
        if (res->nr > k)
            err("%zu answers to %zu pipelined requests", res->nr, k);
    }
    if ((c->flags & F_HEAD) && r0) {
        if (res->tail || res->nr > 1)
            err("bytes follow the headers of a HEAD answer (%zu)", res->tail);
        if (c->head_of && r0->status == 200) {
            char get[512], cl[64];
            snprintf(get, sizeof(get), "GET %s HTTP/1.1\r\n" HOST AUTH CLOSE "\r\n", c->head_of);
            char *body = NULL;
            int gst = simple(g->port, get, &body, 5000);
            if (!rget(r0, "content-length", cl, sizeof(cl)))
                err("HEAD answer without Content-Length");
            else if (gst != 200 || !body || (size_t)atoll(cl) != strlen(body))
                err("HEAD Content-Length %s, the GET's body is %zu bytes (status %d)", cl,
                    body ? strlen(body) : 0, gst);
            free(body);
        }
    }
    if ((c->flags & F_NO100) && res->interim)
        err("a 100 Continue was sent before the refusal (the body would be read)");
}

/* ---- one case ----------------------------------------------------------- */

static size_t
case_index(const struct hcase *c)
{
    return (size_t)(c - cases);
}

static void
run_case(void **state)
{
    const struct hcase *c = *state;
    size_t idx = case_index(c);
    long long t_start = gwd_now_ms();
    struct gwd *g = daemon_for(c->cfg);
    free(E.p);
    memset(&E, 0, sizeof(E));

    long log0 = file_size(g->log);
    long chats0 = -1, stops0 = -1;
    char *login0 = NULL;
    if (c->flags & F_GONE) {
        /* The simulator rewrites its counters at most every 50 ms: let it
         * catch up with every chat the log shows dispatched so far, so that
         * the baseline is not stale (bounded: a chat cancelled before its
         * ask never reaches it). */
        gwd_wait_sim(g, "chats_started", (long)dispatched_total(c->cfg), 500);
        chats0 = gwd_sim_status(g, "chats_started");
        stops0 = gwd_sim_status(g, "stops_received");
    }
    if (c->flags & F_NOLOGIN)
        login0 = login_status(g);
    if (c->sim)
        gwd_sim_config(g, c->sim);

    struct obuf req = {0};
    build_request(&req, c);
    struct result res = {0};
    /* A burst opens every connection and sends on each before reading any:
     * the daemon then handles the requests (and the half-closes) at once. */
    size_t reps = c->repeat > 1 ? (size_t)c->repeat : 1;
    int *fds = calloc(reps, sizeof(*fds));
    struct result *more = calloc(reps, sizeof(*more));
    if (!fds || !more)
        abort();
    for (size_t k = 0; k < reps; k++) {
        struct result *r = k ? &more[k] : &res;
        fds[k] = tcp_connect(g->port);
        if (fds[k] < 0) {
            err("connection %zu: cannot connect to the daemon: %s", k + 1, strerror(errno));
            continue;
        }
        if (c->flags & F_TRICKLE) {
            int one = 1;
            setsockopt(fds[k], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            for (size_t i = 0; i < req.n && !r->send_err; i++) {
                r->send_err = send_all(fds[k], req.p + i, 1);
                poll(NULL, 0, 1); /* pacing, not synchronisation */
            }
        } else {
            r->send_err = req.n ? send_all(fds[k], req.p, req.n) : 0;
        }
        if (c->flags & F_SHUT)
            shutdown(fds[k], SHUT_WR);
    }
    /* Without an answer the read goes on until EOF or the deadline anyway;
     * with one, only these need the close seen. */
    bool until_eof = (c->flags & (F_CLOSE | F_SMUGGLE | F_NOT200 | F_HEAD)) != 0;
    size_t want = 1;
    if (c->ids)
        for (const char *p = c->ids; *p; p++)
            want += *p == ',';
    bool burst_failed = false;
    for (size_t k = reps; k-- > 0;) {
        if (fds[k] < 0)
            continue;
        struct result *r = k ? &more[k] : &res;
        read_result(fds[k], r, c, until_eof, want, c->wait_ms ? c->wait_ms : 2000);
        close(fds[k]);
        if (k && burst_failed) {
            parse_free(r);
            free(r->raw.p);
            continue;
        }
        size_t before = E.n;
        check_result(c, r, g, idx);
        if (k && E.n != before) {
            /* One failing connection of the burst is reported, with its
             * answer; the first connection's is reported below. */
            struct obuf x = {0};
            excerpt(&x, r->raw.p ? r->raw.p : "", r->raw.n, 300);
            err("(those were connection %zu of the burst of %zu; its answer: %s)", k + 1, reps,
                x.p ? x.p : "");
            free(x.p);
            burst_failed = true;
        }
        if (k) {
            parse_free(r);
            free(r->raw.p);
        }
    }
    free(fds);
    free(more);
    if (c->sim)
        gwd_sim_config(g, "{}");

    /* Alive and serving. */
    char why[256];
    bool died = !gwd_pid_alive(g->pid);
    if (died) {
        size_t ln;
        char *log = read_from(g->log, log0, &ln);
        size_t from = ln > 3000 ? ln - 3000 : 0;
        err("lingma-gatewayd (pid %d) died; the end of its log:\n%s", (int)g->pid, log + from);
        free(log);
        gwd_stop(g);
        D_up[c->cfg] = false;
        restarts++;
    } else if (!serving(g, why, sizeof(why))) {
        err("the daemon no longer serves: %s", why);
    }

    /* Side effects, ordered by a sentinel chat: chats are dispatched in
     * order, so when the sentinel's answer is back, a chat the case let
     * through was dispatched (and logged, "chat N -> inst-0") before it.
     * The final test checks that lingma-sim saw no chat the log does not
     * account for, which makes this per-case check a check on lingma-sim. */
    if (!died && (c->flags & (F_NOCHAT | F_GONE))) {
        int sst = sentinel_chat(g);
        if (sst != 200)
            err("the sentinel chat after the case got %d", sst);
        size_t ln;
        char *log = read_from(g->log, log0, &ln);
        size_t disp = count_dispatch(log, ln);
        free(log);
        if ((c->flags & F_NOCHAT) && disp > 1)
            err("the refused chat was dispatched to lingma-sim (the log shows %zu chats "
                "dispatched since the case began, one of them the sentinel)",
                disp);
        if ((c->flags & F_GONE) && sst == 200) {
            if (!gwd_wait_sim(g, "chats_started", chats0 + 1, 5000))
                err("the sentinel chat never reached lingma-sim");
            long chats1 = gwd_sim_status(g, "chats_started");
            if (chats1 > chats0 + 1) {
                /* It reached lingma-sim, so it must have been stopped. */
                long long end = gwd_now_ms() + 5000;
                long stops1 = gwd_sim_status(g, "stops_received");
                while (stops1 <= stops0 && gwd_now_ms() < end) {
                    usleep(20000);
                    stops1 = gwd_sim_status(g, "stops_received");
                }
                if (stops1 <= stops0)
                    err("the half-closed client's chat reached lingma-sim and was never "
                        "stopped (no chat/stop)");
            }
        }
    }
    if (!died && (c->flags & F_NOLOGIN)) {
        char *login1 = login_status(g);
        if (strcmp(login0, login1) != 0)
            err("the login status changed: %s -> %s", login0, login1);
        free(login1);
    }
    if (!died) {
        size_t ln;
        char *log = read_from(g->log, log0, &ln);
        if (c->flags & F_NOLOGIN) {
            size_t n = count_in(log, ln, "login attempt started");
            if (n)
                err("a login attempt started (the log says so %zu time(s))", n);
        }
        if (count_in(log, ln, "answered twice") || count_in(log, ln, "ended twice"))
            err("the log says a request was answered twice");
        if (count_in(log, ln, "runtime error:") || count_in(log, ln, "AddressSanitizer"))
            err("a sanitizer report is in the log");
        free(log);
    }
    free(login0);
    parse_free(&res);
    case_ms[idx] = case_ms_all[idx] = gwd_now_ms() - t_start;

    if (E.n) {
        failed[idx] = true;
        struct obuf msg = {0};
        ob_fmt(&msg, "%s/%s (%s):\n%s\n    request: ", grp_name[c->grp], c->name,
               observed[idx].text, E.p);
        excerpt(&msg, req.p ? req.p : "", req.n, 300);
        ob_str(&msg, "\n    answer:  ");
        excerpt(&msg, res.raw.p ? res.raw.p : "", res.raw.n, 600);
        free(req.p);
        free(res.raw.p);
        static char last[16384];
        snprintf(last, sizeof(last), "%s", msg.p);
        free(msg.p);
        fail_msg("%s", last);
    }
    free(req.p);
    free(res.raw.p);
}

/* ---- after all groups ---------------------------------------------------- */

static long
stat_of(struct gwd *g, const char *a, const char *b)
{
    char *body = NULL;
    long v = -1;
    if (simple(g->port, GETH("/internal/stats", AUTH CLOSE), &body, 5000) == 200 && body) {
        json_t *j = json_loads(body, 0, NULL);
        json_t *x = json_object_get(json_object_get(j, a), b);
        v = json_is_integer(x) ? (long)json_integer_value(x) : -1;
        json_decref(j);
    }
    free(body);
    return v;
}

/* No hostile request leaks a slot or a queue entry, and every daemon still
 * drains and exits 0 on SIGTERM. */
static void
test_no_leaks_clean_exit(void **state)
{
    (void)state;
    free(E.p);
    memset(&E, 0, sizeof(E));
    for (int ci = 0; ci < C_N; ci++) {
        if (!D_up[ci])
            continue;
        struct gwd *g = &D[ci];
        long in_flight = -1, queued = -1;
        long long end = gwd_now_ms() + 5000;
        do {
            in_flight = stat_of(g, "concurrency", "in_flight");
            queued = stat_of(g, "concurrency", "queued");
            if (in_flight == 0 && queued == 0)
                break;
            usleep(20000);
        } while (gwd_now_ms() < end);
        if (in_flight != 0 || queued != 0)
            err("config %d: in_flight %ld, queued %ld after the cases (a leaked slot)", ci,
                in_flight, queued);
        /* lingma-sim saw no chat that the daemon's log does not show
         * dispatched: the per-case log checks cover every chat it ran. */
        long disp = (long)dispatched_total((enum cfg)ci);
        gwd_wait_sim(g, "chats_started", disp, 3000);
        long started = gwd_sim_status(g, "chats_started");
        if (started < 0 || started > disp)
            err("config %d: lingma-sim started %ld chats, the log shows %ld dispatched", ci,
                started, disp);
        long long t0 = gwd_now_ms();
        int rc = gwd_stop(g);
        D_up[ci] = false;
        if (rc != 0)
            err("config %d: exit status %d on SIGTERM after %lld ms", ci, rc, gwd_now_ms() - t0);
    }
    if (E.n) {
        static char last[4096];
        snprintf(last, sizeof(last), "%s", E.p);
        fail_msg("%s", last);
    }
}

/* The teardown of the last group: every daemon still there (the final test
 * failed before stopping it, or a start failed half-way) is stopped and its
 * work dir removed. gwd_stop does nothing on one already stopped. */
static int
daemons_down(void **state)
{
    (void)state;
    for (int ci = 0; ci < C_N; ci++) {
        gwd_stop(&D[ci]);
        D_up[ci] = false;
    }
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const char *only = getenv("GW_HOSTILE_ONLY");
    for (size_t i = 0; i < NCASES; i++)
        case_ms[i] = -1;
    int failures = 0;
    size_t per[G_N] = {0};
    for (int gi = 0; gi < G_N; gi++) {
        struct CMUnitTest *tests = calloc(NCASES, sizeof(*tests));
        size_t n = 0;
        for (size_t i = 0; i < NCASES; i++) {
            if (cases[i].grp != (enum grp)gi)
                continue;
            char *name = malloc(strlen(grp_name[gi]) + strlen(cases[i].name) + 2);
            sprintf(name, "%s/%s", grp_name[gi], cases[i].name);
            /* GW_HOSTILE_ONLY=substring runs the matching cases alone. */
            if (only && *only && !strstr(name, only)) {
                free(name);
                continue;
            }
            tests[n++] = (struct CMUnitTest){name, run_case, NULL, NULL, &cases[i]};
        }
        per[gi] = n;
        if (n)
            failures += _cmocka_run_group_tests(grp_name[gi], tests, n, NULL, NULL);
        for (size_t i = 0; i < n; i++)
            free((char *)tests[i].name);
        free(tests);
    }
    const struct CMUnitTest after[] = {
        cmocka_unit_test(test_no_leaks_clean_exit),
    };
    failures += cmocka_run_group_tests_name("after", after, NULL, daemons_down);

    printf("\ngw-hostile: cases per group:");
    size_t total = 0;
    for (int gi = 0; gi < G_N; gi++) {
        printf(" %s=%zu", grp_name[gi], per[gi]);
        total += per[gi];
    }
    printf(" total=%zu\n", total);
    printf("gw-hostile: mhd_owned cases (what libmicrohttpd did):\n");
    for (size_t i = 0; i < NCASES; i++)
        if (cases[i].flags & F_MHD)
            printf("  %s/%s: %s\n", grp_name[cases[i].grp], cases[i].name, observed[i].text);
    size_t nf = 0;
    for (size_t i = 0; i < NCASES; i++)
        nf += failed[i];
    printf("gw-hostile: %zu of %zu cases failed", nf, total);
    for (int gi = 0; gi < G_N; gi++) {
        size_t k = 0;
        for (size_t i = 0; i < NCASES; i++)
            k += cases[i].grp == (enum grp)gi && failed[i];
        printf("%s %s=%zu", gi ? "," : ":", grp_name[gi], k);
    }
    printf("; daemon restarts after a death: %u\n", restarts);
    printf("gw-hostile: slowest cases:");
    for (int k = 0; k < 6; k++) {
        size_t best = NCASES;
        for (size_t i = 0; i < NCASES; i++)
            if (case_ms[i] >= 0 && (best == NCASES || case_ms[i] > case_ms[best]))
                best = i;
        if (best == NCASES || case_ms[best] < 0)
            break;
        printf(" %s/%s=%lldms", grp_name[cases[best].grp], cases[best].name, case_ms[best]);
        case_ms[best] = -1;
    }
    printf("\n");
    if (getenv("GW_HOSTILE_TIMES"))
        for (size_t i = 0; i < NCASES; i++)
            fprintf(stderr, "time %lld %s/%s\n", case_ms_all[i], grp_name[cases[i].grp],
                    cases[i].name);
    free(E.p);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
