/* Handlers of the console's pages, one function per route row in handlers/routes.c, one file
 * per page group. */
#ifndef OA_PAGES_H
#define OA_PAGES_H

struct req;

/* page_auth.c: the public pages and signing in and out */
int p_home(struct req *r);        /* GET / */
int p_about(struct req *r);       /* GET /about */
int p_login(struct req *r);       /* GET /login */
int p_login_post(struct req *r);  /* POST /login */
int p_logout_post(struct req *r); /* POST /logout */

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

#endif
