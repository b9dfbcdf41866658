/* Unit tests for lingma-gatewayd/config.c and config_envfile.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lingma/common.h"

static char *base_env[] = {"HOME=/home/u", NULL};

static int
parse(gw_config *cfg, gw_config_action *act, char *err, size_t errlen, char **argv, char **envp,
      const char *file)
{
    int argc = 0;
    while (argv && argv[argc])
        argc++;
    return gw_config_parse(cfg, act, err, errlen, argc, argv, envp, file, file ? strlen(file) : 0);
}

static void
parse_ok(gw_config *cfg, char **argv, char **envp, const char *file)
{
    gw_config_action act;
    char err[512] = "";
    int rc = parse(cfg, &act, err, sizeof(err), argv, envp, file);
    if (rc != 0)
        fail_msg("unexpected error: %s", err);
    assert_int_equal(act, GW_CONFIG_RUN);
}

/* Expect an error whose message contains every given fragment. */
static void
parse_bad(char **argv, char **envp, const char *file, const char *frag1, const char *frag2)
{
    gw_config cfg;
    gw_config_action act;
    char err[512] = "";
    int rc = parse(&cfg, &act, err, sizeof(err), argv, envp, file);
    if (rc != LINGMA_EINVAL)
        fail_msg("expected EINVAL, got %d (%s)", rc, err);
    if (!strstr(err, frag1) || (frag2 && !strstr(err, frag2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, frag1, frag2 ? frag2 : "");
    assert_null(cfg.host);
}

static void
test_defaults(void **state)
{
    (void)state;
    gw_config c;
    char *argv[] = {"lingma-gatewayd", NULL};
    parse_ok(&c, argv, base_env, NULL);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8000);
    assert_null(c.api_keys);
    assert_null(c.metrics_token);
    assert_int_equal(c.log_level, LINGMA_LOG_INFO);
    assert_null(c.log_file);
    assert_null(c.lingma_bin);
    assert_string_equal(c.work_dir, "/home/u/.local/state/lingma-gatewayd");
    assert_int_equal(c.socket_port, 0);
    assert_int_equal(c.n_accounts, 0);
    assert_int_equal(c.instances, 1);
    assert_int_equal(c.startup_timeout, 60);
    assert_int_equal(c.rpc_timeout, 120);
    assert_int_equal(c.chat_timeout, 600);
    assert_string_equal(c.default_model, "auto");
    assert_int_equal(c.ask_mode, GW_ASK_CHAT);
    assert_int_equal(c.session_mode, GW_SESSION_FRESH);
    assert_null(c.login_hook);
    assert_int_equal(c.max_in_flight, 64);
    assert_int_equal(c.max_queue, 256);
    assert_int_equal(c.queue_timeout, 30);
    assert_int_equal(c.heartbeat, 15);
    assert_int_equal(c.drain_timeout, 30);
    assert_int_equal(c.max_body, 8 * 1024 * 1024);
    assert_int_equal(c.connection_memory, 8 * 1024);
    assert_int_equal(c.max_connections, 10000);
    assert_false(c.allow_public);
    assert_int_equal(c.responses_max, 10000);
    assert_int_equal(c.responses_max_bytes, 64 * 1024 * 1024);
    assert_int_equal(c.responses_ttl, 24 * 3600);
    assert_null(c.env_file);
    for (int i = 0; i < GW_CFG_COUNT; i++)
        assert_int_equal(c.source[i], GW_SRC_DEFAULT);
    gw_config_free(&c);
    gw_config_free(&c);
    gw_config_free(NULL);

    char *xdg[] = {"XDG_STATE_HOME=/state", "HOME=/home/u", NULL};
    parse_ok(&c, argv, xdg, NULL);
    assert_string_equal(c.work_dir, "/state/lingma-gatewayd");
    gw_config_free(&c);
    /* A relative XDG_STATE_HOME is ignored, as the XDG spec says. */
    char *rel[] = {"XDG_STATE_HOME=state", "HOME=/h", NULL};
    parse_ok(&c, argv, rel, NULL);
    assert_string_equal(c.work_dir, "/h/.local/state/lingma-gatewayd");
    gw_config_free(&c);
    /* No HOME at all: LINGMA_WORK_DIR is required. */
    parse_bad(argv, NULL, NULL, "LINGMA_WORK_DIR", NULL);
    char *wd[] = {"LINGMA_WORK_DIR=/w", NULL};
    parse_ok(&c, argv, wd, NULL);
    assert_string_equal(c.work_dir, "/w");
    gw_config_free(&c);
}

static void
test_precedence(void **state)
{
    (void)state;
    const char *file = "GATEWAY_PORT=1111\nLOG_LEVEL=debug\nLINGMA_RPC_TIMEOUT=5\n"
                       "GATEWAY_MAX_QUEUE=7\n";
    char *envp[] = {
        "HOME=/h", "GATEWAY_PORT=2222", "LOG_LEVEL=warn", "GATEWAY_MAX_QUEUE=", "GATEWAY_PORTX=9",
        NULL};
    char *argv[] = {"gw", "--port", "3333", "--env-file", "x.env", NULL};
    gw_config c;
    parse_ok(&c, argv, envp, file);
    assert_int_equal(c.port, 3333); /* flag */
    assert_int_equal(c.source[GW_CFG_PORT], GW_SRC_FLAG);
    assert_int_equal(c.log_level, LINGMA_LOG_WARN); /* environment over file */
    assert_int_equal(c.source[GW_CFG_LOG_LEVEL], GW_SRC_ENV);
    assert_int_equal(c.rpc_timeout, 5); /* file over default */
    assert_int_equal(c.source[GW_CFG_RPC_TIMEOUT], GW_SRC_ENV_FILE);
    assert_int_equal(c.max_queue, 7); /* an empty environment value is unset */
    assert_int_equal(c.chat_timeout, 600);
    assert_string_equal(c.env_file, "x.env");
    gw_config_free(&c);

    char *argv2[] = {"gw", "--port=0", "--host=::1", "--log-level=ERROR", NULL};
    parse_ok(&c, argv2, base_env, NULL);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.log_level, LINGMA_LOG_ERROR);
    gw_config_free(&c);
}

