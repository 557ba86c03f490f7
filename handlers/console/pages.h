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
