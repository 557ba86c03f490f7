/* Handlers of the console's pages, one function per route row in handlers/routes.c, one file
 * per page group. */
#ifndef OA_PAGES_H
#define OA_PAGES_H

struct json_object;
struct req;

/* page_auth.c: the public pages and signing in and out */
int p_home(struct req *r);              /* GET / */
int p_about(struct req *r);             /* GET /about */
int p_login(struct req *r);             /* GET /login */
int p_login_post(struct req *r);        /* POST /login */
int p_login_wechat_post(struct req *r); /* POST /login/wechat: the WeChat Server's code */
int p_logout_post(struct req *r);       /* POST /logout */

/* page_signup.c: signing up, password reset, the OAuth round trip's pages, the chat page */
int p_register(struct req *r);           /* GET /register */
int p_register_post(struct req *r);      /* POST /register */
int p_register_code_post(struct req *r); /* POST /register/code: mails the code */
int p_reset(struct req *r);              /* GET /reset */
int p_reset_post(struct req *r);         /* POST /reset: mails the link */
int p_user_reset(struct req *r);         /* GET /user/reset: the mailed link */
int p_user_reset_post(struct req *r);    /* POST /user/reset: shows the new password */
int p_oauth_github_start(struct req *r); /* GET /oauth/github/start */
int p_oauth_lark_start(struct req *r);   /* GET /oauth/lark/start */
int p_oauth_github(struct req *r);       /* GET /oauth/github: GitHub sends the browser back */
int p_oauth_lark(struct req *r);         /* GET /oauth/lark: Feishu sends the browser back */
int p_chat(struct req *r);               /* GET /chat: ChatLink in a frame */

/* page_user.c: a member's own pages (AUTH_USER) */
int p_dashboard(struct req *r);            /* GET /dashboard */
int p_token_list(struct req *r);           /* GET /token */
int p_token_new(struct req *r);            /* GET /token/new */
int p_token_edit(struct req *r);           /* GET /token/edit?id= */
int p_token_save(struct req *r);           /* POST /token/save */
int p_token_status(struct req *r);         /* POST /token/status */
int p_token_delete(struct req *r);         /* POST /token/delete */
int p_topup(struct req *r);                /* GET /topup */
int p_topup_post(struct req *r);           /* POST /topup */
int p_setting(struct req *r);              /* GET /setting */
int p_setting_profile(struct req *r);      /* POST /setting/profile */
int p_setting_password(struct req *r);     /* POST /setting/password */
int p_setting_access_token(struct req *r); /* POST /setting/access_token */
int p_setting_delete(struct req *r);       /* POST /setting/delete */
/* page_log.c */
int p_log(struct req *r); /* GET /log: everyone's logs for admins, else the caller's */

/* page_users.c: user management (admins) */
int p_users(struct req *r);          /* GET /user */
int p_users_manage(struct req *r);   /* POST /user/manage */
int p_user_new(struct req *r);       /* GET /user/new */
int p_user_new_post(struct req *r);  /* POST /user/new */
int p_user_edit(struct req *r);      /* GET /user/edit?id= */
int p_user_edit_post(struct req *r); /* POST /user/edit */

/* page_redemption.c: redemption codes (admins) */
int p_redemption(struct req *r);               /* GET /redemption */
int p_redemption_new_post(struct req *r);      /* POST /redemption/new */
int p_redemption_download_post(struct req *r); /* POST /redemption/download */
int p_redemption_manage_post(struct req *r);   /* POST /redemption/manage */

/* page_setting_admin.c: root's settings (the partial setting_admin.html) */
int p_setting_admin(struct req *r);       /* GET /setting/admin */
int p_setting_option_post(struct req *r); /* POST /setting/option */
/* Adds what setting_admin.html shows to d: "setting_groups", each with its options (secrets
 * never, only whether they are set). group_id's fields show form's values and the messages
 * of errors (an object key -> message); pass NULLs for the stored values. */
void setting_admin_data(struct req *r, struct json_object *d, const char *group_id,
                        struct json_object *form, struct json_object *errors);
/* page_channel.c: channels (admin) */
int p_channel_list(struct req *r);            /* GET /channel */
int p_channel_new(struct req *r);             /* GET /channel/new */
int p_channel_edit(struct req *r);            /* GET /channel/edit?id= */
int p_channel_save(struct req *r);            /* POST /channel/save */
int p_channel_status(struct req *r);          /* POST /channel/status */
int p_channel_delete(struct req *r);          /* POST /channel/delete */
int p_channel_test(struct req *r);            /* POST /channel/test */
int p_channel_test_all(struct req *r);        /* POST /channel/test_all */
int p_channel_delete_disabled(struct req *r); /* POST /channel/delete_disabled */
int p_channel_balance(struct req *r);         /* POST /channel/balance */
int p_channel_balance_all(struct req *r);     /* POST /channel/balance_all */

#endif