static void
test_env_file_arg(void **state)
{
    (void)state;
    char *a1[] = {"gw", "--env-file", "a.env", "--env-file=b.env", NULL};
    assert_string_equal(gw_config_env_file_arg(4, a1), "b.env");
    char *a2[] = {"gw", "--port", "1", NULL};
    assert_null(gw_config_env_file_arg(3, a2));
    char *a3[] = {"gw", "--env-file", NULL};
    assert_null(gw_config_env_file_arg(2, a3));
    parse_bad(a3, base_env, NULL, "--env-file needs a value", NULL);
    char *a4[] = {"gw", "--env-file=", NULL};
    parse_bad(a4, base_env, NULL, "--env-file", NULL);
}

static int
collect(const char *key, const char *value, unsigned line, void *payload)
{
    gw_buf *b = payload;
    return gw_buf_printf(b, "%u:%s=[%s]\n", line, key, value);
}

static void
test_env_file_syntax(void **state)
{
    (void)state;
    const char *text = "# comment\n"
                       "\n"
                       "   \n"
                       "A=1\n"
                       "export B = two words \n"
                       "C='single # not a comment \\n'\n"
                       "D=\"dq \\\"x\\\" \\\\ \\n \\$HOME \\q\" # trailing comment\n"
                       "E=bare # comment\n"
                       "F=a#b\n"
                       "G=\n"
                       "H=\"\"\r\n"
                       "exportI=3\n"
                       "_J9=x";
    gw_buf b = GW_BUF_INIT;
    char err[256] = "";
    assert_int_equal(gw_config_parse_env_file(text, strlen(text), err, sizeof(err), collect, &b),
                     0);
    assert_string_equal(b.data, "4:A=[1]\n"
                                "5:B=[two words]\n"
                                "6:C=[single # not a comment \\n]\n"
                                "7:D=[dq \"x\" \\ \n $HOME \\q]\n"
                                "8:E=[bare]\n"
                                "9:F=[a#b]\n"
                                "10:G=[]\n"
                                "11:H=[]\n"
                                "12:exportI=[3]\n"
                                "13:_J9=[x]\n");
    gw_buf_free(&b);

    const char *bad[] = {
        "A=1\nnot a line\n", "A='open\n", "A=\"x\" y\n", "=1\n", "1A=2\n", "A B=1\n"};
    const char *lines[] = {"line 2", "line 1", "line 1", "line 1", "line 1", "line 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gw_buf tmp = GW_BUF_INIT;
        err[0] = '\0';
        assert_int_equal(
            gw_config_parse_env_file(bad[i], strlen(bad[i]), err, sizeof(err), collect, &tmp),
            LINGMA_EINVAL);
        assert_non_null(strstr(err, lines[i]));
        gw_buf_free(&tmp);
    }
    /* Errors in an env file reach gw_config_parse with their line. */
    char *argv[] = {"gw", NULL};
    parse_bad(argv, base_env, "A=1\nGATEWAY_PORT=99999\n", "GATEWAY_PORT (env file line 2)",
              "0-65535");
    parse_bad(argv, base_env, "oops\n", "env file line 1", NULL);
    /* Unknown keys are ignored (the file may be shared with lingma-sim). */
    gw_config c;
    parse_ok(&c, argv, base_env, "LINGMA_SIM_REPLY=echo\nGATEWAY_PORT=1234");
    assert_int_equal(c.port, 1234);
    gw_config_free(&c);
}

