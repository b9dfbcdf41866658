/* Unit tests for the Content-Length frame codec (lingma/sys/frame.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "lingma/lingma.h"
#include "lingma/sys/frame.h"

#include "failalloc.h"
#include "frame.h"

/* Frames delivered so far, concatenated as "<len>:<body>" records. */
struct sink {
    char *data;
    size_t len, cap;
    size_t frames;
    int stop_at; /* return stop_rc from the frame with this index; -1 never */
    int stop_rc;
    const char *chunk; /* the chunk being fed, to observe zero-copy delivery */
    size_t chunk_len;
    size_t from_chunk; /* frames whose body pointed into `chunk` */
};

static void
sink_init(struct sink *s)
{
    memset(s, 0, sizeof(*s));
    s->stop_at = -1;
}

static void
sink_append(struct sink *s, const void *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t ncap = (s->len + n + 1) * 2;
        s->data = realloc(s->data, ncap);
        assert_non_null(s->data);
        s->cap = ncap;
    }
    if (n)
        memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
}

static int
on_frame(const char *body, size_t len, void *payload)
{
    struct sink *s = payload;
    char hdr[32];
    int idx = (int)s->frames++;

    assert_true(body != NULL || len == 0);
    if (s->chunk && body >= s->chunk && body + len <= s->chunk + s->chunk_len)
        s->from_chunk++;
    snprintf(hdr, sizeof(hdr), "%zu:", len);
    sink_append(s, hdr, strlen(hdr));
    sink_append(s, body, len);
    if (idx == s->stop_at)
        return s->stop_rc;
    return 0;
}

static void
sink_free(struct sink *s)
{
    free(s->data);
}

/* Feed a private heap copy of each chunk, freed right after, so that ASan
 * and valgrind catch a decoder that keeps pointers into caller memory. */
static int
feed_copy(lingma_frame_decoder *dec, const char *p, size_t n, struct sink *s)
{
    char *copy = malloc(n ? n : 1);
    int rc;

    assert_non_null(copy);
    if (n)
        memcpy(copy, p, n);
    rc = lingma_frame_decoder_feed(dec, copy, n, on_frame, s);
    free(copy);
    return rc;
}

/* ---- golden files: tests/data/frame/NAME.in and NAME.out ---- */

struct golden {
    char *in;
    size_t in_len;
    struct sink expect; /* expected frames, in sink format */
    int err;            /* 0 or the expected error */
    char msg[128];      /* substring of the expected errmsg */
};

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int
error_by_name(const char *name)
{
    for (int code = LINGMA_OK; code >= LINGMA_ERROR_LAST; code--)
        if (lingma_error_name(code) && strcmp(lingma_error_name(code), name) == 0)
            return code;
    fail_msg("unknown error name %s", name);
    return 0;
}

static void
golden_load(struct golden *g, const char *dir, const char *base)
{
    char path[1024];
    size_t olen, pos = 0;
    char *out;

    snprintf(path, sizeof(path), "%s/%s.in", dir, base);
    g->in = read_file(path, &g->in_len);
    snprintf(path, sizeof(path), "%s/%s.out", dir, base);
    out = read_file(path, &olen);
    sink_init(&g->expect);
    g->err = 0;
    g->msg[0] = '\0';
    while (pos < olen) {
        size_t n;
        char name[64];

        if (sscanf(out + pos, "frame %zu\n", &n) == 1) {
            char hdr[32];
            pos = (size_t)(strchr(out + pos, '\n') - out) + 1;
            snprintf(hdr, sizeof(hdr), "%zu:", n);
            sink_append(&g->expect, hdr, strlen(hdr));
            sink_append(&g->expect, out + pos, n);
            g->expect.frames++;
            pos += n + 1;
        } else if (strncmp(out + pos, "ok\n", 3) == 0) {
            break;
        } else if (sscanf(out + pos, "error %63s %127[^\n]", name, g->msg) == 2) {
            g->err = error_by_name(name);
            break;
        } else {
            fail_msg("bad golden file %s", path);
        }
    }
    free(out);
}

