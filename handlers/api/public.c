/* public: the routes anyone may read: status, notice, about and the home page content. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "fcgi/json.h"
#include "handlers/options.h"
#include "handlers/respond.h"

#include <json-c/json.h>

/* /api/status fields that are plain string options: {JSON field, option key}. */
static const char *const status_strings[][2] = {
    {"github_client_id", "GitHubClientId"},
    {"lark_client_id", "LarkClientId"},
    {"system_name", "SystemName"},
    {"logo", "Logo"},
    {"footer_html", "Footer"},
    {"wechat_qrcode", "WeChatAccountQRCodeImageURL"},
    {"server_address", "ServerAddress"},
    {"turnstile_site_key", "TurnstileSiteKey"},
    {"top_up_link", "TopUpLink"},
    {"chat_link", "ChatLink"},
    {"oidc_client_id", "OidcClientId"},
    {"oidc_well_known", "OidcWellKnown"},
    {"oidc_authorization_endpoint", "OidcAuthorizationEndpoint"},
    {"oidc_token_endpoint", "OidcTokenEndpoint"},
    {"oidc_userinfo_endpoint", "OidcUserinfoEndpoint"},
};

static const char *const status_bools[][2] = {
    {"email_verification", "EmailVerificationEnabled"},
    {"github_oauth", "GitHubOAuthEnabled"},
    {"wechat_login", "WeChatAuthEnabled"},
    {"turnstile_check", "TurnstileCheckEnabled"},
    {"display_in_currency", "DisplayInCurrencyEnabled"},
    {"oidc", "OidcEnabled"},
};

int h_status(struct req *r)
{
    struct app *app = req_app(r);
    json_object *d = jnew_obj();
    json_object_object_add(d, "version", json_object_new_string("v" PACKAGE_VERSION));
    json_object_object_add(d, "start_time", json_object_new_int64(app->start_time));
    for (size_t i = 0; i < sizeof status_strings / sizeof *status_strings; i++)
        json_object_object_add(
            d, status_strings[i][0],
            json_object_new_string(options_get(app->opts, r->a, status_strings[i][1])));
    for (size_t i = 0; i < sizeof status_bools / sizeof *status_bools; i++)
        json_object_object_add(
            d, status_bools[i][0],
            json_object_new_boolean(options_bool(app->opts, status_bools[i][1])));
    /* Go prints an integral float64 without a fraction: keep 500000, not 500000.0. */
    double qpu = options_double(app->opts, "QuotaPerUnit");
    json_object_object_add(d, "quota_per_unit",
                           qpu == (double)(long long)qpu ? json_object_new_int64((long long)qpu)
                                                         : json_object_new_double(qpu));
    api_ok(r, d);
    return 0;
}

static int h_option_string(struct req *r, const char *key)
{
    api_ok(r, json_object_new_string(options_get(req_app(r)->opts, r->a, key)));
    return 0;
}

int h_notice(struct req *r)
{
    return h_option_string(r, "Notice");
}

int h_about(struct req *r)
{
    return h_option_string(r, "About");
}

int h_home_page_content(struct req *r)
{
    return h_option_string(r, "HomePageContent");
}
