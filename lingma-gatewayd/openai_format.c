/*
 * Response objects, built with jansson and dumped compact (insertion order
 * is kept, so the bytes match the canonical stream in openai-wire.md):
 *
 *   {"id":..,"object":"chat.completion.chunk","created":..,"model":..,
 *    "choices":[{"index":0,"delta":{..},"finish_reason":null}]}
 *
 * plus "usage":null on every chunk but the usage chunk when the client
 * asked for stream_options.include_usage.
 */
#include <string.h>

#include "lingma/common.h"

#include "jsonout.h"
#include "openai.h"
#include "reqid.h"
#include "utf8.h"

void
gw_completion_id(char out[GW_COMPLETION_ID_SIZE], const uint8_t random[GW_COMPLETION_ID_BYTES])
{
    memcpy(out, "chatcmpl-", 9);
    gw_hex(out + 9, random, GW_COMPLETION_ID_BYTES);
}

json_t *
gw_json_text(const char *s, size_t len)
{
    if (gw_utf8_valid(s, len))
        return json_stringn(s, len);
    gw_buf b = GW_BUF_INIT;
    json_t *v = NULL;
    if (gw_utf8_sanitize(&b, s, len) == 0)
        v = json_stringn(b.data ? b.data : "", b.len);
    gw_buf_free(&b);
    return v;
}

/* Set helper that remembers the first failure, so that a builder can make
 * all its calls and check once. json_object_set_new() steals `v` even when
 * it fails, so nothing leaks either way. */
static void
put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static json_t *
head(const gw_completion_meta *m, const char *object, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "id", json_string(m->id), ok);
    put(o, "object", json_string(object), ok);
    put(o, "created", json_integer(m->created), ok);
    put(o, "model", json_string(m->model), ok);
    return o;
}

static json_t *
usage_value(const gw_usage *u, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "prompt_tokens", json_integer(u->prompt_tokens), ok);
    put(o, "completion_tokens", json_integer(u->completion_tokens), ok);
    put(o, "total_tokens", json_integer(gw_usage_total(u)), ok);
    return o;
}

static int
finish(gw_buf *out, json_t *root, bool ok)
{
    int rc = ok && root ? gw_buf_append_json(out, root) : LINGMA_ENOMEM;
    json_decref(root);
    return rc;
}

/* message.tool_calls: [{id, type:"function", function:{name, arguments}}]. */
static json_t *
calls_value(const gw_tool_call *calls, size_t n, bool *ok)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *c = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", calls[i].id, "type", "function",
                              "function", "name", calls[i].name, "arguments",
                              calls[i].arguments ? calls[i].arguments : "{}");
        if (!c || json_array_append_new(a, c) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (!a)
        *ok = false;
    return a;
}

/* ---- direct writers (jsonout.h) --------------------------------------------
 *
 * The hot objects, a chat.completion without tool calls and a text chunk,
 * written without a tree. They reproduce the tree's bytes exactly
 * (test-gw-openai-format checks it); what they would not reproduce (an id,
 * model or finish reason that is not UTF-8, which jansson refuses) goes to
 * the tree, as do tool calls.
 */

static bool
utf8_str(const char *s)
{
    return s && gw_utf8_valid(s, strlen(s));
}

static bool
head_direct_ok(const gw_completion_meta *m)
{
    return utf8_str(m->id) && utf8_str(m->model);
}

/* {"id":..,"object":..,"created":..,"model":.. (left open). */
static int
head_direct(gw_buf *out, const gw_completion_meta *m, const char *object)
{
    int rc = gw_buf_append(out, "{", 1);
    rc = rc ? rc : gw_jsonout_key(out, "id", true);
    rc = rc ? rc : gw_jsonout_string(out, m->id, strlen(m->id));
    rc = rc ? rc : gw_jsonout_key(out, "object", false);
    rc = rc ? rc : gw_jsonout_string(out, object, strlen(object));
    rc = rc ? rc : gw_jsonout_key(out, "created", false);
    rc = rc ? rc : gw_jsonout_int(out, m->created);
    rc = rc ? rc : gw_jsonout_key(out, "model", false);
    return rc ? rc : gw_jsonout_string(out, m->model, strlen(m->model));
}

