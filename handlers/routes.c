/* routes: the one table of routes, with each row's auth level and body kind. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "providers/provider.h"

const struct route app_routes[] = {
    {"GET", "/api/status", h_status, AUTH_NONE, 0},
    {"GET", "/api/notice", h_notice, AUTH_NONE, 0},
    {"GET", "/api/about", h_about, AUTH_NONE, 0},
    {"GET", "/api/home_page_content", h_home_page_content, AUTH_NONE, 0},
    {"POST", "/api/user/login", h_user_login, AUTH_NONE | BODY_JSON | LIMIT_CRITICAL, 0},
    {"GET", "/api/user/logout", h_user_logout, AUTH_NONE, 0},
    {"GET", "/api/user/self", h_user_self, AUTH_USER, 0},
    {"GET", "/api/models", h_models, AUTH_USER, 0},
    {"GET", "/api/user/available_models", h_user_available_models, AUTH_USER, 0},
    {"GET", "/api/token", h_token_list, AUTH_USER, 0},
    {"GET", "/api/token/search", h_token_search, AUTH_USER, 0},
    {"GET", "/api/token/:id", h_token_get, AUTH_USER, 0},
    {"POST", "/api/token", h_token_create, AUTH_USER | BODY_JSON, 0},
    {"PUT", "/api/token", h_token_update, AUTH_USER | BODY_JSON, 0},
    {"DELETE", "/api/token/:id", h_token_delete, AUTH_USER, 0},
    /* First match wins: literal /api/channel/<word> rows go above the /api/channel/:id ones. */
    {"GET", "/api/channel", h_channel_list, AUTH_ADMIN, 0},
    {"GET", "/api/channel/search", h_channel_search, AUTH_ADMIN, 0},
    {"GET", "/api/channel/models", h_channel_models, AUTH_ADMIN, 0},
    {"GET", "/api/channel/update_balance", h_channel_update_balance_all, AUTH_ADMIN, 0},
    {"DELETE", "/api/channel/disabled", h_channel_delete_disabled, AUTH_ADMIN, 0},
    {"GET", "/api/channel/test", h_channel_test_all, AUTH_ADMIN, 0},
    {"GET", "/api/channel/test/:id", h_channel_test, AUTH_ADMIN, 0},
    {"GET", "/api/channel/update_balance/:id", h_channel_update_balance, AUTH_ADMIN, 0},
    {"GET", "/api/channel/:id", h_channel_get, AUTH_ADMIN, 0},
    {"POST", "/api/channel", h_channel_create, AUTH_ADMIN | BODY_JSON, 0},
    {"PUT", "/api/channel", h_channel_update, AUTH_ADMIN | BODY_JSON, 0},
    {"DELETE", "/api/channel/:id", h_channel_delete, AUTH_ADMIN, 0},
    /* The relay: relay keys, One API's OpenAI-style errors; a row's last value is the relay
     * mode h_relay serves. */
    {"GET", "/v1/models", h_v1_models, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/models/:model", h_v1_model, AUTH_RELAY_TOKEN, 0},
    {"GET", "/dashboard/billing/subscription", h_billing_subscription, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/dashboard/billing/subscription", h_billing_subscription, AUTH_RELAY_TOKEN, 0},
    {"GET", "/dashboard/billing/usage", h_billing_usage, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/dashboard/billing/usage", h_billing_usage, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/chat/completions", h_relay, AUTH_RELAY_TOKEN, RELAY_CHAT},
    {"POST", "/v1/completions", h_relay, AUTH_RELAY_TOKEN, RELAY_COMPLETIONS},
    {"POST", "/v1/embeddings", h_relay, AUTH_RELAY_TOKEN, RELAY_EMBEDDINGS},
    {"POST", "/v1/engines/:model/embeddings", h_relay, AUTH_RELAY_TOKEN, RELAY_EMBEDDINGS},
    {"POST", "/v1/moderations", h_relay, AUTH_RELAY_TOKEN, RELAY_MODERATIONS},
    {"POST", "/v1/images/generations", h_relay, AUTH_RELAY_TOKEN, RELAY_IMAGES},
    {"POST", "/v1/audio/speech", h_relay, AUTH_RELAY_TOKEN, RELAY_SPEECH},
    {"POST", "/v1/audio/transcriptions", h_relay, AUTH_RELAY_TOKEN | BODY_FORM,
     RELAY_TRANSCRIPTION},
    {"POST", "/v1/audio/translations", h_relay, AUTH_RELAY_TOKEN | BODY_FORM, RELAY_TRANSLATION},
    /* One API's routes with no implementation answer 501 before any channel is chosen (One
     * API answers 503 from its distributor first: docs/compatibility.md). */
    {"POST", "/v1/edits", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/images/edits", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/images/variations", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/files", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/files", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/files/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"DELETE", "/v1/files/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/files/:id/content", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/fine_tuning/jobs", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/fine_tuning/jobs", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/fine_tuning/jobs/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/fine_tuning/jobs/:id/cancel", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/fine_tuning/jobs/:id/events", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"DELETE", "/v1/models/:model", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/assistants", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/assistants", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"DELETE", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"GET", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"POST", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
    {"DELETE", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN, 0},
};

const unsigned app_n_routes = sizeof app_routes / sizeof app_routes[0];
