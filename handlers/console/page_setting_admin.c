/* page_setting_admin: root's part of the settings: one form per group of options, each value
 * through the API's option check and save; secrets are never shown, and an empty secret field
 * keeps the stored value. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/options.h"
#include "handlers/relay/ratio.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_TEXT, K_NUMBER, K_SWITCH, K_AREA, K_THEME };

struct field {
    const char *key, *label;
    enum kind kind;
};

struct group {
    const char *id, *title;
    const struct field *fields;
    size_t n;
};

#define GROUP(id, title, arr)                                                                      \
    {                                                                                              \
        id, title, arr, sizeof arr / sizeof *arr                                                   \
    }

static const struct field operation[] = {
    {"QuotaForNewUser", "Quota of a new user", K_NUMBER},
    {"QuotaForInviter", "Reward of the inviter", K_NUMBER},
    {"QuotaForInvitee", "Reward of the invitee", K_NUMBER},
    {"PreConsumedQuota", "Quota held before a call", K_NUMBER},
    {"QuotaRemindThreshold", "Remind below this quota", K_NUMBER},
    {"RetryTimes", "Retries on another channel", K_NUMBER},
    {"ChannelDisableThreshold", "Disable a channel slower than (seconds)", K_NUMBER},
    {"QuotaPerUnit", "Quota per US dollar", K_TEXT},
    {"TopUpLink", "Top-up link", K_TEXT},
    {"ChatLink", "Chat link", K_TEXT},
    {"AutomaticDisableChannelEnabled", "Disable failing channels", K_SWITCH},
    {"AutomaticEnableChannelEnabled", "Enable channels that work again", K_SWITCH},
    {"DisplayInCurrencyEnabled", "Show quota in US dollars", K_SWITCH},
    {"DisplayTokenStatEnabled", "Show key statistics", K_SWITCH},
    {"ApproximateTokenEnabled", "Approximate token counts", K_SWITCH},
    {"LogConsumeEnabled", "Log every call", K_SWITCH},
    {"ModelRatio", "Model ratios (JSON)", K_AREA},
    {"CompletionRatio", "Completion ratios (JSON)", K_AREA},
    {"GroupRatio", "Group ratios (JSON)", K_AREA},
};

static const struct field system_[] = {
    {"SystemName", "System name", K_TEXT},
    {"Logo", "Logo URL", K_TEXT},
    {"ServerAddress", "Server address", K_TEXT},
    {"Theme", "Theme", K_THEME},
    {"Notice", "Notice (Markdown)", K_AREA},
    {"About", "About (Markdown or a URL)", K_AREA},
    {"HomePageContent", "Home page (Markdown or a URL)", K_AREA},
    {"Footer", "Footer (HTML)", K_AREA},
};

static const struct field signin[] = {
    {"RegisterEnabled", "Allow sign-up", K_SWITCH},
    {"PasswordRegisterEnabled", "Allow sign-up with a password", K_SWITCH},
    {"PasswordLoginEnabled", "Allow sign-in with a password", K_SWITCH},
    {"EmailVerificationEnabled", "Verify e-mail at sign-up", K_SWITCH},
    {"EmailDomainRestrictionEnabled", "Only e-mail of these domains", K_SWITCH},
    {"EmailDomainWhitelist", "Allowed e-mail domains (comma-separated)", K_TEXT},
};

static const struct field smtp[] = {
    {"SMTPServer", "SMTP server", K_TEXT},   {"SMTPPort", "SMTP port", K_TEXT},
    {"SMTPAccount", "SMTP account", K_TEXT}, {"SMTPFrom", "Sender address", K_TEXT},
    {"SMTPToken", "SMTP password", K_TEXT},
};

static const struct field github[] = {
    {"GitHubClientId", "GitHub client id", K_TEXT},
    {"GitHubClientSecret", "GitHub client secret", K_TEXT},
    {"GitHubOAuthEnabled", "Sign in with GitHub", K_SWITCH},
};

static const struct field lark[] = {
    {"LarkClientId", "Feishu/Lark app id", K_TEXT},
    {"LarkClientSecret", "Feishu/Lark app secret", K_TEXT},
};

static const struct field oidc[] = {
    {"OidcClientId", "Client id", K_TEXT},
    {"OidcClientSecret", "Client secret", K_TEXT},
    {"OidcWellKnown", "Well-known URL", K_TEXT},
    {"OidcAuthorizationEndpoint", "Authorization endpoint", K_TEXT},
    {"OidcTokenEndpoint", "Token endpoint", K_TEXT},
    {"OidcUserinfoEndpoint", "User-info endpoint", K_TEXT},
    {"OidcEnabled", "Sign in with OIDC", K_SWITCH},
};

static const struct field wechat[] = {
    {"WeChatServerAddress", "WeChat server address", K_TEXT},
    {"WeChatServerToken", "WeChat server token", K_TEXT},
    {"WeChatAccountQRCodeImageURL", "QR code image URL", K_TEXT},
    {"WeChatAuthEnabled", "Sign in with WeChat", K_SWITCH},
};

static const struct field turnstile[] = {
    {"TurnstileSiteKey", "Site key", K_TEXT},
    {"TurnstileSecretKey", "Secret key", K_TEXT},
    {"TurnstileCheckEnabled", "Check Turnstile at sign-up and sign-in", K_SWITCH},
};

static const struct field pusher[] = {
    {"MessagePusherAddress", "Message Pusher address", K_TEXT},
    {"MessagePusherToken", "Message Pusher token", K_TEXT},
};

static const struct group groups[] = {
    GROUP("operation", "Operation", operation),
    GROUP("system", "System", system_),
    GROUP("signin", "Sign-up and sign-in", signin),
    GROUP("smtp", "E-mail (SMTP)", smtp),
    GROUP("github", "GitHub sign-in", github),
    GROUP("lark", "Feishu/Lark sign-in", lark),
    GROUP("oidc", "OIDC sign-in", oidc),
    GROUP("wechat", "WeChat sign-in", wechat),
    GROUP("turnstile", "Cloudflare Turnstile", turnstile),
    GROUP("pusher", "Message Pusher", pusher),
};

static const char *const themes[] = {"default", "dark", "berry", "air"};

/* key's value as the form shows it: the built-in table of a ratio that has no row. */
static const char *current(struct req *r, const char *key)
{
    const char *v = options_get(req_app(r)->opts, r->a, key);
    for (int k = 0; k < RATIO__MAX && !*v; k++) {
        if (strcmp(key, ratio_kind_name(k)) != 0)
            continue;
        char *json = ratio_defaults_json(k);
        v = arena_strdup(r->a, json ? json : "");
        free(json);
    }
    return v;
}