static void
test_validation(void **state)
{
    (void)state;
    struct {
        char *arg;
        const char *frag1, *frag2;
    } flags[] = {
        {"--port=65536", "--port", "0-65535"},
        {"--port=-1", "--port", "0-65535"},
        {"--port=8o", "--port", "'8o'"},
        {"--port=", "--port", "0-65535"},
        {"--socket-port=70000", "--socket-port", "0-65535"},
        {"--max-in-flight=0", "--max-in-flight", "1-1000000"},
        {"--max-in-flight=1.5", "--max-in-flight", NULL},
        {"--max-queue=-3", "--max-queue", "0-1000000"},
        {"--max-connections=99999999999999999999", "--max-connections", NULL},
        {"--instances=0", "--instances", "1-1024"},
        {"--startup-timeout=0", "--startup-timeout", "at least 1 second"},
        {"--rpc-timeout=10x", "--rpc-timeout", "Nm"},
        {"--chat-timeout=1000000h", "--chat-timeout", NULL},
        {"--queue-timeout=abc", "--queue-timeout", NULL},
        {"--heartbeat=-1", "--heartbeat", NULL},
        {"--max-body=0", "--max-body", "1GiB"},
        {"--max-body=2G", "--max-body", NULL},
        {"--max-body=5T", "--max-body", NULL},
        {"--connection-memory=4K", "--connection-memory", "8KiB to 1MiB"},
        {"--connection-memory=2M", "--connection-memory", NULL},
        {"--log-level=verbose", "--log-level", "error, warn, info or debug"},
        {"--ask-mode=edit", "--ask-mode", "chat or agent"},
        {"--session-mode=sticky", "--session-mode", "fresh or reuse"},
        {"--allow-public=maybe", "--allow-public", "true or false"},
        {"--host=", "--host", "host name"},
        {"--host=a b", "--host", NULL},
        {"--nope", "unknown option '--nope'", "--help"},
        {"stray", "unexpected argument 'stray'", NULL},
        {"--port", "--port needs a value", "0-65535"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char *argv[] = {"gw", flags[i].arg, NULL};
        parse_bad(argv, base_env, NULL, flags[i].frag1, flags[i].frag2);
    }
    char *argv[] = {"gw", NULL};
    char *env1[] = {"HOME=/h", "GATEWAY_PORT=http", NULL};
    parse_bad(argv, env1, NULL, "GATEWAY_PORT: invalid value 'http'", "0-65535");
    char *env2[] = {"HOME=/h", "LINGMA_ASK_MODE=AGENTS", NULL};
    parse_bad(argv, env2, NULL, "LINGMA_ASK_MODE", "chat or agent");

    /* Accepted forms. */
    gw_config c;
    char *ok[] = {"gw",
                  "--rpc-timeout=2m",
                  "--chat-timeout=1h",
                  "--queue-timeout=0",
                  "--heartbeat=0s",
                  "--max-body=512K",
                  "--connection-memory=64K",
                  "--max-queue=0",
                  "--log-level=warning",
                  "--ask-mode=Agent",
                  "--session-mode=reuse",
                  "--instances",
                  "3",
                  "--lingma-bin",
                  "/opt/Lingma",
                  "--login-hook=",
                  NULL};
    parse_ok(&c, ok, base_env, NULL);
    assert_int_equal(c.rpc_timeout, 120);
    assert_int_equal(c.chat_timeout, 3600);
    assert_int_equal(c.queue_timeout, 0);
    assert_int_equal(c.heartbeat, 0);
    assert_int_equal(c.max_body, 512 * 1024);
    assert_int_equal(c.connection_memory, 64 * 1024);
    assert_int_equal(c.max_queue, 0);
    assert_int_equal(c.log_level, LINGMA_LOG_WARN);
    assert_int_equal(c.ask_mode, GW_ASK_AGENT);
    assert_int_equal(c.session_mode, GW_SESSION_REUSE);
    assert_int_equal(c.instances, 3);
    assert_string_equal(c.lingma_bin, "/opt/Lingma");
    assert_null(c.login_hook);
    gw_config_free(&c);
    char *autos[] = {"gw", "--session-mode=AUTO", NULL};
    parse_ok(&c, autos, base_env, NULL);
    assert_int_equal(c.session_mode, GW_SESSION_FRESH);
    gw_config_free(&c);
    char *bytes[] = {"gw", "--max-body=1GiB", NULL};
    parse_ok(&c, bytes, base_env, NULL);
    assert_int_equal(c.max_body, 1u << 30);
    gw_config_free(&c);
}

static void
test_accounts(void **state)
{
    (void)state;
    gw_account *l = NULL;
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), " a:1 , b:p:w,, c: "), 0);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].username, "a");
    assert_string_equal(l[0].password, "1");
    assert_string_equal(l[1].password, "p:w");
    assert_string_equal(l[2].username, "c");
    assert_string_equal(l[2].password, "");
    gw_accounts_free(l, n);
    assert_int_equal(
        gw_config_parse_accounts(&l, &n, err, sizeof(err),
                                 "[{\"username\":\"x\",\"password\":\"p,1\"},{\"username\":\"y\","
                                 "\"password\":\"\"}]"),
        0);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].password, "p,1");
    gw_accounts_free(l, n);
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), "a:1,nopass"),
                     LINGMA_EINVAL);
    assert_non_null(strstr(err, "#2"));
    assert_null(l);
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), ":pw"), LINGMA_EINVAL);
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), "[{\"username\":\"x\"}]"),
                     LINGMA_EINVAL);
    assert_non_null(strstr(err, "#1"));
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err),
                                              "[{\"username\":\"x\",\"password\":\"s3cr3t\""),
                     LINGMA_EINVAL);
    assert_null(strstr(err, "s3cr3t"));
    assert_int_equal(gw_config_parse_accounts(&l, &n, err, sizeof(err), "{\"x\":\"y\"}"),
                     LINGMA_EINVAL);

    /* Instances follow the accounts; fewer is an error. */
    gw_config c;
    char *argv[] = {"gw", "--accounts", "a:1,b:2", NULL};
    parse_ok(&c, argv, base_env, NULL);
    assert_int_equal(c.n_accounts, 2);
    assert_int_equal(c.instances, 2);
    gw_config_free(&c);
    char *argv2[] = {"gw", "--accounts", "a:1,b:2", "--instances=1", NULL};
    parse_bad(argv2, base_env, NULL, "LINGMA_INSTANCE_COUNT", "fewer than the 2 accounts");
    char *argv3[] = {"gw", "--accounts", "a:1", "--instances=3", NULL};
    parse_ok(&c, argv3, base_env, NULL);
    assert_int_equal(c.instances, 3);
    gw_config_free(&c);
    /* The single pair. */
    char *pair[] = {"HOME=/h", "LINGMA_USERNAME=u", "LINGMA_PASSWORD=pw", NULL};
    char *argv4[] = {"gw", NULL};
    parse_ok(&c, argv4, pair, NULL);
    assert_int_equal(c.n_accounts, 1);
    assert_string_equal(c.account_list[0].username, "u");
    assert_string_equal(c.account_list[0].password, "pw");
    gw_config_free(&c);
    char *half[] = {"HOME=/h", "LINGMA_USERNAME=u", NULL};
    parse_bad(argv4, half, NULL, "LINGMA_USERNAME and LINGMA_PASSWORD", NULL);
    /* LINGMA_ACCOUNTS wins over the pair. */
    char *both[] = {"HOME=/h", "LINGMA_USERNAME=u", "LINGMA_PASSWORD=pw",
                    "LINGMA_ACCOUNTS=x:1,y:2,z:3", NULL};
    parse_ok(&c, argv4, both, NULL);
    assert_int_equal(c.n_accounts, 3);
    gw_config_free(&c);
    char *badacc[] = {"HOME=/h", "LINGMA_ACCOUNTS=alice", NULL};
    parse_bad(argv4, badacc, NULL, "LINGMA_ACCOUNTS", "#1");
}

