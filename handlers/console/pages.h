/* Handlers of the console's pages, one function per route row in handlers/routes.c, one file
 * per page group. */
#ifndef OA_PAGES_H
#define OA_PAGES_H

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

#endif