/* Feed `g->in` cut at the given offsets and compare with the expectation. */
static void
golden_run_cuts(const struct golden *g, const char *base, const size_t *cuts, size_t ncuts)
{
    lingma_frame_decoder *dec;
    struct sink s;
    size_t start = 0;
    int rc = 0;

    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : g->in_len;
        rc = feed_copy(dec, g->in + start, end - start, &s);
        start = end;
    }
    if (rc != g->err)
        fail_msg("%s: rc %d (%s), expected %d", base, rc, lingma_frame_decoder_errmsg(dec), g->err);
    if (g->err) {
        if (!strstr(lingma_frame_decoder_errmsg(dec), g->msg))
            fail_msg("%s: message '%s' lacks '%s'", base, lingma_frame_decoder_errmsg(dec), g->msg);
        /* Sticky: the stream is dead. */
        assert_int_equal(feed_copy(dec, "Content-Length: 0\r\n\r\n", 21, &s), g->err);
    }
    assert_int_equal(s.frames, g->expect.frames);
    assert_int_equal(s.len, g->expect.len);
    assert_memory_equal(s.data ? s.data : "", g->expect.data ? g->expect.data : "", s.len);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

static void
golden_case(const char *dir, const char *base)
{
    struct golden g;
    size_t cuts[3];
    size_t *ones;

    golden_load(&g, dir, base);
    /* whole */
    golden_run_cuts(&g, base, NULL, 0);
    /* one byte at a time */
    ones = malloc((g.in_len + 1) * sizeof(*ones));
    assert_non_null(ones);
    for (size_t i = 0; i < g.in_len; i++)
        ones[i] = i + 1;
    golden_run_cuts(&g, base, ones, g.in_len ? g.in_len - 1 : 0);
    free(ones);
    /* every split in two */
    for (size_t i = 0; i <= g.in_len; i++) {
        cuts[0] = i;
        golden_run_cuts(&g, base, cuts, 1);
    }
    /* every split in three, for the small cases */
    if (g.in_len <= 160)
        for (size_t i = 0; i <= g.in_len; i++)
            for (size_t j = i; j <= g.in_len; j++) {
                cuts[0] = i;
                cuts[1] = j;
                golden_run_cuts(&g, base, cuts, 2);
            }
    free(g.in);
    sink_free(&g.expect);
}

static void
test_golden(void **state)
{
    const char *root = getenv("LINGMA_TEST_DATA");
    char dir[512];
    DIR *d;
    struct dirent *e;
    int n = 0;

    (void)state;
    assert_non_null(root);
    snprintf(dir, sizeof(dir), "%s/frame", root);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char base[256];

        if (len < 4 || strcmp(e->d_name + len - 3, ".in") != 0 || len - 3 >= sizeof(base))
            continue;
        memcpy(base, e->d_name, len - 3);
        base[len - 3] = '\0';
        golden_case(dir, base);
        n++;
    }
    closedir(d);
    assert_true(n >= 20);
}

/* ---- targeted tests ---- */

static void
test_every_split_of_three_frames(void **state)
{
    static const char in[] = "Content-Length: 5\r\n\r\nhelloContent-Length: 0\r\n\r\n"
                             "content-length:3\r\n\r\n\xe2\x82\xac";
    const size_t n = sizeof(in) - 1;

    (void)state;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i; j <= n; j++) {
            lingma_frame_decoder *dec;
            struct sink s;

            sink_init(&s);
            assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
            assert_int_equal(feed_copy(dec, in, i, &s), 0);
            assert_int_equal(feed_copy(dec, in + i, j - i, &s), 0);
            assert_int_equal(feed_copy(dec, in + j, n - j, &s), 0);
            assert_int_equal(s.frames, 3);
            assert_string_equal(s.data, "5:hello0:3:\xe2\x82\xac");
            assert_int_equal(lingma_frame_decoder_buffered(dec), 0);
            lingma_frame_decoder_free(dec);
            sink_free(&s);
        }
}