static void
test_public_rule(void **state)
{
    (void)state;
    assert_true(gw_config_host_is_loopback("127.0.0.1"));
    assert_true(gw_config_host_is_loopback("127.1.2.3"));
    assert_true(gw_config_host_is_loopback("localhost"));
    assert_true(gw_config_host_is_loopback("LOCALHOST"));
    assert_true(gw_config_host_is_loopback("::1"));
    assert_true(gw_config_host_is_loopback("[::1]"));
    assert_true(gw_config_host_is_loopback("0:0:0:0:0:0:0:1"));
    assert_false(gw_config_host_is_loopback("0.0.0.0"));
    assert_false(gw_config_host_is_loopback("::"));
    assert_false(gw_config_host_is_loopback("192.168.1.2"));
    assert_false(gw_config_host_is_loopback("example.com"));
    assert_false(gw_config_host_is_loopback("128.0.0.1"));
    assert_false(gw_config_host_is_loopback(NULL));

    char *argv[] = {"gw", "--host", "0.0.0.0", NULL};
    parse_bad(argv, base_env, NULL, "without API_KEYS", "--allow-public");
    char *blank[] = {"HOME=/h", "API_KEYS= , ", NULL};
    parse_bad(argv, blank, NULL, "without API_KEYS", NULL);
    gw_config c;
    char *argv2[] = {"gw", "--host", "0.0.0.0", "--allow-public", NULL};
    parse_ok(&c, argv2, base_env, NULL);
    assert_true(c.allow_public);
    gw_config_free(&c);
    char *keys[] = {"HOME=/h", "API_KEYS=k1", NULL};
    parse_ok(&c, argv, keys, NULL);
    assert_string_equal(c.api_keys, "k1");
    gw_config_free(&c);
    char *pub[] = {"HOME=/h", "GATEWAY_ALLOW_PUBLIC=yes", "GATEWAY_HOST=10.0.0.1", NULL};
    char *argv3[] = {"gw", NULL};
    parse_ok(&c, argv3, pub, NULL);
    gw_config_free(&c);
    char *argv4[] = {"gw", "--allow-public=false", NULL};
    parse_bad(argv4, pub, NULL, "without API_KEYS", NULL);
}

