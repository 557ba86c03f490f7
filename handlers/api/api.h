/* Handlers of the management API, one function per route row in handlers/routes.c, one file
 * per /api group. */
#ifndef OA_API_H
#define OA_API_H

struct app;
struct relay_channel;
struct req;
struct user;

/* public.c */
int h_status(struct req *r);
int h_notice(struct req *r);
int h_about(struct req *r);
int h_home_page_content(struct req *r);

/* user.c */
int h_user_login(struct req *r);
int h_user_logout(struct req *r);
int h_user_self(struct req *r);
/* The caller's users row (r->user_id), strings in r's arena: 0, or an oa_err (OA_ERR_DB;
 * OA_ERR_NO_LOGIN when the user no longer exists). */
int user_of_caller(struct req *r, struct user *u);

/* token.c */
int h_token_list(struct req *r);
int h_token_search(struct req *r);
int h_token_get(struct req *r);
int h_token_create(struct req *r);
int h_token_update(struct req *r);
int h_token_delete(struct req *r);
/* A new relay key in One API's format into out: 48 characters, 16 random alphanumerics then
 * the hex of a UUIDv4 with the letters at even positions upper-cased; no '-' (the relay reads
 * what follows a '-' as a channel id). */
void token_key_new(char out[49]);

/* channel.c */
int h_channel_list(struct req *r);
int h_channel_search(struct req *r);
int h_channel_get(struct req *r);
int h_channel_create(struct req *r);
int h_channel_update(struct req *r);
int h_channel_delete(struct req *r);
int h_channel_delete_disabled(struct req *r);
/* The channel the path's :id names, read fresh from the database (keys included) for a
 * test or a balance query: 1 when found; 0 when an answer was written (an invalid id, or no
 * such channel: missing_msg); < 0 (an oa_err) on a database error. */
int channel_from_path(struct req *r, struct relay_channel *ch, const char *missing_msg);

/* channel_test.c */
int h_channel_test(struct req *r);     /* GET /api/channel/test/:id */
int h_channel_test_all(struct req *r); /* GET /api/channel/test */
/* Tests every channel now, in the calling thread, unless a batch test already runs in this
 * process (then returns 1 at once); 0 when done. Ends early once app->is_stopping is set.
 * What CHANNEL_TEST_FREQUENCY runs. */
int channel_test_all(struct app *app);

/* balance.c */
int h_channel_update_balance(struct req *r);     /* GET /api/channel/update_balance/:id */
int h_channel_update_balance_all(struct req *r); /* GET /api/channel/update_balance */

/* models.c */
int h_models(struct req *r);
int h_channel_models(struct req *r);
int h_user_available_models(struct req *r);

/* log.c: GET /api/log/ (admin), /api/log/self, their /stat and /search, DELETE /api/log/ */
int h_log_list(struct req *r);
int h_log_self(struct req *r);
int h_log_stat(struct req *r);
int h_log_self_stat(struct req *r);
int h_log_search(struct req *r);
int h_log_self_search(struct req *r);
int h_log_delete(struct req *r);

/* option.c: GET and PUT /api/option/ (root), GET /api/group/ (admin) */
int h_option_list(struct req *r);
int h_option_update(struct req *r);
int h_group_list(struct req *r);

#endif
