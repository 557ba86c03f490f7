/* notify: messages to the root user through Message Pusher, else by e-mail, sent
 * from a background thread so that no request waits on a mail server. */
#ifndef OA_NOTIFY_H
#define OA_NOTIFY_H
#include <stdint.h>

struct app;
struct notify;

/* The notifier of app (app->notify). With is_threaded, a thread of its own sends messages as
 * they are queued; without (CGI: one request per process), they wait for notify_free, which
 * the app calls after the answer went out. Heap-owned; never NULL. */
struct notify *notify_new(struct app *app, int is_threaded);
/* Sends what is still queued, within NOTIFY_DRAIN_S seconds in all (later messages are
 * dropped with a WARN line), stops the thread and frees n. Accepts NULL. The app's options
 * and database must still be open. */
void notify_free(struct notify *n);
/* Messages queued and not yet taken by the sender. */
int notify_pending(struct notify *n);

/* Queues a message for root: subject is plain text, text the body, HTML-escaped into one
 * paragraph of the shared mail template when sent. Both are copied. Never blocks on the
 * network: when the queue is full the message is dropped with a WARN line. No-op when app has
 * no notifier. */
void notify_root_text(struct app *app, const char *subject, const char *text);
/* Channel id (name) was disabled automatically because of reason. */
void notify_channel_disabled(struct app *app, int64_t id, const char *name, const char *reason);
/* Channel id (name) was enabled again by a passing test. */
void notify_channel_enabled(struct app *app, int64_t id, const char *name);

#endif