/* GATEWAY_CORS_ORIGINS and GATEWAY_MODEL_ALIASES are checked at parse
 * time; --model-alias repeats and joins; an empty variable turns the
 * default aliases off. */
static void
test_cors_and_aliases(void **state)
{
    (void)state;
    gw_config c;
    char *none[] = {"gw", NULL};
    parse_ok(&c, none, base_env, NULL);
    assert_null(c.cors_origins);
    assert_string_equal(c.model_aliases, "claude-*=auto");
    gw_config_free(&c);

    char *two[] = {"gw", "--model-alias", "gpt-*=auto", "--model-alias=o3=qwen", NULL};
    parse_ok(&c, two, base_env, NULL);
    assert_string_equal(c.model_aliases, "gpt-*=auto,o3=qwen");
    gw_config_free(&c);

    char *off[] = {"HOME=/h", "GATEWAY_MODEL_ALIASES=none", "GATEWAY_CORS_ORIGINS=*", NULL};
    parse_ok(&c, none, off, NULL);
    assert_string_equal(c.model_aliases, "none");
    assert_string_equal(c.cors_origins, "*");
    gw_config_free(&c);

    char *bad_cors[] = {"gw", "--cors-origins", "example.com", NULL};
    parse_bad(bad_cors, base_env, NULL, "GATEWAY_CORS_ORIGINS", "scheme://host");
    char *bad_alias[] = {"gw", "--model-alias", "claude-*", NULL};
    parse_bad(bad_alias, base_env, NULL, "GATEWAY_MODEL_ALIASES", "PATTERN=MODEL");
}

