/* routes: the one table of routes, with each row's auth level and body kind. */
#include "config.h"
#include "handlers/api.h"
#include "handlers/app.h"

const struct route app_routes[] = {
    {"GET", "/api/status", h_status, AUTH_NONE},
    {"GET", "/api/notice", h_notice, AUTH_NONE},
    {"GET", "/api/about", h_about, AUTH_NONE},
    {"GET", "/api/home_page_content", h_home_page_content, AUTH_NONE},
    {"POST", "/api/user/login", h_user_login, AUTH_NONE | BODY_JSON},
    {"GET", "/api/user/logout", h_user_logout, AUTH_NONE},
    {"GET", "/api/user/self", h_user_self, AUTH_USER},
};

const unsigned app_n_routes = sizeof app_routes / sizeof app_routes[0];
