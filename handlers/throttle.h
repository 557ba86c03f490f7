/* Throttling: login attempts (what stops password guessing, from one address or against one
 * account, without letting anyone lock a user out from elsewhere), and One API's sliding
 * windows (per address, per relay key). In this process's memory. */
#ifndef OA_THROTTLE_H
#define OA_THROTTLE_H

struct req;
struct throttle;

/* Heap-owned; free with throttle_free (accepts NULL). */
struct throttle *throttle_new(void);
void throttle_free(struct throttle *t);
/* Before a password is checked for user name on request r (from r->client_ip): 0 to go on,
 * or OA_ERR_RATE_LIMIT with a Retry-After header added to r. Counts the attempt against the
 * address: One API's limit on its sign-in routes, 20 requests, then one a minute. */
int throttle_login_begin(struct throttle *t, struct req *r, const char *name);
/* After a failed check: counts a failure against the address and name together (10, then one
 * a minute), so guessing one account from one address stops sooner than the address's limit;
 * the same name from another address is not affected. */
void throttle_login_failed(struct throttle *t, struct req *r, const char *name);
/* Counts r in key's sliding window: at most limit requests per window seconds (0 = no
 * limit); refused requests are not counted. 0 to go on, or OA_ERR_LIMITED with a Retry-After
 * header (whole seconds until a request fits again) added to r. Keys of one kind start with
 * their own mark ("GA" + address...) so that kinds never share a window. */
int throttle_window(struct throttle *t, struct req *r, const char *key, unsigned limit,
                    double window);

#endif
