/* notify: messages to the root user through Message Pusher, else by e-mail, and quota
 * reminders to users, sent from a background thread so that no request waits on a mail
 * server; and the mails a request must send itself (codes, reset links). */
#ifndef OA_NOTIFY_H
#define OA_NOTIFY_H
#include <stdint.h>

#include <stddef.h>

struct app;
struct arena;
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

/* Mails subject and inner_html (wrapped in the shared template) to the ';'-separated
 * addresses of to now, in the calling thread, waiting at most NOTIFY_MAIL_NOW_S seconds.
 * 0, or -1 with a reason fit to show the user in err ("SMTP 服务器未配置" when no SMTPServer
 * is set; never a credential). Scratch memory from a. */
int notify_mail_now(struct app *app, struct arena *a, const char *to, const char *subject,
                    const char *inner_html, char *err, size_t errlen);
/* What a reservation of amount from a user who had before means: 2 when it leaves nothing
 * (before - amount <= 0), 1 when it crosses from >= threshold to below it, else 0 (also when
 * amount <= 0). Pure. */
int notify_quota_level(int64_t before, int64_t amount, int64_t threshold);
/* The relay reserved amount from user uid, whose quota was before: when notify_quota_level
 * says so, queues the "额度提醒" mail to the user's own address (looked up by the sender, so
 * the relay never waits; no address, no mail). */
void notify_quota_reserved(struct app *app, int64_t uid, int64_t before, int64_t amount);

#endif
