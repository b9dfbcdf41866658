/*
 * lingma-sim: settings (LINGMA_SIM_* environment, LINGMA_SIM_CONFIG JSON
 * file, <workDir>/sim.json) and fault switches.
 *
 * Precedence, lowest first: built-in defaults, the LINGMA_SIM_CONFIG file,
 * the environment, then <workDir>/sim.json (re-read at every chat/ask so a
 * test can change a running instance). JSON keys are the environment names
 * with or without the LINGMA_SIM_ prefix, in any case ("reply" ==
 * "LINGMA_SIM_REPLY"); values may be strings, numbers or booleans.
 */
#ifndef LINGMA_SIM_SETTINGS_H
#define LINGMA_SIM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_reply_kind {
    SIM_REPLY_ECHO = 0,
    SIM_REPLY_TEXT,
    SIM_REPLY_TOKENS,
    SIM_REPLY_TOOLS,  /* a model that follows the tool contract, reply_tools.h */
    SIM_REPLY_SCRIPT, /* rules from a file, reply_script.h */
};

enum sim_info_kind {
    SIM_INFO_2LINE = 0,
    SIM_INFO_3LINE,
    SIM_INFO_JSON,
    SIM_INFO_EARLY,
};

/* Each switch is off when 0 / -1 as documented per field. */
struct sim_faults {
    int drop_after;     /* -1 off: close the connection after N chat/answer pushes */
    int exit_after;     /* -1 off: exit the process after N chat/answer pushes */
    bool hang;          /* stop answering anything from the chat/ask on */
    int ask_delay_ms;   /* 0 off: delay the chat/ask result */
    int finish_code;    /* 0 off: chat/finish with this non-200 statusCode */
    bool rpc_error;     /* answer chat/ask with -32603 */
    bool exit_at_start; /* exit(3) before listening */
    int start_delay_ms; /* 0 off: delay before writing .info */
    bool stale_info;    /* stale .info (dead pid) at start; .info left behind at exit */
    bool logged_out;    /* behave as logged out */
    bool tool_invoke;   /* agent-mode chats send tool/invoke first (tool_invoke.h) */
};

struct sim_settings {
    bool logged_in;
    uint64_t seed;
    enum sim_reply_kind reply;
    char *reply_text;   /* SIM_REPLY_TEXT, owned */
    int reply_tokens;   /* SIM_REPLY_TOKENS */
    char *reply_script; /* SIM_REPLY_SCRIPT: the rules file, owned */
    int chunks;
    int first_token_ms;
    int chunk_ms;
    char *models_file; /* owned, NULL: built-in catalogue */
    enum sim_info_kind info;
    bool split;
    bool coalesce;
    bool step_end_first;
    bool noisy;
    bool one_chat_per_connection;
    bool usage;
    bool timestamps;
    struct sim_faults fault;
    char *fault_text; /* the LINGMA_SIM_FAULT value as given, owned; NULL when none */
    int fault_limit;  /* 0: every chat */
    int ack_wait_ms;
    char *username; /* owned */
};

/* Fill `s` with the built-in defaults. */
void sim_settings_defaults(struct sim_settings *s);
void sim_settings_free(struct sim_settings *s);
/* Deep copy; returns 0 or -1 (out of memory, `dst` then holds defaults). */
int sim_settings_copy(struct sim_settings *dst, const struct sim_settings *src);

/*
 * Apply one setting. `key` is a setting name with or without the
 * LINGMA_SIM_ prefix, in any case.
 * Returns 0 when applied, 1 when the key is not a setting (ignored), -1 when
 * the value is invalid: `err` then names the setting and the problem.
 */
int sim_settings_set(struct sim_settings *s, const char *key, const char *value, char *err,
                     size_t errlen);

/* Apply every LINGMA_SIM_* variable of `envp`. Returns 0 or -1 (err set). */
int sim_settings_from_env(struct sim_settings *s, char *const *envp, char *err, size_t errlen);

/*
 * Apply a JSON file of settings. Returns 0, 1 when the file does not exist
 * (nothing applied), or -1 (unreadable, not a JSON object, bad value; err set).
 */
int sim_settings_from_file(struct sim_settings *s, const char *path, char *err, size_t errlen);

/* Parse a LINGMA_SIM_FAULT list into `f`. Returns 0 or -1 (err set). */
int sim_faults_parse(struct sim_faults *f, const char *text, char *err, size_t errlen);

/* True when any switch that acts on a chat is on. */
bool sim_faults_chat_active(const struct sim_faults *f);
/* True when any switch that acts on start-up is on. */
bool sim_faults_start_active(const struct sim_faults *f);

#endif