static void
test_utf8_split_inside_character(void **state)
{
    /* "é€😀" is 2+3+4 bytes; the split lands inside each character. */
    static const char body[] = "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"";
    char frame[64];
    int hl;

    (void)state;
    hl = lingma_frame_header(frame, sizeof(frame), sizeof(body) - 1);
    assert_int_equal(hl, 22);
    memcpy(frame + hl, body, sizeof(body) - 1);
    for (size_t cut = (size_t)hl + 1; cut < (size_t)hl + sizeof(body) - 1; cut++) {
        lingma_frame_decoder *dec;
        struct sink s;

        sink_init(&s);
        assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
        assert_int_equal(feed_copy(dec, frame, cut, &s), 0);
        assert_int_equal(s.frames, 0);
        assert_int_equal(lingma_frame_decoder_buffered(dec), cut);
        assert_int_equal(feed_copy(dec, frame + cut, (size_t)hl + sizeof(body) - 1 - cut, &s), 0);
        assert_int_equal(s.frames, 1);
        assert_int_equal(s.len, 3 + sizeof(body) - 1);
        assert_memory_equal(s.data + 3, body, sizeof(body) - 1);
        lingma_frame_decoder_free(dec);
        sink_free(&s);
    }
}

static void
test_zero_copy_when_whole(void **state)
{
    static const char in[] =
        "Content-Length: 2\r\n\r\n{}Content-Length: 2\r\n\r\n[]Content-Length: 4";
    lingma_frame_decoder *dec;
    struct lingma__frame_counters c;
    struct sink s;

    (void)state;
    sink_init(&s);
    s.chunk = in;
    s.chunk_len = sizeof(in) - 1;
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    assert_int_equal(lingma_frame_decoder_feed(dec, in, sizeof(in) - 1, on_frame, &s), 0);
    assert_int_equal(s.frames, 2);
    assert_int_equal(s.from_chunk, 2);
    lingma__frame_decoder_counters(dec, &c);
    assert_int_equal(c.zero_copy, 2);
    assert_int_equal(c.copied, 0);
    /* A partial header costs no buffer either. */
    assert_int_equal(lingma_frame_decoder_buffered(dec), 17);
    assert_int_equal(c.regrown, 0);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

static void
test_callback_stop_and_resume(void **state)
{
    static const char in[] = "Content-Length: 1\r\n\r\nAContent-Length: 1\r\n\r\nB"
                             "Content-Length: 1\r\n\r\nCContent-Length: 3\r\n\r\nDE";
    const size_t n = sizeof(in) - 1;

    (void)state;
    /* Stop at each frame, with the input cut at each place. */
    for (int stop = 0; stop < 3; stop++)
        for (size_t cut = 0; cut <= n; cut++) {
            lingma_frame_decoder *dec;
            struct sink s;
            int rc;

            sink_init(&s);
            s.stop_at = stop;
            s.stop_rc = LINGMA_ECANCELED;
            assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
            rc = feed_copy(dec, in, cut, &s);
            if (rc == 0) {
                rc = feed_copy(dec, in + cut, n - cut, &s);
                assert_int_equal(rc, LINGMA_ECANCELED);
                assert_int_equal(s.frames, (size_t)stop + 1);
                assert_non_null(strstr(lingma_frame_decoder_errmsg(dec), "callback returned"));
                /* Not sticky: a zero-byte feed resumes where it stopped. */
                s.stop_at = -1;
                assert_int_equal(feed_copy(dec, "", 0, &s), 0);
            } else {
                assert_int_equal(rc, LINGMA_ECANCELED);
                assert_int_equal(s.frames, (size_t)stop + 1);
                assert_non_null(strstr(lingma_frame_decoder_errmsg(dec), "callback returned"));
                /* The rest goes after what was kept. */
                s.stop_at = -1;
                assert_int_equal(feed_copy(dec, in + cut, n - cut, &s), 0);
            }
            assert_int_equal(s.frames, 3);
            assert_string_equal(s.data, "1:A1:B1:C");
            assert_string_equal(lingma_frame_decoder_errmsg(dec), "");
            assert_int_equal(lingma_frame_decoder_buffered(dec), 21 + 2);
            assert_int_equal(feed_copy(dec, "F", 1, &s), 0);
            assert_string_equal(s.data, "1:A1:B1:C3:DEF");
            assert_int_equal(lingma_frame_decoder_buffered(dec), 0);
            lingma_frame_decoder_free(dec);
            sink_free(&s);
        }
}

static void
test_callback_stops_every_frame(void **state)
{
    /* A callback that stops at every frame, fed one byte at a time. */
    static const char one[] = "Content-Length: 3\r\n\r\nabc";
    char in[10 * 24];
    size_t n = 0;
    lingma_frame_decoder *dec;
    struct sink s;

    (void)state;
    for (int i = 0; i < 10; i++) {
        memcpy(in + n, one, sizeof(one) - 1);
        n += sizeof(one) - 1;
    }
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        s.stop_at = (int)s.frames;
        s.stop_rc = -100;
        int rc = feed_copy(dec, in + i, 1, &s);
        assert_true(rc == 0 || rc == -100);
    }
    while (s.frames < 10) {
        s.stop_at = (int)s.frames;
        assert_int_equal(feed_copy(dec, NULL, 0, &s), -100);
    }
    s.stop_at = -1;
    assert_int_equal(feed_copy(dec, NULL, 0, &s), 0);
    assert_int_equal(s.frames, 10);
    assert_int_equal(lingma_frame_decoder_buffered(dec), 0);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

static void
test_cap(void **state)
{
    lingma_frame_decoder *dec;
    struct sink s;

    (void)state;
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 4, NULL), 0);
    assert_int_equal(feed_copy(dec, "Content-Length: 4\r\n\r\nabcd", 25, &s), 0);
    assert_int_equal(s.frames, 1);
    assert_int_equal(feed_copy(dec, "Content-Length: 5\r\n\r\n", 21, &s), LINGMA_EINVAL);
    assert_string_equal(lingma_frame_decoder_errmsg(dec),
                        "frame body of 5 bytes exceeds the maximum of 4 bytes");
    /* The body is never buffered, and the stream stays dead. */
    assert_int_equal(feed_copy(dec, "abcde", 5, &s), LINGMA_EINVAL);
    assert_int_equal(s.frames, 1);
    lingma_frame_decoder_free(dec);
    sink_free(&s);

    /* The default cap is 16 MiB. */
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    assert_int_equal(feed_copy(dec, "Content-Length: 16777216\r\n\r\n", 28, &s), 0);
    assert_int_equal(lingma_frame_decoder_buffered(dec), 28);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