static int
completion_direct(gw_buf *out, const gw_completion_meta *meta, const char *content,
                  size_t content_len, const char *reasoning, size_t reasoning_len,
                  const char *finish_reason, const gw_usage *usage)
{
    size_t mark = out->len;
    int rc = head_direct(out, meta, "chat.completion");
    rc = rc ? rc
            : gw_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                               "\"content\":");
    if (!rc)
        rc = content ? gw_jsonout_text(out, content, content_len) : gw_buf_puts(out, "null");
    rc = rc ? rc : gw_buf_puts(out, ",\"refusal\":null");
    if (!rc && reasoning) {
        rc = gw_jsonout_key(out, "reasoning_content", false);
        rc = rc ? rc : gw_jsonout_text(out, reasoning, reasoning_len);
    }
    rc = rc ? rc : gw_buf_puts(out, "},\"logprobs\":null,\"finish_reason\":");
    rc = rc ? rc : gw_jsonout_string(out, finish_reason, strlen(finish_reason));
    rc = rc ? rc : gw_buf_puts(out, "}]");
    if (!rc && usage) {
        rc = gw_buf_puts(out, ",\"usage\":{\"prompt_tokens\":");
        rc = rc ? rc : gw_jsonout_int(out, usage->prompt_tokens);
        rc = rc ? rc : gw_buf_puts(out, ",\"completion_tokens\":");
        rc = rc ? rc : gw_jsonout_int(out, usage->completion_tokens);
        rc = rc ? rc : gw_buf_puts(out, ",\"total_tokens\":");
        rc = rc ? rc : gw_jsonout_int(out, gw_usage_total(usage));
        rc = rc ? rc : gw_buf_puts(out, "}");
    }
    rc = rc ? rc : gw_buf_puts(out, "}");
    if (rc) {
        gw_buf_truncate(out, mark);
        return LINGMA_ENOMEM;
    }
    return 0;
}

static int
text_chunk_direct(gw_buf *out, const gw_completion_meta *meta, const char *key, const char *text,
                  size_t len)
{
    size_t mark = out->len;
    int rc = head_direct(out, meta, "chat.completion.chunk");
    rc = rc ? rc : gw_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":{");
    rc = rc ? rc : gw_jsonout_key(out, key, true);
    rc = rc ? rc : gw_jsonout_text(out, text ? text : "", text ? len : 0);
    rc = rc ? rc : gw_buf_puts(out, "},\"finish_reason\":null}]");
    if (!rc && meta->include_usage)
        rc = gw_buf_puts(out, ",\"usage\":null");
    rc = rc ? rc : gw_buf_puts(out, "}");
    if (rc) {
        gw_buf_truncate(out, mark);
        return LINGMA_ENOMEM;
    }
    return 0;
}

int
gw_openai_completion_calls(gw_buf *out, const gw_completion_meta *meta, const char *content,
                           size_t content_len, const char *reasoning, size_t reasoning_len,
                           const gw_tool_call *calls, size_t n_calls, const char *finish_reason,
                           const gw_usage *usage)
{
    const char *fr = finish_reason ? finish_reason : "stop";
    if (!n_calls && head_direct_ok(meta) && utf8_str(fr))
        return completion_direct(out, meta, content, content_len, reasoning, reasoning_len, fr,
                                 usage);
    return gw_openai_completion_tree(out, meta, content, content_len, reasoning, reasoning_len,
                                     calls, n_calls, finish_reason, usage);
}

int
gw_openai_completion_tree(gw_buf *out, const gw_completion_meta *meta, const char *content,
                          size_t content_len, const char *reasoning, size_t reasoning_len,
                          const gw_tool_call *calls, size_t n_calls, const char *finish_reason,
                          const gw_usage *usage)
{
    bool ok = true;
    json_t *root = head(meta, "chat.completion", &ok);
    json_t *msg = json_object();
    json_t *choice = json_object();
    json_t *choices = json_array();
    if (!root || !msg || !choice || !choices) {
        json_decref(msg);
        json_decref(choice);
        json_decref(choices);
        return finish(out, root, false);
    }
    put(msg, "role", json_string("assistant"), &ok);
    put(msg, "content", content ? gw_json_text(content, content_len) : json_null(), &ok);
    put(msg, "refusal", json_null(), &ok);
    if (reasoning)
        put(msg, "reasoning_content", gw_json_text(reasoning, reasoning_len), &ok);
    if (n_calls)
        put(msg, "tool_calls", calls_value(calls, n_calls, &ok), &ok);
    put(choice, "index", json_integer(0), &ok);
    put(choice, "message", msg, &ok);
    put(choice, "logprobs", json_null(), &ok);
    put(choice, "finish_reason", json_string(finish_reason ? finish_reason : "stop"), &ok);
    if (json_array_append_new(choices, choice) != 0)
        ok = false;
    put(root, "choices", choices, &ok);
    if (usage)
        put(root, "usage", usage_value(usage, &ok), &ok);
    return finish(out, root, ok);
}

int
gw_openai_completion(gw_buf *out, const gw_completion_meta *meta, const char *content,
                     size_t content_len, const char *reasoning, size_t reasoning_len,
                     const char *finish_reason, const gw_usage *usage)
{
    return gw_openai_completion_calls(out, meta, content, content_len, reasoning, reasoning_len,
                                      NULL, 0, finish_reason, usage);
}

