/* The router's error renderer: each oa_err in One API's response shape for its path. */
#ifndef OA_ERRORS_H
#define OA_ERRORS_H

struct req;

/* Writes the answer for code on r: OpenAI's error body on relay paths (/v1, /dashboard),
 * the /api envelope elsewhere; a 404 or 405 in OpenAI's shape everywhere, as One API does. */
void errors_render(struct req *r, int code);

#endif
