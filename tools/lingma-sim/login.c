/*
 * lingma-sim: login state. Logged in <=> <workDir>/cache/user exists, as
 * with real Lingma, so the state survives a respawn. A login is completed
 * by GET /auth/callback?state=<nonce> on the HTTP port (what the browser
 * does after the Aliyun page) or by login/auth_callback over WebSocket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "sim.h"

bool
sim_effective_logged_in(const struct sim *sim)
{
    if (!sim->logged_in)
        return false;
    if (sim->cur.fault.logged_out &&
        (sim->cur.fault_limit == 0 ||
         sim_counter_read(sim->work_dir, "fault-chats") < sim->cur.fault_limit))
        return false;
    return true;
}

json_t *
sim_auth_status(const struct sim *sim)
{
    if (!sim_effective_logged_in(sim)) {
        return json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s,"
                         " s:s, s:b, s:s, s:b, s:s, s:s, s:b}",
                         "status", 1, "whitelist", 1, "name", "", "id", "", "accountId", "",
                         "token", "", "refreshToken", "", "expireTime", 0, "quota", 0, "orgId", "",
                         "orgName", "", "yxUid", "", "avatarUrl", "", "userType", "", "cloudType",
                         "", "privacyPolicyAgreed", 0, "email", "", "isSubAccount", 0, "userTag",
                         "", "messageId", "", "isPrivacyPolicyModifiable", 0);
    }
    const char *name = sim->username ? sim->username : SIM_DEFAULT_USERNAME;
    return json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:s, s:s, s:s,"
                     " s:s, s:b, s:s, s:b, s:s, s:s, s:b}",
                     "status", 2, "whitelist", 3, "name", name, "id", "5930000000000001",
                     "accountId", "5930000000000001", "token", "pt-sim-token", "refreshToken",
                     "rt-sim-token", "expireTime", (json_int_t)(sim_epoch_ms() + 86400000LL * 30),
                     "quota", 1, "orgId", "", "orgName", "", "yxUid", "", "avatarUrl", "",
                     "userType", SIM_USER_TYPE, "cloudType", "individual_intl",
                     "privacyPolicyAgreed", 1, "email", name, "isSubAccount", 0, "userTag", "",
                     "messageId", "", "isPrivacyPolicyModifiable", 0);
}

static void
broadcast_auth_report(struct sim *sim)
{
    for (struct sim_conn *c = sim->conns; c; c = c->next)
        sim_conn_push(c, "auth/report", sim_auth_status(sim));
}

json_t *
sim_login_generate_url(struct sim *sim)
{
    char url[256];
    sim_nonce(sim->nonce);
    snprintf(url, sizeof(url), "https://devops.aliyun.com/lingma/login?port=%d&state=%s",
             sim->http_port, sim->nonce);
    sim_logf(&sim->log, "INFO", "Opening browser to login: %s", url);
    return json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "loginUrl", url, "errorCode", "",
                     "errorMsg", "");
}

int
sim_login_complete(struct sim *sim, const char *state, const char *user)
{
    if (!sim->nonce[0] || !state || strcmp(state, sim->nonce)) {
        sim_logf(&sim->log, "WARN", "Invalid login nonce");
        return -1;
    }
    sim->nonce[0] = '\0';
    const char *name = user && *user        ? user
                       : sim->base.username ? sim->base.username
                                            : SIM_DEFAULT_USERNAME;
    char *copy = strdup(name);
    if (copy) {
        free(sim->username);
        sim->username = copy;
    }
    sim->logged_in = true;
    if (sim_cache_user_write(sim->work_dir, name))
        sim_logf(&sim->log, "ERROR", "cannot write cache/user");
    sim_logf(&sim->log, "INFO", "login complete: %s", name);
    broadcast_auth_report(sim);
    sim_state_flush(sim);
    return 0;
}

void
sim_logout(struct sim *sim)
{
    sim_cache_user_remove(sim->work_dir);
    sim->logged_in = false;
    sim_logf(&sim->log, "INFO", "Deleted user info file.");
    broadcast_auth_report(sim);
    sim_state_flush(sim);
}
