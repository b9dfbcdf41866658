/* Client-facing errors; see errors.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lingma/common.h"

#include "errors.h"
#include "utf8.h"

static void
copy_trimmed(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = gw_utf8_floor(src, n, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void verror_set(gw_error *e, int status, const char *type, const char *code,
                       const char *param, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void
verror_set(gw_error *e, int status, const char *type, const char *code, const char *param,
           const char *fmt, va_list ap)
{
    char tmp[GW_ERROR_MESSAGE_MAX * 2];
    e->status = status;
    e->type = type;
    e->code = code;
    e->retry_after_ms = 0;
    copy_trimmed(e->param, sizeof(e->param), param ? param : "");
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (n < 0)
        snprintf(tmp, sizeof(tmp), "%s", "error");
    /* vsnprintf may have cut a character in half, and a caller may pass
     * bytes that are not UTF-8: repair both so that the message can always
     * be encoded as a JSON string. */
    size_t len = strlen(tmp);
    len = gw_utf8_complete_prefix(tmp, len);
    tmp[len] = '\0';
    for (size_t i = 0; i < len;) {
        size_t step = gw_utf8_decode(tmp + i, len - i, NULL);
        if (step == 0) {
            tmp[i] = '?';
            step = 1;
        }
        i += step;
    }
    copy_trimmed(e->message, sizeof(e->message), tmp);
}

void
gw_error_set(gw_error *e, int status, const char *type, const char *code, const char *param,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_set(e, status, type, code, param, fmt, ap);
    va_end(ap);
}

static int64_t
retry_hint(int64_t ms)
{
    return ms > 0 ? ms : 1000;
}

void
gw_error_from_lingma(gw_error *e, int lingma_code, int upstream_status, int64_t retry_after_ms)
{
    switch (lingma_code) {
    case LINGMA_EINVAL:
        gw_error_set(e, 400, GW_TYPE_INVALID_REQUEST, "invalid_request", NULL,
                     "The request was rejected as invalid.");
        return;
    case LINGMA_ENOMEM:
        gw_error_set(e, 500, GW_TYPE_SERVER, "internal_error", NULL,
                     "The server ran out of memory while processing the request.");
        return;
    case LINGMA_EPROTO:
        gw_error_set(e, 502, GW_TYPE_SERVER, "upstream_protocol_error", NULL,
                     "The Lingma backend sent an invalid response.");
        return;
    case LINGMA_EIO:
        gw_error_set(e, 502, GW_TYPE_SERVER, "upstream_connection_error", NULL,
                     "The connection to the Lingma backend was lost before the answer was "
                     "complete.");
        return;
    case LINGMA_ESPAWN:
        gw_error_set(e, 503, GW_TYPE_SERVER, "backend_unavailable", NULL,
                     "The Lingma backend could not be started.");
        return;
    case LINGMA_ETIMEDOUT:
        gw_error_set(e, 504, GW_TYPE_SERVER, "timeout", NULL,
                     "The Lingma backend did not answer in time.");
        return;
    case LINGMA_EBUSY: {
        int64_t ms = retry_hint(retry_after_ms);
        gw_error_set(e, 429, GW_TYPE_RATE_LIMIT, "rate_limit_exceeded", NULL,
                     "The gateway is at capacity. Please retry after %" PRId64 " seconds.",
                     (ms + 999) / 1000);
        e->retry_after_ms = ms;
        return;
    }
    case LINGMA_EUNAVAIL:
        gw_error_set(e, 503, GW_TYPE_SERVER, "service_unavailable", NULL,
                     "No Lingma instance is available to serve the request.");
        return;
    case LINGMA_ECANCELED:
        gw_error_set(e, 499, GW_TYPE_INVALID_REQUEST, "request_cancelled", NULL,
                     "The request was cancelled by the client.");
        return;
    case LINGMA_ERPC:
        gw_error_set(e, 502, GW_TYPE_SERVER, "upstream_error", NULL,
                     "The Lingma backend rejected the request.");
        return;
    case LINGMA_EUPSTREAM:
        if (upstream_status == 429) {
            int64_t ms = retry_hint(retry_after_ms);
            gw_error_set(e, 429, GW_TYPE_RATE_LIMIT, "upstream_rate_limited", NULL,
                         "The Lingma service is rate limiting this account. Please retry after "
                         "%" PRId64 " seconds.",
                         (ms + 999) / 1000);
            e->retry_after_ms = ms;
        } else if (upstream_status == 408) {
            gw_error_set(e, 504, GW_TYPE_SERVER, "upstream_timeout", NULL,
                         "The Lingma service timed out while answering.");
        } else if (upstream_status == 401 || upstream_status == 403) {
            gw_error_set(e, 503, GW_TYPE_SERVER, "upstream_unauthorized", NULL,
                         "The Lingma backend is not logged in or not authorized.");
        } else {
            gw_error_set(e, 502, GW_TYPE_SERVER, "upstream_error", NULL,
                         "The Lingma service failed to answer (status %d).", upstream_status);
        }
        return;
    case LINGMA_ECLOSED:
        gw_error_set(e, 503, GW_TYPE_SERVER, "shutting_down", NULL,
                     "The gateway is shutting down.");
        return;
    case LINGMA_ENOTFOUND:
        gw_error_set(e, 404, GW_TYPE_INVALID_REQUEST, "not_found", NULL,
                     "The requested object was not found.");
        return;
    default:
        gw_error_internal(e);
        return;
    }
}

