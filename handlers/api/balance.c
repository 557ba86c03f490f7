/* balance: GET /api/channel/update_balance/:id asks the channel's upstream for its balance
 * (the API of its type, providers/balance.c) over the worker's libcurl handle and stores it. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "handlers/relay/upstream.h"
#include "handlers/respond.h"
#include "db/channels.h"
#include "db/relay.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "providers/balance.h"
#include "providers/provider.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <time.h>

#define BALANCE_TIMEOUT_S 30           /* one balance query, connection included */
#define BALANCE_MAX_ANSWER (16u << 20) /* a longer answer is refused */

/* The fetch callback lent to providers/balance.c: a GET through the worker's handle. */
static int balance_get(void *ud, const char *url, const char *header, long *status,
                       const char **body, size_t *n, const char **why)
{
    struct req *r = ud;
    struct prov_request rq = {.url = url};
    rq.headers[rq.n_headers++] = header;
    struct upstream_answer ans;
    sb_init(&ans.body, r->a);
    char err[256] = "";
    if (upstream_fetch(req_curl(r), &rq, BALANCE_TIMEOUT_S,
                       cfg_str(req_app(r)->cfg, CFG_RELAY_PROXY), BALANCE_MAX_ANSWER, NULL, NULL,
                       &ans, err, sizeof err) != UPSTREAM_OK) {
        *why = arena_strdup(r->a, err);
        return -1;
    }
    *status = ans.status;
    *body = ans.body.p ? ans.body.p : "";
    *n = ans.body.len;
    return 0;
}

int channel_balance_update(struct req *r, int64_t id, double *balance, const char **why)
{
    struct relay_channel ch;
    int found = db_relay_channel(req_db(r), r->a, id, &ch);
    if (found < 0)
        return OA_ERR_DB;
    if (found == 0) {
        *why = "record not found";
        return 0;
    }
    const struct channel_type *ct = channel_type_get((int)ch.type);
    struct prov_channel pch = {.base_url = ""};
    if (ct)
        relay_prov_channel(r->a, req_app(r), &ch, ct, &pch);
    req_db_release(r); /* hold no connection during the upstream call */
    *balance = 0;
    *why = NULL;
    struct prov_fetch fetch = {balance_get, r};
    if (!ct || !ct->balance || !*pch.base_url ||
        ct->balance(&pch, r->a, &fetch, balance, why) < 0) {
        if (!*why)
            *why = "尚未实现";
        return 0;
    }
    if (db_channels_set_balance(req_db(r), ch.id, *balance, (int64_t)time(NULL)) < 0)
        return OA_ERR_DB;
    return 1;
}

int h_channel_update_balance(struct req *r)
{
    int64_t id;
    if (req_path_id(r, 0, &id) < 0 || id <= 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    double balance = 0;
    const char *why = NULL;
    int rc = channel_balance_update(r, id, &balance, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "success", json_object_new_boolean(1));
    json_object_object_add(j, "message", json_object_new_string(""));
    json_object_object_add(j, "balance", jgo_double(balance));
    respond_json(r, 200, j);
    return 0;
}

int h_channel_update_balance_all(struct req *r)
{
    /* A no-op in One API too. */
    api_ok(r, NULL);
    return 0;
}
