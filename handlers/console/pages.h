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

#endif