int
gw_error_answer_status(int status, int respond_rc)
{
    if (respond_rc == LINGMA_OK || respond_rc == LINGMA_EINVAL)
        return status;
    gw_error e;
    gw_error_from_lingma(&e, respond_rc, 0, 0);
    return e.status;
}

void
gw_error_invalid_api_key(gw_error *e)
{
    gw_error_set(e, 401, GW_TYPE_INVALID_REQUEST, "invalid_api_key", NULL,
                 "Incorrect API key provided. Pass a valid key as 'Authorization: Bearer "
                 "<key>'.");
}

/* Echo only printable ASCII of a client-supplied path, and not too much of
 * it, so an error message cannot carry control bytes or invalid UTF-8. */
static void
printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    size_t j = 0;
    if (!src)
        src = "";
    for (; src[i] && j + 4 < size; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[j++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (src[i]) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

void
gw_error_not_found(gw_error *e, const char *method, const char *path)
{
    char m[16], p[160];
    printable(m, sizeof(m), method);
    printable(p, sizeof(p), path);
    gw_error_set(e, 404, GW_TYPE_INVALID_REQUEST, "not_found", NULL, "Invalid URL (%s %s).", m, p);
}

void
gw_error_method_not_allowed(gw_error *e, const char *method, const char *path)
{
    char m[16], p[160];
    printable(m, sizeof(m), method);
    printable(p, sizeof(p), path);
    gw_error_set(e, 405, GW_TYPE_INVALID_REQUEST, "method_not_allowed", NULL,
                 "Method %s is not allowed for %s.", m, p);
}

void
gw_error_request_too_large(gw_error *e, uint64_t limit_bytes)
{
    gw_error_set(e, 413, GW_TYPE_INVALID_REQUEST, "request_too_large", NULL,
                 "The request body is larger than the gateway accepts (%" PRIu64 " bytes).",
                 limit_bytes);
}

void
gw_error_model_not_found(gw_error *e, const char *model)
{
    /* OpenAI's own wording and shape: param null, code model_not_found.
     * The name is the client's own (valid UTF-8, from JSON); keep it short
     * and cut it on a character boundary. */
    char name[201];
    copy_trimmed(name, sizeof(name), model ? model : "");
    gw_error_set(e, 404, GW_TYPE_INVALID_REQUEST, "model_not_found", NULL,
                 "The model `%s` does not exist or you do not have access to it.", name);
}

void
gw_error_internal(gw_error *e)
{
    gw_error_set(e, 500, GW_TYPE_SERVER, "internal_error", NULL,
                 "The server had an error while processing your request.");
}

int
gw_error_json(gw_buf *out, const gw_error *e)
{
    json_t *inner = json_object();
    json_t *root = json_object();
    int rc = LINGMA_ENOMEM;
    if (!inner || !root)
        goto done;
    if (json_object_set_new(inner, "message", json_string(e->message)) != 0 ||
        json_object_set_new(inner, "type", json_string(e->type ? e->type : GW_TYPE_SERVER)) != 0 ||
        json_object_set_new(inner, "param", e->param[0] ? json_string(e->param) : json_null()) !=
            0 ||
        json_object_set_new(inner, "code", e->code ? json_string(e->code) : json_null()) != 0)
        goto done;
    if (json_object_set(root, "error", inner) != 0)
        goto done;
    rc = gw_buf_append_json(out, root);
done:
    json_decref(inner);
    json_decref(root);
    return rc;
}

const char *
gw_error_anthropic_type(int status)
{
    switch (status) {
    case 400:
    case 405:
    case 431:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return status < 500 ? "invalid_request_error" : "api_error";
    }
}

int
gw_error_status_for(gw_api api, const gw_error *e)
{
    if (api == GW_API_ANTHROPIC && e->status == 503)
        return 529;
    return e->status;
}

int
gw_error_json_for(gw_buf *out, gw_api api, const gw_error *e)
{
    if (api != GW_API_ANTHROPIC)
        return gw_error_json(out, e);
    json_t *root =
        json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type",
                  gw_error_anthropic_type(gw_error_status_for(api, e)), "message", e->message);
    if (!root)
        return LINGMA_ENOMEM;
    int rc = gw_buf_append_json(out, root);
    json_decref(root);
    return rc;
}

char *
gw_error_retry_after_s(char buf[24], int64_t retry_after_ms)
{
    int64_t ms = retry_hint(retry_after_ms);
    snprintf(buf, 24, "%" PRId64, (ms + 999) / 1000);
    return buf;
}

char *
gw_error_retry_after_ms(char buf[24], int64_t retry_after_ms)
{
    snprintf(buf, 24, "%" PRId64, retry_hint(retry_after_ms));
    return buf;
}
