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

#endif