static void
test_error_messages(void **state)
{
    static const struct {
        const char *in;
        int code;
        const char *msg;
    } cases[] = {
        {"Content-Length: -5\r\n\r\n", LINGMA_EPROTO, "negative Content-Length"},
        {"Content-Length: 5x\r\n\r\n", LINGMA_EPROTO, "non-numeric Content-Length (byte 0x78)"},
        {"Content-Length: \r\n\r\n", LINGMA_EPROTO, "empty Content-Length"},
        {"Content-Length: 18446744073709551616\r\n\r\n", LINGMA_EPROTO, "Content-Length overflows"},
        {"Content-Length: 1\r\nContent-Length: 2\r\n\r\n", LINGMA_EPROTO,
         "duplicate Content-Length with different values (1, then 2)"},
        {"Content-Type: x\r\n\r\n", LINGMA_EPROTO, "frame header without Content-Length"},
        {"Content-Length\r\n\r\n", LINGMA_EPROTO, "frame header line without a colon"},
        {":1\r\n\r\n", LINGMA_EPROTO, "frame header line with an empty name"},
        {"{\"jsonrpc\":\"2.0\"}", LINGMA_EPROTO, "invalid byte 0x7b in a frame header name"},
        {"Content-Length: 1\r \r\n", LINGMA_EPROTO, "CR not followed by LF in a frame header"},
        {"Content-Length: 99999999999\r\n\r\n", LINGMA_EINVAL,
         "frame body of 99999999999 bytes exceeds the maximum of 16777216 bytes"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lingma_frame_decoder *dec;
        struct sink s;

        sink_init(&s);
        assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
        assert_string_equal(lingma_frame_decoder_errmsg(dec), "");
        assert_int_equal(feed_copy(dec, cases[i].in, strlen(cases[i].in), &s), cases[i].code);
        assert_string_equal(lingma_frame_decoder_errmsg(dec), cases[i].msg);
        assert_int_equal(feed_copy(dec, "x", 1, &s), cases[i].code);
        assert_string_equal(lingma_frame_decoder_errmsg(dec), cases[i].msg);
        lingma_frame_decoder_free(dec);
        sink_free(&s);
    }
}

static void
test_header_too_long(void **state)
{
    char *in = malloc(LINGMA_FRAME_MAX_HEADER + 64);
    lingma_frame_decoder *dec;
    struct sink s;
    size_t n;

    (void)state;
    assert_non_null(in);
    /* Exactly at the cap is fine. */
    n = LINGMA_FRAME_MAX_HEADER - 21;
    memcpy(in, "X:", 2);
    memset(in + 2, 'a', n - 4);
    memcpy(in + n - 2, "\r\n", 2);
    memcpy(in + n, "Content-Length: 1\r\n\r\nZ", 22);
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    for (size_t i = 0; i < n + 22; i++)
        assert_int_equal(feed_copy(dec, in + i, 1, &s), 0);
    assert_int_equal(s.frames, 1);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
    /* One more byte is not. */
    memcpy(in + 2, "aa", 2);
    memmove(in + 1, in, n + 22);
    in[0] = 'Y';
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    assert_int_equal(feed_copy(dec, in, n + 23, &s), LINGMA_EPROTO);
    assert_int_equal(s.frames, 0);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
    free(in);
}

static int
on_frame_reenter(const char *body, size_t len, void *payload)
{
    lingma_frame_decoder *dec = payload;

    (void)body;
    (void)len;
    assert_int_equal(lingma_frame_decoder_feed(dec, "x", 1, on_frame_reenter, dec), LINGMA_EINVAL);
    return 0;
}

static void
test_reentry_refused(void **state)
{
    lingma_frame_decoder *dec;

    (void)state;
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    assert_int_equal(
        lingma_frame_decoder_feed(dec, "Content-Length: 1\r\n\r\nA", 22, on_frame_reenter, dec), 0);
    assert_int_equal(lingma_frame_decoder_buffered(dec), 0);
    lingma_frame_decoder_free(dec);
}

static void
test_null_zero_feed_resumes(void **state)
{
    lingma_frame_decoder *dec;
    struct sink s;

    (void)state;
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    /* Mid-body: a (NULL, 0) feed changes nothing. */
    assert_int_equal(
        lingma_frame_decoder_feed(dec, "Content-Length: 3\r\n\r\nab", 23, on_frame, &s), 0);
    assert_int_equal(lingma_frame_decoder_feed(dec, NULL, 0, on_frame, &s), 0);
    assert_int_equal(lingma_frame_decoder_buffered(dec), 23);
    /* After a stop: (NULL, 0) delivers what was kept. */
    s.stop_at = 0;
    s.stop_rc = -7;
    assert_int_equal(
        lingma_frame_decoder_feed(dec, "cContent-Length: 1\r\n\r\nd", 23, on_frame, &s), -7);
    s.stop_at = -1;
    assert_int_equal(lingma_frame_decoder_feed(dec, NULL, 0, on_frame, &s), 0);
    assert_string_equal(s.data, "3:abc1:d");
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

static void
test_bad_arguments(void **state)
{
    lingma_frame_decoder *dec;
    struct sink s;

    (void)state;
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(NULL, 0, NULL), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    assert_int_equal(lingma_frame_decoder_feed(NULL, "x", 1, on_frame, &s), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_decoder_feed(dec, NULL, 1, on_frame, &s), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_decoder_feed(dec, "x", 1, NULL, &s), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_decoder_feed(dec, NULL, 0, on_frame, &s), 0);
    lingma_frame_decoder_free(dec);
    lingma_frame_decoder_free(NULL);
    assert_string_equal(lingma_frame_decoder_errmsg(NULL), "");
    assert_int_equal(lingma_frame_decoder_buffered(NULL), 0);
}

static void
test_linear_one_byte_feeding(void **state)
{
    /* 10 MiB of frames of growing sizes (1 byte to 1 MiB), fed one byte at
     * a time. The counters bound the work: every byte is scanned at most
     * twice and copied at most once more than it is buffered; regrowth is
     * geometric. No clock is involved. */
    /* 10 MiB; 2 MiB under valgrind, where the point is memory checking. */
    const size_t total_target = getenv("LINGMA_UNDER_VALGRIND") ? 2u << 20 : 10u << 20;
    char *in = malloc(total_target + (3u << 20));
    size_t n = 0, bodies = 0, frames = 0, max_frame = 0;
    lingma_frame_decoder *dec;
    struct lingma__frame_counters c;
    struct sink s;

    (void)state;
    assert_non_null(in);
    for (size_t sz = 1; n < total_target; sz = sz < (1u << 20) ? sz * 2 + 1 : 1) {
        char hdr[LINGMA_FRAME_HEADER_MAX_LEN];
        int hl = lingma_frame_header(hdr, sizeof(hdr), sz);
        memcpy(in + n, hdr, (size_t)hl);
        memset(in + n + hl, 'a' + (int)(frames % 26), sz);
        n += (size_t)hl + sz;
        bodies += sz;
        frames++;
        if ((size_t)hl + sz > max_frame)
            max_frame = (size_t)hl + sz;
    }
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    /* Feed straight from the buffer: the sink would copy 10 MiB per frame
     * otherwise; count instead. */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lingma_frame_decoder_feed(dec, in + i, 1, on_frame, &s), 0);
        assert_true(lingma_frame_decoder_buffered(dec) < max_frame);
        if (s.len > (1u << 20))
            s.len = 0; /* keep the sink small; frames are counted */
    }
    assert_int_equal(s.frames, frames);
    lingma__frame_decoder_counters(dec, &c);
    assert_true(c.scanned <= 2 * (n - bodies));
    assert_true(c.copied <= bodies);
    assert_true(c.regrown <= 2 * bodies);
    assert_int_equal(c.zero_copy + c.buffered_frames, frames);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
    free(in);
}