static void
test_actions_and_texts(void **state)
{
    (void)state;
    gw_config c;
    gw_config_action act;
    char err[256];
    char *h[] = {"gw", "--version", "--help", "--port=1", NULL};
    assert_int_equal(parse(&c, &act, err, sizeof(err), h, base_env, NULL), 0);
    assert_int_equal(act, GW_CONFIG_HELP);
    gw_config_free(&c);
    /* Help and version do not need a consistent configuration. */
    char *v[] = {"gw", "-V", "--host=0.0.0.0", NULL};
    assert_int_equal(parse(&c, &act, err, sizeof(err), v, NULL, NULL), 0);
    assert_int_equal(act, GW_CONFIG_VERSION);
    gw_config_free(&c);
    char *k[] = {"gw", "--check-config", NULL};
    assert_int_equal(parse(&c, &act, err, sizeof(err), k, base_env, NULL), 0);
    assert_int_equal(act, GW_CONFIG_CHECK);
    gw_config_free(&c);
    /* ...but --check-config checks. */
    char *k2[] = {"gw", "--check-config", "--host=0.0.0.0", NULL};
    assert_int_equal(parse(&c, &act, err, sizeof(err), k2, base_env, NULL), LINGMA_EINVAL);

    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_config_version(&b), 0);
    assert_string_equal(b.data, "lingma-gatewayd " LINGMA_VERSION_STRING "\n");
    gw_buf_reset(&b);
    assert_int_equal(gw_config_help(&b, "lingma-gatewayd"), 0);
    const char *must[] = {"Usage: lingma-gatewayd [OPTIONS]",
                          "--port PORT",
                          "GATEWAY_PORT",
                          "(default 8000)",
                          "--allow-public",
                          "--check-config",
                          "--env-file PATH",
                          "LINGMA_PASSWORD",
                          "flag > environment > --env-file > default"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(b.data, must[i]))
            fail_msg("help lacks %s", must[i]);
    gw_buf_free(&b);
}

static void
test_check_config_masks(void **state)
{
    (void)state;
    gw_config c;
    char *envp[] = {"HOME=/h",
                    "API_KEYS=sk-aaa,sk-bbb",
                    "METRICS_TOKEN=mtok",
                    "LINGMA_ACCOUNTS=alice:pw1,bob:pw2",
                    "LINGMA_PASSWORD=lonely",
                    "LINGMA_USERNAME=carol",
                    "LINGMA_LOGIN_HOOK=/bin/notify --to \"ops\"",
                    NULL};
    char *argv[] = {"gw", "--port=9", NULL};
    parse_ok(&c, argv, envp, "LOG_LEVEL=debug\n");
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_config_dump(&b, &c), 0);
    const char *secrets[] = {"sk-aaa", "sk-bbb", "mtok", "pw1", "pw2", "lonely"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (strstr(b.data, secrets[i]))
            fail_msg("secret %s leaked:\n%s", secrets[i], b.data);
    const char *must[] = {"GATEWAY_PORT=9  # flag\n",
                          "GATEWAY_HOST=127.0.0.1  # default\n",
                          "API_KEYS=***  # environment\n",
                          "METRICS_TOKEN=***  # environment\n",
                          "LINGMA_ACCOUNTS=alice:***,bob:***  # environment\n",
                          "LINGMA_PASSWORD=***  # environment\n",
                          "LINGMA_USERNAME=carol  # environment\n",
                          "LOG_LEVEL=debug  # env-file\n",
                          "LINGMA_LOGIN_HOOK=\"/bin/notify --to \\\"ops\\\"\"  # environment\n",
                          "LOG_FILE=  # default\n",
                          "GATEWAY_MAX_BODY_BYTES=8388608  # default\n",
                          "LINGMA_INSTANCE_COUNT=2  # default\n",
                          "GATEWAY_ALLOW_PUBLIC=false  # default\n"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(b.data, must[i]))
            fail_msg("dump lacks %s:\n%s", must[i], b.data);
    /* The dump is itself a valid env file giving the same configuration
     * (secrets aside). */
    gw_config d;
    char *argv0[] = {"gw", NULL};
    char *home[] = {"HOME=/elsewhere", NULL};
    /* Masked accounts would not parse back: drop those lines. */
    gw_buf filtered = GW_BUF_INIT;
    for (char *line = b.data; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line) + 1;
        if (strncmp(line, "LINGMA_ACCOUNTS=", 16) != 0 && strncmp(line, "API_KEYS=", 9) != 0)
            gw_buf_append(&filtered, line, len);
        line += len;
    }
    parse_ok(&d, argv0, home, filtered.data);
    assert_int_equal(d.port, 9);
    assert_string_equal(d.login_hook, "/bin/notify --to \"ops\"");
    assert_int_equal(d.log_level, LINGMA_LOG_DEBUG);
    assert_string_equal(d.work_dir, c.work_dir);
    gw_config_free(&d);
    gw_buf_free(&filtered);
    gw_buf_free(&b);
    gw_config_free(&c);
}

