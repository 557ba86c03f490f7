/* health: which upstream errors mean a channel is unusable, and the switch of a channel to
 * "automatically disabled" (3) and back, with the log line and root's notification. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/notify.h"
#include "db/relay.h"
#include "fcgi/log.h"
#include "providers/provider.h"

#include <ctype.h>
#include <string.h>

int relay_should_disable(const struct prov_error *e)
{
    static const char *const words[] = {"your access was terminated",
                                        "violation of our policies",
                                        "your credit balance is too low",
                                        "organization has been disabled",
                                        "credit",
                                        "balance",
                                        "permission denied",
                                        "organization has been restricted",
                                        "api key not valid",
                                        "api key expired",
                                        "已欠费"};
    if (e->status == 401)
        return 1;
    const char *t = e->type ? e->type : "", *c = e->code ? e->code : "";
    if (!strcmp(t, "insufficient_quota") || !strcmp(t, "authentication_error") ||
        !strcmp(t, "permission_error") || !strcmp(t, "forbidden") ||
        !strcmp(c, "invalid_api_key") || !strcmp(c, "account_deactivated"))
        return 1;
    char low[512];
    size_t n = 0;
    for (const char *m = e->message ? e->message : ""; *m && n < sizeof low - 1; m++)
        low[n++] = (char)tolower((unsigned char)*m);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

void relay_disable_channel(struct app *app, struct db_conn *c, const struct relay_channel *ch,
                           const char *why, const char *how)
{
    /* Only an enabled channel moves: one an admin disabled (2) stays as the admin left it. */
    if (db_relay_channel_status(c, ch->id, 3, 1) <= 0)
        return;
    app_channels_changed(app);
    LOG_WARN("channel %s (#%lld) disabled %s: %s", ch->name, (long long)ch->id, how, why);
    notify_channel_disabled(app, ch->id, ch->name, why);
}

void relay_enable_channel(struct app *app, struct db_conn *c, const struct relay_channel *ch)
{
    /* Only a channel the gateway disabled (3) comes back by itself, never one an admin
     * disabled: One API revives both (docs/compatibility.md). */
    if (db_relay_channel_status(c, ch->id, 1, 3) <= 0)
        return;
    app_channels_changed(app);
    LOG_WARN("channel %s (#%lld) enabled again after a passing test", ch->name, (long long)ch->id);
    notify_channel_enabled(app, ch->id, ch->name);
}