static void
test_linear_odd_chunks(void **state)
{
    /* Many small frames fed in chunks of 7 bytes: header bytes are scanned
     * a bounded number of times, bodies copied at most once. */
    const size_t count = 20000;
    const char *body = "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";
    size_t blen = strlen(body), n = 0;
    char *in = malloc(count * (blen + 32));
    lingma_frame_decoder *dec;
    struct lingma__frame_counters c;
    struct sink s;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < count; i++) {
        n += (size_t)lingma_frame_header(in + n, 32, blen);
        memcpy(in + n, body, blen);
        n += blen;
    }
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    for (size_t i = 0; i < n; i += 7) {
        size_t k = n - i < 7 ? n - i : 7;
        assert_int_equal(lingma_frame_decoder_feed(dec, in + i, k, on_frame, &s), 0);
        s.len = 0;
    }
    assert_int_equal(s.frames, count);
    lingma__frame_decoder_counters(dec, &c);
    assert_true(c.scanned <= 2 * (n - count * blen));
    assert_true(c.copied <= count * blen);
    assert_true(c.regrown < 4096);
    lingma_frame_decoder_free(dec);
    sink_free(&s);
    free(in);
}

static void
test_encode(void **state)
{
    char buf[LINGMA_FRAME_HEADER_MAX_LEN];
    char *out;
    size_t out_len;

    (void)state;
    assert_int_equal(lingma_frame_header(buf, sizeof(buf), 0), 21);
    assert_string_equal(buf, "Content-Length: 0\r\n\r\n");
    assert_int_equal(lingma_frame_header(buf, sizeof(buf), SIZE_MAX),
                     (int)strlen("Content-Length: 18446744073709551615\r\n\r\n"));
    assert_string_equal(buf, "Content-Length: 18446744073709551615\r\n\r\n");
    assert_int_equal(lingma_frame_header(buf, 21, 0), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_header(buf, 22, 0), 21);
    assert_int_equal(lingma_frame_header(NULL, 22, 0), LINGMA_EINVAL);

    assert_int_equal(lingma_frame_encode(&out, &out_len, "{}", 2, 16, NULL), 0);
    assert_int_equal(out_len, 23);
    assert_memory_equal(out + 16, "Content-Length: 2\r\n\r\n{}", 23);
    free(out);
    assert_int_equal(lingma_frame_encode(&out, &out_len, NULL, 0, 0, NULL), 0);
    assert_int_equal(out_len, 21);
    free(out);
    assert_int_equal(lingma_frame_encode(&out, &out_len, NULL, 1, 0, NULL), LINGMA_EINVAL);
    assert_null(out);
    assert_int_equal(lingma_frame_encode(NULL, &out_len, "x", 1, 0, NULL), LINGMA_EINVAL);
    assert_int_equal(lingma_frame_encode(&out, &out_len, "x", SIZE_MAX - 8, 0, NULL),
                     LINGMA_EINVAL);
}