/* .env.example documents every variable of the table. */
static void
test_env_example_is_complete(void **state)
{
    (void)state;
    const char *root = getenv("LINGMA_SOURCE_ROOT");
    if (!root)
        skip();
    char path[1024];
    snprintf(path, sizeof(path), "%s/.env.example", root);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    gw_buf b = GW_BUF_INIT;
    gw_config c;
    char *argv[] = {"gw", "--help", NULL};
    gw_config_action act;
    char err[256];
    assert_int_equal(parse(&c, &act, err, sizeof(err), argv, base_env, NULL), 0);
    gw_config_free(&c);
    assert_int_equal(gw_config_help(&b, NULL), 0);
    /* Every variable named in the help text appears in .env.example. */
    const char *vars[] = {
        "GATEWAY_HOST",
        "GATEWAY_PORT",
        "API_KEYS",
        "METRICS_TOKEN",
        "LOG_LEVEL",
        "LOG_FILE",
        "LINGMA_BIN",
        "LINGMA_WORK_DIR",
        "LINGMA_SOCKET_PORT",
        "LINGMA_ACCOUNTS",
        "LINGMA_USERNAME",
        "LINGMA_PASSWORD",
        "LINGMA_INSTANCE_COUNT",
        "LINGMA_STARTUP_TIMEOUT",
        "LINGMA_RPC_TIMEOUT",
        "LINGMA_CHAT_TIMEOUT",
        "LINGMA_STALL_TIMEOUT",
        "LINGMA_DEFAULT_MODEL",
        "LINGMA_ASK_MODE",
        "LINGMA_SESSION_MODE",
        "LINGMA_LOGIN_HOOK",
        "GATEWAY_MAX_IN_FLIGHT",
        "GATEWAY_MAX_QUEUE",
        "GATEWAY_QUEUE_TIMEOUT_SEC",
        "GATEWAY_HEARTBEAT_SEC",
        "GATEWAY_DRAIN_TIMEOUT_SEC",
        "GATEWAY_MAX_BODY_BYTES",
        "GATEWAY_CONNECTION_MEMORY",
        "GATEWAY_MAX_CONNECTIONS",
        "GATEWAY_ALLOW_PUBLIC",
        "GATEWAY_CORS_ORIGINS",
        "GATEWAY_MODEL_ALIASES",
        "GATEWAY_RESPONSES_MAX",
        "GATEWAY_RESPONSES_MAX_BYTES",
        "GATEWAY_RESPONSES_TTL_SEC",
    };
    assert_int_equal(sizeof(vars) / sizeof(vars[0]), GW_CFG_COUNT);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "%s=", vars[i]);
        if (!strstr(text, key))
            fail_msg(".env.example lacks %s", key);
        if (!strstr(b.data, vars[i]))
            fail_msg("--help lacks %s", vars[i]);
    }
    gw_buf_free(&b);
    /* And .env.example itself parses (uncommented lines) into a valid
     * configuration. */
    parse_ok(&c, (char *[]){"gw", NULL}, base_env, text);
    gw_config_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_env_file_arg),
        cmocka_unit_test(test_env_file_syntax),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_public_rule),
        cmocka_unit_test(test_cors_and_aliases),
        cmocka_unit_test(test_actions_and_texts),
        cmocka_unit_test(test_check_config_masks),
        cmocka_unit_test(test_env_example_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
