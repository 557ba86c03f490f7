/* Handlers of the management API, one function per route row in handlers/routes.c. */
#ifndef OA_API_H
#define OA_API_H

struct req;

/* api_misc.c */
int h_status(struct req *r);
int h_notice(struct req *r);
int h_about(struct req *r);
int h_home_page_content(struct req *r);

/* api_user.c */
int h_user_login(struct req *r);
int h_user_logout(struct req *r);
int h_user_self(struct req *r);

/* api_token.c */
int h_token_list(struct req *r);
int h_token_search(struct req *r);
int h_token_get(struct req *r);
int h_token_create(struct req *r);
int h_token_update(struct req *r);
int h_token_delete(struct req *r);

/* api_channel.c */
int h_channel_list(struct req *r);
int h_channel_search(struct req *r);
int h_channel_get(struct req *r);
int h_channel_create(struct req *r);
int h_channel_update(struct req *r);
int h_channel_delete(struct req *r);
int h_channel_delete_disabled(struct req *r);
int h_channel_update_balance_all(struct req *r);

/* models.c */
int h_models(struct req *r);
int h_channel_models(struct req *r);
int h_user_available_models(struct req *r);

#endif