void setting_admin_data(struct req *r, json_object *d, const char *group_id, json_object *form,
                        json_object *errors)
{
    json_object *gs = jnew_arr();
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
        /* The group just sent shows what was typed; the others the stored values. */
        json_object *typed = group_id && !strcmp(group_id, groups[g].id) ? form : NULL;
        json_object *jg = jnew_obj();
        json_object_object_add(jg, "id", json_object_new_string(groups[g].id));
        json_object_object_add(jg, "title", json_object_new_string(groups[g].title));
        json_object *fs = jnew_arr();
        for (size_t i = 0; i < groups[g].n; i++) {
            const struct field *f = &groups[g].fields[i];
            json_object *jf = jnew_obj();
            int secret = option_is_secret(f->key);
            const char *v =
                typed && f->kind != K_SWITCH ? console_field(typed, f->key) : current(r, f->key);
            json_object_object_add(jf, "key", json_object_new_string(f->key));
            json_object_object_add(jf, "label", json_object_new_string(f->label));
            if (secret) {
                json_object_object_add(jf, "is_secret", json_object_new_boolean(1));
                json_object_object_add(
                    jf, "secret_set",
                    json_object_new_boolean(*options_get(req_app(r)->opts, r->a, f->key) != 0));
            } else if (f->kind == K_SWITCH) {
                int on = typed ? !strcmp(console_field(typed, f->key), "true")
                               : options_bool(req_app(r)->opts, f->key);
                json_object_object_add(jf, "is_switch", json_object_new_boolean(1));
                json_object_object_add(jf, "checked", json_object_new_boolean(on));
            } else if (f->kind == K_AREA) {
                json_object_object_add(jf, "is_area", json_object_new_boolean(1));
                json_object_object_add(jf, "value", json_object_new_string(v));
            } else if (f->kind == K_THEME) {
                json_object *opts = jnew_arr();
                for (size_t t = 0; t < sizeof themes / sizeof *themes; t++) {
                    json_object *o = jnew_obj();
                    json_object_object_add(o, "name", json_object_new_string(themes[t]));
                    json_object_object_add(o, "selected",
                                           json_object_new_boolean(!strcmp(v, themes[t])));
                    json_object_array_add(opts, o);
                }
                json_object_object_add(jf, "is_select", json_object_new_boolean(1));
                json_object_object_add(jf, "options", opts);
            } else {
                json_object_object_add(jf, "is_text", json_object_new_boolean(1));
                json_object_object_add(jf, "is_number",
                                       json_object_new_boolean(f->kind == K_NUMBER));
                json_object_object_add(jf, "value", json_object_new_string(v));
            }
            const char *err = typed && errors ? jstr(errors, f->key) : NULL;
            if (err)
                json_object_object_add(jf, "field_error", json_object_new_string(err));
            json_object_array_add(fs, jf);
        }
        json_object_object_add(jg, "fields", fs);
        json_object_array_add(gs, jg);
    }
    json_object_object_add(d, "setting_groups", gs);
}

