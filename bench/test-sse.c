/* lingma-bench: the SSE reader, on golden streams of the three wire APIs fed
 * at every split, and the stamp parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"
#include "http.h"

/* Golden streams, as lingma-gatewayd renders them over lingma-sim with
 * LINGMA_SIM_TIMESTAMPS=1 (ids and long objects shortened), with what the
 * reader must find in them: the success end, an error, the text chunks
 * and their stamps. */
struct golden {
    const char *name;
    enum bench_api api;
    const char *text;
    int done, error, tokens;
    uint64_t stamps[3];
};

static const char chat_ok[] =
    ": ping\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"@123456789@Hel\"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "data:{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"x\","
    "\"content\":\"lo\"},\"finish_reason\":null}]}\n\n"
    "data: [DONE]\n\n";

/* The gateway ends a failed chat stream with [DONE] too: the error wins. */
static const char chat_failed[] =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"@8877431671591@token amet qui\"},\"finish_reason\":null}]}\n\n"
    "data: {\"error\":{\"message\":\"The connection to the Lingma backend was lost before the "
    "answer was complete.\",\"type\":\"server_error\",\"param\":null,"
    "\"code\":\"upstream_connection_error\"}}\n\n"
    "data: [DONE]\n\n";

static const char messages_ok[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"auto\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":2,\"output_tokens\":0}}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    /* A thinking block first: neither its deltas nor its signature are
     * answer text. */
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
    "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"thinking_delta\",\"thinking\":\"@1@hmm\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"signature_delta\",\"signature\":\"lingma-gatewayd:msg_1\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"@8863817703127@token amet qui\"}}\n\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"@8863822911730@ck ipsum token \"}}\r\n\r\n"
    "event:content_block_delta\n"
    "data:{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"sit \\\"code\\\" answer\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"input_tokens\":2,\"output_tokens\":31}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

/* A failure after message_start: no message_stop. */
static const char messages_failed[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"content\":[]}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"@8878591867119@token amet qui\"}}\n\n"
    "event: error\n"
    "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"The connection "
    "to the Lingma backend was lost before the answer was complete.\"}}\n\n";

/* The same API without `event:` lines: the data's type names the event. */
static const char messages_unnamed[] =
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_3\",\"content\":[]}}\n\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"@77@a\"}}\n\n"
    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n";

static const char responses_ok[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\","
    "\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"text\":{\"format\":{"
    "\"type\":\"text\"}},\"usage\":null}}\n\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":"
    "\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n"
    ": ping\n\n"
    /* Reasoning has "delta" keys too: not answer text. */
    "event: response.reasoning_summary_text.delta\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":2,"
    "\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"@5@hmm\"}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":3,\"output_index\":1,"
    "\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"content\":[],"
    "\"role\":\"assistant\"}}\n\n"
    "event: response.content_part.added\n"
    "data: {\"type\":\"response.content_part.added\",\"sequence_number\":4,\"item_id\":\"msg_1\","
    "\"output_index\":1,\"content_index\":0,\"part\":{\"type\":\"output_text\","
    "\"annotations\":[],\"logprobs\":[],\"text\":\"\"}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":\"msg_1\","
    "\"output_index\":1,\"content_index\":0,\"delta\":\"@8863900150901@token amet qui\","
    "\"logprobs\":[]}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":6,\"item_id\":\"msg_1\","
    "\"output_index\":1,\"content_index\":0,\"delta\":\"@8863905359704@ck ipsum token \","
    "\"logprobs\":[]}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":7,\"item_id\":\"msg_1\","
    "\"output_index\":1,\"content_index\":0,\"delta\":\"@8863915714872@sit code answer\","
    "\"logprobs\":[]}\n\n"
    /* The done events repeat the whole stamped text: not chunks. */
    "event: response.output_text.done\n"
    "data: {\"type\":\"response.output_text.done\",\"sequence_number\":8,\"item_id\":\"msg_1\","
    "\"output_index\":1,\"content_index\":0,\"text\":\"@8863900150901@token amet qui"
    "@8863905359704@ck ipsum token @8863915714872@sit code answer\",\"logprobs\":[]}\n\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"sequence_number\":9,\"output_index\":1,"
    "\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"content\":[{"
    "\"type\":\"output_text\",\"text\":\"@8863900150901@token amet qui\"}]}}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":10,\"response\":{\"id\":"
    "\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],\"usage\":{"
    "\"input_tokens\":2,\"output_tokens\":31,\"total_tokens\":33}}}\n\n";

static const char responses_failed[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_2\","
    "\"status\":\"in_progress\",\"output\":[]}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_2\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\"@8879749776980@token amet qui\","
    "\"logprobs\":[]}\n\n"
    "event: response.failed\n"
    "data: {\"type\":\"response.failed\",\"sequence_number\":5,\"response\":{\"id\":\"resp_2\","
    "\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"lost\"},"
    "\"output\":[]}}\n\n";

/* Cut by max_output_tokens: neither a success nor an error event, so the
 * benchmark does not count it as a complete answer. */
static const char responses_incomplete[] =
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_3\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\"@9@x\",\"logprobs\":[]}\n\n"
    "data: {\"type\":\"response.incomplete\",\"sequence_number\":5,\"response\":{\"id\":"
    "\"resp_3\",\"status\":\"incomplete\"}}\n\n";

static const struct golden goldens[] = {
    {"chat ok", API_CHAT, chat_ok, 1, 0, 2, {123456789u, 0}},
    {"chat failed", API_CHAT, chat_failed, 1, 1, 1, {8877431671591u}},
    {"messages ok", API_MESSAGES, messages_ok, 1, 0, 3, {8863817703127u, 8863822911730u, 0}},
    {"messages failed", API_MESSAGES, messages_failed, 0, 1, 1, {8878591867119u}},
    {"messages unnamed", API_MESSAGES, messages_unnamed, 0, 1, 1, {77}},
    {"responses ok",
     API_RESPONSES,
     responses_ok,
     1,
     0,
     3,
     {8863900150901u, 8863905359704u, 8863915714872u}},
    {"responses failed", API_RESPONSES, responses_failed, 0, 1, 1, {8879749776980u}},
    {"responses incomplete", API_RESPONSES, responses_incomplete, 0, 0, 1, {9}},
};

struct seen {
    int chunks;
    uint64_t stamps[4];
};

static void
on_chunk(uint64_t stamp, void *arg)
{
    struct seen *s = arg;
    if (s->chunks < 4)
        s->stamps[s->chunks] = stamp;
    s->chunks++;
}

static void
check(const struct golden *g, const struct sse *s, const struct seen *seen)
{
    if (s->done != g->done || s->error != g->error || s->tokens != g->tokens ||
        seen->chunks != g->tokens)
        fail_msg("%s: done %d error %d tokens %d chunks %d", g->name, s->done, s->error, s->tokens,
                 seen->chunks);
    for (int i = 0; i < g->tokens && i < 3; i++)
        if (seen->stamps[i] != g->stamps[i])
            fail_msg("%s: stamp %d is %llu", g->name, i, (unsigned long long)seen->stamps[i]);
}

/* Every golden stream, cut in two at every byte, read by one reader that
 * is reset between streams as the driver resets a reused handle's. */
static void
test_every_split(void **state)
{
    (void)state;
    struct sse s = {0};
    for (size_t k = 0; k < sizeof(goldens) / sizeof(goldens[0]); k++) {
        const struct golden *g = &goldens[k];
        size_t n = strlen(g->text);
        for (size_t cut = 0; cut <= n; cut++) {
            struct seen seen = {0};
            sse_reset(&s, g->api);
            assert_int_equal(sse_feed(&s, g->text, cut, on_chunk, &seen), 0);
            assert_int_equal(sse_feed(&s, g->text + cut, n - cut, on_chunk, &seen), 0);
            check(g, &s, &seen);
        }
    }
    sse_free(&s);
}

/* Feed `g` to a fresh reader in pieces of `piece` bytes and check what it
 * found; returns the size its line buffer grew to (0: none was needed). */
static size_t
feed_in_pieces(const struct golden *g, size_t piece)
{
    struct sse s = {0};
    struct seen seen = {0};
    size_t n = strlen(g->text);
    sse_reset(&s, g->api);
    for (size_t off = 0; off < n; off += piece) {
        size_t take = n - off < piece ? n - off : piece;
        assert_int_equal(sse_feed(&s, g->text + off, take, on_chunk, &seen), 0);
    }
    check(g, &s, &seen);
    size_t cap = s.cap;
    sse_free(&s);
    return cap;
}

/* A byte at a time: every line is assembled in the line buffer. */
static void
test_byte_by_byte(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(goldens) / sizeof(goldens[0]); k++)
        assert_true(feed_in_pieces(&goldens[k], 1) > 0);
}

/* The hot path: whole lines in the buffer curl hands over are read in
 * place, so a stream that arrives in whole lines allocates nothing. */
static void
test_whole_lines_do_not_allocate(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(goldens) / sizeof(goldens[0]); k++)
        assert_int_equal(feed_in_pieces(&goldens[k], strlen(goldens[k].text)), 0);
}

/* One API's stream read as another's ends nowhere: the shapes differ. */
static void
test_shapes_differ(void **state)
{
    (void)state;
    struct sse s = {0};
    struct seen seen = {0};
    sse_reset(&s, API_CHAT);
    assert_int_equal(sse_feed(&s, responses_ok, strlen(responses_ok), on_chunk, &seen), 0);
    assert_int_equal(s.done, 0);
    sse_reset(&s, API_RESPONSES);
    assert_int_equal(sse_feed(&s, messages_ok, strlen(messages_ok), on_chunk, &seen), 0);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.tokens, 0);
    sse_reset(&s, API_MESSAGES);
    assert_int_equal(sse_feed(&s, chat_ok, strlen(chat_ok), on_chunk, &seen), 0);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.tokens, 0);
    sse_free(&s);
    assert_string_equal(sse_end_name(API_CHAT), "[DONE]");
    assert_string_equal(sse_end_name(API_MESSAGES), "message_stop");
    assert_string_equal(sse_end_name(API_RESPONSES), "response.completed");
}

static void
test_error_event(void **state)
{
    (void)state;
    static const char err[] = "event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n";
    struct sse s = {0};
    struct seen seen = {0};
    assert_int_equal(sse_feed(&s, err, sizeof(err) - 1, on_chunk, &seen), 0);
    assert_int_equal(s.error, 1);
    assert_int_equal(s.done, 0);
    sse_free(&s);
}

static void
test_stamp(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(stamp_parse("@42@x", 5, &ns), 4);
    assert_true(ns == 42);
    assert_int_equal(stamp_parse("@42", 3, &ns), 0);
    assert_int_equal(stamp_parse("@@x", 3, &ns), 0);
    assert_int_equal(stamp_parse("42@", 3, &ns), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_whole_lines_do_not_allocate),
        cmocka_unit_test(test_shapes_differ),
        cmocka_unit_test(test_error_event),
        cmocka_unit_test(test_stamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
