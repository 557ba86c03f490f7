/* routes: the one table of routes, with each row's auth level and body kind. */
#include "config.h"
#include "handlers/api.h"
#include "handlers/app.h"
#include "handlers/relay.h"

const struct route app_routes[] = {
    {"GET", "/api/status", h_status, AUTH_NONE},
    {"GET", "/api/notice", h_notice, AUTH_NONE},
    {"GET", "/api/about", h_about, AUTH_NONE},
    {"GET", "/api/home_page_content", h_home_page_content, AUTH_NONE},
    {"POST", "/api/user/login", h_user_login, AUTH_NONE | BODY_JSON},
    {"GET", "/api/user/logout", h_user_logout, AUTH_NONE},
    {"GET", "/api/user/self", h_user_self, AUTH_USER},
    {"GET", "/api/models", h_models, AUTH_USER},
    {"GET", "/api/user/available_models", h_user_available_models, AUTH_USER},
    {"GET", "/api/token", h_token_list, AUTH_USER},
    {"GET", "/api/token/search", h_token_search, AUTH_USER},
    {"GET", "/api/token/:id", h_token_get, AUTH_USER},
    {"POST", "/api/token", h_token_create, AUTH_USER | BODY_JSON},
    {"PUT", "/api/token", h_token_update, AUTH_USER | BODY_JSON},
    {"DELETE", "/api/token/:id", h_token_delete, AUTH_USER},
    /* First match wins: literal /api/channel/<word> rows go above the /api/channel/:id ones. */
    {"GET", "/api/channel", h_channel_list, AUTH_ADMIN},
    {"GET", "/api/channel/search", h_channel_search, AUTH_ADMIN},
    {"GET", "/api/channel/models", h_channel_models, AUTH_ADMIN},
    {"GET", "/api/channel/update_balance", h_channel_update_balance_all, AUTH_ADMIN},
    {"DELETE", "/api/channel/disabled", h_channel_delete_disabled, AUTH_ADMIN},
    {"GET", "/api/channel/:id", h_channel_get, AUTH_ADMIN},
    {"POST", "/api/channel", h_channel_create, AUTH_ADMIN | BODY_JSON},
    {"PUT", "/api/channel", h_channel_update, AUTH_ADMIN | BODY_JSON},
    {"DELETE", "/api/channel/:id", h_channel_delete, AUTH_ADMIN},
    /* The relay (spec 3.11, 3.12): relay keys, One API's OpenAI-style errors. */
    {"POST", "/v1/chat/completions", h_relay, AUTH_RELAY_TOKEN | STREAMS},
    {"POST", "/v1/completions", h_relay, AUTH_RELAY_TOKEN | STREAMS},
    {"POST", "/v1/embeddings", h_relay, AUTH_RELAY_TOKEN},
    {"POST", "/v1/engines/:model/embeddings", h_relay, AUTH_RELAY_TOKEN},
    {"POST", "/v1/moderations", h_relay, AUTH_RELAY_TOKEN},
    {"POST", "/v1/images/generations", h_relay, AUTH_RELAY_TOKEN},
    {"POST", "/v1/audio/speech", h_relay, AUTH_RELAY_TOKEN},
    {"POST", "/v1/audio/transcriptions", h_relay, AUTH_RELAY_TOKEN | BODY_FORM},
    {"POST", "/v1/audio/translations", h_relay, AUTH_RELAY_TOKEN | BODY_FORM},
    /* One API's routes with no implementation answer 501 before any channel is chosen
     * (spec 3.11 quirk). */
    {"POST", "/v1/edits", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/images/edits", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/images/variations", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/files", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/files", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/files/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"DELETE", "/v1/files/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/files/:id/content", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/fine_tuning/jobs", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/fine_tuning/jobs", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/fine_tuning/jobs/:id", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/fine_tuning/jobs/:id/cancel", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/fine_tuning/jobs/:id/events", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"DELETE", "/v1/models/:model", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/assistants", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/assistants", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"DELETE", "/v1/assistants/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"GET", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"POST", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
    {"DELETE", "/v1/threads/*", h_relay_not_implemented, AUTH_RELAY_TOKEN},
};

const unsigned app_n_routes = sizeof app_routes / sizeof app_routes[0];