int p_setting_admin(struct req *r)
{
    json_object *d = jnew_obj();
    setting_admin_data(r, d, NULL, NULL, NULL);
    return console_page(r, 200, "setting_admin_page", "System settings", d);
}

/* The value the form sends for f, or NULL when the stored one stays (a field the form does
 * not carry, a secret left empty, a value unchanged). A switch is a checkbox followed by a
 * hidden "false" of the same name: the first value sent wins. */
static const char *sent_value(struct req *r, json_object *form, const struct field *f)
{
    if (!jget(form, f->key))
        return NULL;
    const char *v = console_field(form, f->key);
    if (f->kind == K_SWITCH)
        v = !strcmp(v, "true") ? "true" : "false";
    if (option_is_secret(f->key) && !*v)
        return NULL;
    return strcmp(v, current(r, f->key)) ? v : NULL;
}

int p_setting_option_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *gid = console_field(form, "group");
    const struct group *g = NULL;
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (!strcmp(gid, groups[i].id))
            g = &groups[i];
    const char *back = console_field(form, "back");
    if (strncmp(back, "/setting", 8) != 0)
        back = "/setting/admin";
    if (!g) {
        console_flash(r, "error", "Unknown settings group.");
        console_redirect(r, back);
        return 0;
    }
    /* Every value is checked before any is stored, so that a refused one changes nothing; the
     * switches come last, checked as they are stored: enabling one may need a value that this
     * same form stores first. */
    json_object *errors = jown(r->a, jnew_obj());
    int bad = 0;
    struct options *o = req_app(r)->opts;
    for (size_t i = 0; i < g->n; i++) {
        const char *v = g->fields[i].kind == K_SWITCH ? NULL : sent_value(r, form, &g->fields[i]);
        const char *why = v ? options_check(o, r->a, g->fields[i].key, v) : NULL;
        if (why) {
            json_object_object_add(errors, g->fields[i].key, json_object_new_string(why));
            bad = 1;
        }
    }
    for (int pass = 0; pass < 2 && !bad; pass++) {
        for (size_t i = 0; i < g->n; i++) {
            if ((g->fields[i].kind == K_SWITCH) != pass)
                continue;
            const char *v = sent_value(r, form, &g->fields[i]);
            const char *why = NULL;
            int rc = v ? option_save(r, g->fields[i].key, v, &why) : 1;
            if (rc < 0)
                return rc;
            if (rc == 0) {
                json_object_object_add(errors, g->fields[i].key, json_object_new_string(why));
                bad = 1;
            }
        }
    }
    if (bad) {
        json_object *d = jnew_obj();
        setting_admin_data(r, d, g->id, form, errors);
        json_object_object_add(
            d, "page_error",
            json_object_new_string("Some values were refused: see beside the fields."));
        return console_page(r, 422, "setting_admin_page", "System settings", d);
    }
    console_flash(r, "ok", arena_printf(r->a, "%s settings saved.", g->title));
    console_redirect(r, back);
    return 0;
}