/* A chunk with one choice whose delta is `delta` (stolen). */
static int
chunk(gw_buf *out, const gw_completion_meta *meta, json_t *delta, const char *finish_reason)
{
    bool ok = delta != NULL;
    json_t *root = head(meta, "chat.completion.chunk", &ok);
    json_t *choice = json_object();
    json_t *choices = json_array();
    if (!root || !choice || !choices) {
        json_decref(delta);
        json_decref(choice);
        json_decref(choices);
        return finish(out, root, false);
    }
    put(choice, "index", json_integer(0), &ok);
    put(choice, "delta", delta, &ok);
    put(choice, "finish_reason", finish_reason ? json_string(finish_reason) : json_null(), &ok);
    if (json_array_append_new(choices, choice) != 0)
        ok = false;
    put(root, "choices", choices, &ok);
    if (meta->include_usage)
        put(root, "usage", json_null(), &ok);
    return finish(out, root, ok);
}

int
gw_openai_chunk_role(gw_buf *out, const gw_completion_meta *meta)
{
    return chunk(out, meta, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
}

int
gw_openai_chunk_text_tree(gw_buf *out, const gw_completion_meta *meta, const char *key,
                          const char *text, size_t len)
{
    json_t *delta = json_object();
    if (!delta)
        return LINGMA_ENOMEM;
    /* json_object_set_new() releases the value itself when it fails. */
    json_t *v = gw_json_text(text ? text : "", text ? len : 0);
    if (!v || json_object_set_new(delta, key, v) != 0) {
        json_decref(delta);
        return LINGMA_ENOMEM;
    }
    return chunk(out, meta, delta, NULL);
}

static int
text_chunk(gw_buf *out, const gw_completion_meta *meta, const char *key, const char *text,
           size_t len)
{
    if (head_direct_ok(meta))
        return text_chunk_direct(out, meta, key, text, len);
    return gw_openai_chunk_text_tree(out, meta, key, text, len);
}

int
gw_openai_chunk_content(gw_buf *out, const gw_completion_meta *meta, const char *text, size_t len)
{
    return text_chunk(out, meta, "content", text, len);
}

int
gw_openai_chunk_reasoning(gw_buf *out, const gw_completion_meta *meta, const char *text, size_t len)
{
    return text_chunk(out, meta, "reasoning_content", text, len);
}

int
gw_openai_chunk_tool_call(gw_buf *out, const gw_completion_meta *meta, size_t index, const char *id,
                          const char *name, const char *arguments)
{
    json_t *call = id ? json_pack("{s:I,s:s,s:s,s:{s:s,s:s}}", "index", (json_int_t)index, "id", id,
                                  "type", "function", "function", "name", name ? name : "",
                                  "arguments", arguments ? arguments : "")
                      : json_pack("{s:I,s:{s:s}}", "index", (json_int_t)index, "function",
                                  "arguments", arguments ? arguments : "");
    return chunk(out, meta, call ? json_pack("{s:[o]}", "tool_calls", call) : NULL, NULL);
}

int
gw_openai_chunk_finish(gw_buf *out, const gw_completion_meta *meta, const char *finish_reason)
{
    return chunk(out, meta, json_object(), finish_reason ? finish_reason : "stop");
}

int
gw_openai_chunk_usage(gw_buf *out, const gw_completion_meta *meta, const gw_usage *usage)
{
    bool ok = true;
    json_t *root = head(meta, "chat.completion.chunk", &ok);
    if (!root)
        return LINGMA_ENOMEM;
    put(root, "choices", json_array(), &ok);
    put(root, "usage", usage_value(usage, &ok), &ok);
    return finish(out, root, ok);
}

static json_t *
model_value(const gw_model_entry *e, int64_t created, const char *owned_by, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "id", json_string(e->key), ok);
    put(o, "object", json_string("model"), ok);
    put(o, "created", json_integer(created), ok);
    put(o, "owned_by", json_string(owned_by ? owned_by : "lingma"), ok);
    return o;
}

int
gw_openai_models(gw_buf *out, const gw_model_entry *catalogue, size_t n, int64_t created,
                 const char *owned_by)
{
    bool ok = true;
    json_t *root = json_object();
    json_t *data = json_array();
    if (!root || !data) {
        json_decref(data);
        return finish(out, root, false);
    }
    put(root, "object", json_string("list"), &ok);
    for (size_t i = 0; ok && i < n; i++) {
        json_t *m = model_value(&catalogue[i], created, owned_by, &ok);
        if (!m || json_array_append_new(data, m) != 0)
            ok = false;
    }
    put(root, "data", data, &ok);
    return finish(out, root, ok);
}

int
gw_openai_model(gw_buf *out, const gw_model_entry *entry, int64_t created, const char *owned_by)
{
    bool ok = true;
    json_t *m = model_value(entry, created, owned_by, &ok);
    return finish(out, m, ok);
}