static void
test_encode_decode_round_trip(void **state)
{
    static const char *bodies[] = {"", "{}", "[\"\\r\\n\\r\\n\"]", "Content-Length: 3\r\n\r\nabc"};
    lingma_frame_decoder *dec;
    struct sink s;

    (void)state;
    sink_init(&s);
    assert_int_equal(lingma_frame_decoder_new(&dec, 0, NULL), 0);
    for (size_t i = 0; i < 4; i++) {
        char *out;
        size_t len;
        assert_int_equal(lingma_frame_encode(&out, &len, bodies[i], strlen(bodies[i]), 0, NULL), 0);
        assert_int_equal(feed_copy(dec, out, len, &s), 0);
        free(out);
    }
    assert_int_equal(s.frames, 4);
    assert_string_equal(s.data, "0:2:{}12:[\"\\r\\n\\r\\n\"]24:Content-Length: 3\r\n\r\nabc");
    lingma_frame_decoder_free(dec);
    sink_free(&s);
}

/* Allocation failure at each allocation, for several feeding patterns. */
static void
test_alloc_failures(void **state)
{
    static const char in[] = "Content-Length: 2\r\n\r\n{}Content-Length: 10\r\n\r\n0123456789"
                             "Content-Length: 3\r\n\r\nxyz";
    const size_t n = sizeof(in) - 1;
    static const size_t chunk_sizes[] = {1, 5, 30, sizeof(in) - 1};

    (void)state;
    for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
        for (long fail = 0;; fail++) {
            struct failalloc fa = {0};
            lingma_allocator a;
            lingma_frame_decoder *dec = NULL;
            struct sink s;
            int rc, saw_enomem = 0;

            failalloc_arm(&fa, fail);
            a = failalloc_allocator(&fa);
            sink_init(&s);
            rc = lingma_frame_decoder_new(&dec, 0, &a);
            if (rc == LINGMA_ENOMEM) {
                assert_null(dec);
                assert_int_equal(fa.live, 0);
                continue;
            }
            assert_int_equal(rc, 0);
            for (size_t i = 0; i < n;) {
                size_t len = n - i < chunk_sizes[k] ? n - i : chunk_sizes[k];
                size_t before = s.frames;
                rc = feed_copy(dec, in + i, len, &s);
                if (rc == LINGMA_ENOMEM) {
                    /* Nothing was taken: feeding the same bytes again is fine. */
                    assert_int_equal(s.frames, before);
                    assert_non_null(strstr(lingma_frame_decoder_errmsg(dec), "out of memory"));
                    saw_enomem = 1;
                    continue;
                }
                assert_int_equal(rc, 0);
                i += len;
            }
            assert_int_equal(s.frames, 3);
            assert_string_equal(s.data, "2:{}10:01234567893:xyz");
            lingma_frame_decoder_free(dec);
            assert_int_equal(fa.live, 0);
            sink_free(&s);
            if (!saw_enomem && fa.failures == 0)
                break;
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_every_split_of_three_frames),
        cmocka_unit_test(test_utf8_split_inside_character),
        cmocka_unit_test(test_zero_copy_when_whole),
        cmocka_unit_test(test_callback_stop_and_resume),
        cmocka_unit_test(test_callback_stops_every_frame),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_header_too_long),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_null_zero_feed_resumes),
        cmocka_unit_test(test_reentry_refused),
        cmocka_unit_test(test_linear_one_byte_feeding),
        cmocka_unit_test(test_linear_odd_chunks),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
