/* notify: the root user's alerts: a bounded queue, a sender thread, Message
 * Pusher over HTTP and e-mail over SMTP through libcurl. */
#include "config.h"
#include "handlers/notify.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/relay/upstream.h"
#include "db/db.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "providers/provider.h"

#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTIFY_QUEUE 64      /* messages waiting for the sender; more are dropped */
#define NOTIFY_TIMEOUT_S 20  /* one delivery attempt (pusher or mail), connection included */
#define NOTIFY_DRAIN_S 10    /* what shutdown gives the messages still queued, in all */
#define NOTIFY_MAIL_NOW_S 15 /* a mail a request waits for (a code, a reset link) */

/* One queued message; both strings on the heap. */
struct notice {
    char *subject; /* plain text */
    char *html;    /* inner HTML, before the mail template */
    int64_t uid;   /* mail this user (by e-mail only); 0 = root, Message Pusher first */
};

/* The notifier: its queue and its sender. */
struct notify {
    struct app *app;               /* options and database to read at send time */
    pthread_mutex_t mu;            /* guards everything below but curl */
    pthread_cond_t cv;             /* a message arrived, or stop */
    struct notice q[NOTIFY_QUEUE]; /* ring buffer */
    int head, len;                 /* first queued message, count */
    int is_stopping;               /* notify_free was called */
    struct timespec drain_until;   /* CLOCK_MONOTONIC deadline once stopping */
    int has_thread;                /* th runs */
    pthread_t th;                  /* the sender */
    void *curl;                    /* the sender's handle for Message Pusher */
};

/* ---------------------------------------------------------------- text helpers */

/* RFC 2047 B-encoded words for a header value. An encoded word may not exceed 75 characters,
 * so long text is split (never inside a UTF-8 sequence) over folded lines. */
static void put_encoded_words(struct strbuf *sb, const char *s)
{
    size_t n = strlen(s);
    int first = 1;
    while (n) {
        size_t take = n < 45 ? n : 45; /* 45 bytes -> 60 base64 chars + 12 of framing */
        while (take < n && take > 1 && ((unsigned char)s[take] & 0xC0) == 0x80)
            take--;
        if (!first)
            SB_LIT(sb, "\r\n ");
        SB_LIT(sb, "=?UTF-8?B?");
        b64_put(sb, s, take);
        SB_LIT(sb, "?=");
        s += take, n -= take;
        first = 0;
    }
}

/* The display name of From: as it is when it is plain words, quoted when it has specials,
 * encoded when it is not ASCII. */
static void put_display_name(struct strbuf *sb, const char *name)
{
    int is_ascii = 1, is_plain = 1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p >= 0x80 || *p < 0x20)
            is_ascii = 0;
        else if (!(isalnum(*p) || *p == ' ' || strchr("!#$%&'*+-/=?^_`{|}~", *p)))
            is_plain = 0;
    }
    if (!is_ascii) {
        put_encoded_words(sb, name);
    } else if (is_plain) {
        sb_puts(sb, name);
    } else {
        sb_putc(sb, '"');
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\')
                sb_putc(sb, '\\');
            sb_putc(sb, *p);
        }
        sb_putc(sb, '"');
    }
}

/* Date: in RFC 1123 form with a numeric zone, spelt in English whatever the locale. */
static void put_date(struct strbuf *sb)
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char zone[8];
    strftime(zone, sizeof zone, "%z", &tm);
    sb_printf(sb, "%s, %02d %s %d %02d:%02d:%02d %s", days[tm.tm_wday % 7], tm.tm_mday,
              months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/* One API's mail template: title, body, and the footer naming the system. */
static const char *wrap_html(struct arena *a, const char *title, const char *inner,
                             const char *system_name)
{
    struct strbuf sb;
    sb_init(&sb, a);
    SB_LIT(&sb, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\"></head>\n"
                "<body style=\"margin: 0; padding: 0; font-family: Arial, sans-serif; "
                "line-height: 1.6; color: #333;\">\n"
                "<div style=\"max-width: 600px; margin: 20px auto; padding: 20px;\">\n"
                "<h2 style=\"text-align: center; margin: 0 0 20px;\">");
    sb_html(&sb, title);
    SB_LIT(&sb, "</h2>\n<div style=\"color: #555;\">\n");
    sb_puts(&sb, inner);
    SB_LIT(&sb, "\n</div>\n<div style=\"margin-top: 30px; padding-top: 20px; border-top: 1px "
                "solid #eee; text-align: center; color: #888; font-size: 12px;\">\n"
                "<p>此邮件由系统自动发送，请勿直接回复</p>\n<p>");
    sb_html(&sb, system_name);
    SB_LIT(&sb, "</p>\n</div>\n</div>\n</body>\n</html>\n");
    return sb.p;
}

/* ---------------------------------------------------------------- Message Pusher */

/* POSTs the message to Message Pusher; 0 when it answered {"success":true}, else -1 with the
 * reason in why. */
static int push(struct notify *n, struct arena *a, const char *url, const char *token,
                const char *subject, const char *html, long timeout_s, char *why, size_t whylen)
{
    json_object *j = jown(a, jnew_obj());
    json_object_object_add(j, "title", json_object_new_string(subject));
    json_object_object_add(j, "description", json_object_new_string(html));
    json_object_object_add(j, "content", json_object_new_string(html));
    json_object_object_add(j, "url", json_object_new_string(""));
    json_object_object_add(j, "channel", json_object_new_string(""));
    json_object_object_add(j, "token", json_object_new_string(token));
    struct prov_request rq = {.url = url};
    rq.body = jdump(a, j, &rq.body_len);
    rq.headers[rq.n_headers++] = "Content-Type: application/json";
    struct upstream_answer ans;
    sb_init(&ans.body, a);
    if (!n->curl)
        n->curl = upstream_handle_new();
    char err[256] = "";
    /* An answer of a few bytes is expected: 1 MB is plenty. */
    if (upstream_fetch(n->curl, &rq, timeout_s, "", 1u << 20, NULL, NULL, &ans, err, sizeof err) !=
        UPSTREAM_OK) {
        snprintf(why, whylen, "%s", err);
        return -1;
    }
    json_object *r = jown(a, json_tokener_parse(ans.body.p)), *v = jget(r, "success");
    int ok = v && json_object_get_boolean(v);
    if (!ok) {
        const char *msg = (v = jget(r, "message")) ? json_object_get_string(v)
                                                   : "no \"success\":true in the answer";
        snprintf(why, whylen, "status %ld: %s", ans.status, msg);
    }
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- e-mail */

/* Root's e-mail address, read fresh so that a newly bound address counts; "" when none. */
static const char *root_email(struct app *app, struct arena *a)
{
    const char *email = "";
    struct db_conn *c = db_acquire(app->db);
    if (db_users_root_email(c, a, &email) < 0)
        LOG_WARN("cannot read the root user's e-mail address: %s", db_errmsg(c));
    db_release(c);
    return email;
}

/* The e-mail address of user uid, read at send time; "" when none (or on an error, logged). */
static const char *user_email(struct app *app, struct arena *a, int64_t uid)
{
    struct user u;
    struct db_conn *c = db_acquire(app->db);
    int rc = db_users_by_id(c, a, uid, &u);
    if (rc < 0)
        LOG_WARN("cannot read the e-mail address of user %lld: %s", (long long)uid, db_errmsg(c));
    db_release(c);
    return rc == 1 && u.email ? u.email : "";
}

/* What libcurl uploads after DATA. */
struct mail_src {
    const char *p;
    size_t len, off;
};

static size_t mail_read(char *buf, size_t sz, size_t nm, void *ud)
{
    struct mail_src *m = ud;
    size_t n = m->len - m->off;
    if (n > sz * nm)
        n = sz * nm;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    return n;
}

/* The next address of a ';'-separated list (SMTP recipients, as One API takes them), trimmed, in *s
 * and *len; 0 at the end. Advances *p. */
static int next_addr(const char **p, const char **s, size_t *len)
{
    while (**p) {
        size_t n = strcspn(*p, ";");
        const char *b = *p;
        *p += n;
        if (**p == ';')
            (*p)++;
        while (n && isspace((unsigned char)*b))
            b++, n--;
        while (n && isspace((unsigned char)b[n - 1]))
            n--;
        if (n) {
            *s = b;
            *len = n;
            return 1;
        }
    }
    return 0;
}

/* The message: One API's headers (To, From, Subject, Message-ID, Date), then the HTML in base64 so
 * that no line exceeds SMTP's limit and no server needs 8BITMIME. */
static void mail_text(struct strbuf *sb, const char *to_list, const char *from,
                      const char *system_name, const char *subject, const char *html)
{
    SB_LIT(sb, "To: ");
    const char *s;
    size_t len;
    int n_to = 0;
    for (const char *p = to_list; next_addr(&p, &s, &len);) {
        if (n_to++)
            SB_LIT(sb, ", ");
        sb_putn(sb, s, len);
    }
    SB_LIT(sb, "\r\nFrom: ");
    put_display_name(sb, system_name);
    sb_printf(sb, " <%s>\r\nSubject: ", from);
    put_encoded_words(sb, subject);
    unsigned char id[16];
    random_bytes(id, sizeof id);
    SB_LIT(sb, "\r\nMessage-ID: <");
    for (size_t i = 0; i < sizeof id; i++)
        sb_printf(sb, "%02x", id[i]);
    const char *at = strchr(from, '@');
    sb_printf(sb, "@%s>\r\nDate: ", at ? at + 1 : "");
    put_date(sb);
    SB_LIT(sb, "\r\nContent-Type: text/html; charset=UTF-8\r\nMIME-Version: 1.0\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n");
    const unsigned char *b = (const unsigned char *)html;
    for (size_t n = strlen(html), i = 0; i < n; i += 57) { /* 57 bytes = a 76-char line */
        b64_put(sb, b + i, n - i < 57 ? n - i : 57);
        SB_LIT(sb, "\r\n");
    }
}

/* Sends the message to the ';'-separated addresses of to through SMTPServer; 0, or -1 with
 * why (-2 when no SMTP server is configured at all). */
static int mail(struct app *app, struct arena *a, const char *to, const char *subject,
                const char *html, const char *system_name, long timeout_s, char *why, size_t whylen)
{
    struct options *o = app->opts;
    const char *server = options_get(o, a, "SMTPServer");
    if (!*server) {
        snprintf(why, whylen, "SMTP 服务器未配置");
        return -2;
    }
    long port = strtol(options_get(o, a, "SMTPPort"), NULL, 10);
    if (port <= 0 || port > 65535)
        port = 587;
    const char *account = options_get(o, a, "SMTPAccount");
    const char *password = options_get(o, a, "SMTPToken");
    const char *from = options_get(o, a, "SMTPFrom");
    if (!*from)
        from = account;
    if (strpbrk(from, "\r\n") || strpbrk(to, "\r\n")) {
        snprintf(why, whylen, "a line break in SMTPFrom or the recipient's address");
        return -1; /* it would end the header and start another */
    }

    struct strbuf msg;
    sb_init(&msg, a);
    mail_text(&msg, to, from, system_name, subject, html);
    struct mail_src src = {msg.p, msg.len, 0};
    struct curl_slist *rcpt = NULL;
    const char *addr;
    size_t len;
    for (const char *p = to; next_addr(&p, &addr, &len);)
        rcpt = upstream_slist_append(rcpt, arena_printf(a, "<%.*s>", (int)len, addr));
    int is_v6 = strchr(server, ':') && *server != '[';
    const char *url = arena_printf(a, "%s://%s%s%s:%ld", port == 465 ? "smtps" : "smtp",
                                   is_v6 ? "[" : "", server, is_v6 ? "]" : "", port);
    CURL *c = upstream_handle_new();
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, arena_printf(a, "<%s>", from));
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s < 10 ? timeout_s : 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    /* A password goes out only over TLS with a verified certificate: implicit TLS on 465,
     * STARTTLS required elsewhere. One API logs in over whatever the server offers and checks
     * no certificate on 465, so a machine in the middle could read SMTPToken;
     * SMTP_ALLOW_INSECURE=true brings that back for servers that need it
     * (docs/compatibility.md). Without credentials TLS is used when offered. */
    int has_login = *account || *password;
    int is_strict = has_login && !cfg_int(app->cfg, CFG_SMTP_ALLOW_INSECURE);
    if (port == 465) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, is_strict ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, is_strict ? 2L : 0L);
    } else {
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(is_strict ? CURLUSESSL_ALL : CURLUSESSL_TRY));
        if (!is_strict) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (has_login) {
        curl_easy_setopt(c, CURLOPT_USERNAME, account);
        curl_easy_setopt(c, CURLOPT_PASSWORD, password);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(rcpt);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "SMTP: %s", *errbuf ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the sender */

/* Delivers m: Message Pusher when configured; e-mail otherwise or when the
 * pusher refused it. */
static void deliver(struct notify *n, const struct notice *m, long timeout_s)
{
    struct options *o = n->app->opts;
    struct arena *a = arena_new(16 * 1024);
    const char *system_name = options_get(o, a, "SystemName");
    const char *html = wrap_html(a, m->subject, m->html, system_name);
    const char *addr = options_get(o, a, "MessagePusherAddress");
    char why[512] = "";
    if (m->uid > 0) {
        const char *to = user_email(n->app, a, m->uid);
        int rc =
            *to ? mail(n->app, a, to, m->subject, html, system_name, timeout_s, why, sizeof why)
                : 0;
        if (rc == -1)
            LOG_WARN("mail \"%s\" to user %lld not delivered: %s", m->subject, (long long)m->uid,
                     why);
        arena_free(a);
        return;
    }
    if (*addr) {
        if (push(n, a, addr, options_get(o, a, "MessagePusherToken"), m->subject, html, timeout_s,
                 why, sizeof why) == 0) {
            arena_free(a);
            return;
        }
        LOG_WARN("Message Pusher did not take the notification \"%s\" (%s): trying e-mail",
                 m->subject, why);
    }
    int has_smtp = *options_get(o, a, "SMTPServer") != '\0';
    const char *to = has_smtp ? root_email(n->app, a) : "";
    int rc;
    if (!has_smtp)
        rc = -2, snprintf(why, sizeof why, "no Message Pusher and no SMTPServer configured");
    else if (!*to)
        rc = -1, snprintf(why, sizeof why, "the root user has no e-mail address");
    else
        rc = mail(n->app, a, to, m->subject, html, system_name, timeout_s, why, sizeof why);
    if (rc == -2)
        LOG_INFO("notification \"%s\" not sent: %s", m->subject, why);
    else if (rc < 0)
        LOG_WARN("notification \"%s\" not delivered: %s", m->subject, why);
    arena_free(a);
}

/* Seconds a delivery may take now: the usual limit, or what is left of the drain once
 * stopping (0: no time left). Caller holds mu. */
static long time_left(const struct notify *n)
{
    if (!n->is_stopping)
        return NOTIFY_TIMEOUT_S;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (long)(n->drain_until.tv_sec - now.tv_sec);
    return left <= 0 ? 0 : left < NOTIFY_TIMEOUT_S ? left : NOTIFY_TIMEOUT_S;
}

/* Takes and delivers queued messages until the queue is empty (and, with wait, until stop).
 * Caller holds mu; it is released around each delivery. */
static void drain_locked(struct notify *n, int wait)
{
    for (;;) {
        while (wait && !n->len && !n->is_stopping)
            pthread_cond_wait(&n->cv, &n->mu);
        if (!n->len)
            return;
        struct notice m = n->q[n->head];
        n->head = (n->head + 1) % NOTIFY_QUEUE;
        n->len--;
        long timeout = time_left(n);
        pthread_mutex_unlock(&n->mu);
        if (timeout > 0)
            deliver(n, &m, timeout);
        else
            LOG_WARN("notification \"%s\" dropped: shutting down", m.subject);
        free(m.subject);
        free(m.html);
        pthread_mutex_lock(&n->mu);
    }
}

static void *notify_main(void *arg)
{
    struct notify *n = arg;
    pthread_mutex_lock(&n->mu);
    drain_locked(n, 1);
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

struct notify *notify_new(struct app *app, int is_threaded)
{
    struct notify *n = xcalloc(1, sizeof *n);
    n->app = app;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    if (is_threaded) {
        if (pthread_create(&n->th, NULL, notify_main, n) == 0)
            n->has_thread = 1;
        else
            LOG_WARN("no notification thread: alerts are sent when the process ends");
    }
    return n;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->is_stopping = 1;
    clock_gettime(CLOCK_MONOTONIC, &n->drain_until);
    n->drain_until.tv_sec += NOTIFY_DRAIN_S;
    pthread_cond_signal(&n->cv);
    if (!n->has_thread)
        drain_locked(n, 0);
    pthread_mutex_unlock(&n->mu);
    if (n->has_thread)
        pthread_join(n->th, NULL);
    upstream_handle_free(n->curl);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}

int notify_pending(struct notify *n)
{
    if (!n)
        return 0;
    pthread_mutex_lock(&n->mu);
    int len = n->len;
    pthread_mutex_unlock(&n->mu);
    return len;
}

/* Queues subject and html for root (uid 0) or user uid, taking ownership of html (heap). */
static void enqueue_to(struct app *app, int64_t uid, const char *subject, char *html)
{
    struct notify *n = app->notify;
    if (!n) {
        free(html);
        return;
    }
    pthread_mutex_lock(&n->mu);
    int is_full = n->len == NOTIFY_QUEUE, is_stopping = n->is_stopping;
    if (!is_full && !is_stopping) {
        n->q[(n->head + n->len) % NOTIFY_QUEUE] = (struct notice){xstrdup(subject), html, uid};
        n->len++;
        pthread_cond_signal(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
    if (is_full || is_stopping) {
        LOG_WARN("notification \"%s\" dropped: %s", subject,
                 is_full ? "the queue is full" : "shutting down");
        free(html);
    }
}

static void enqueue(struct app *app, const char *subject, char *html)
{
    enqueue_to(app, 0, subject, html);
}

void notify_root_text(struct app *app, const char *subject, const char *text)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    SB_LIT(&sb, "<p>");
    sb_html(&sb, text);
    SB_LIT(&sb, "</p>");
    enqueue(app, subject, sb_detach(&sb, NULL));
}

void notify_channel_disabled(struct app *app, int64_t id, const char *name, const char *reason)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    SB_LIT(&sb, "<p>您好！</p>\n<p>渠道「");
    sb_html(&sb, name);
    sb_printf(&sb,
              "」（#%lld）已被禁用。</p>\n<p>禁用原因：</p>\n"
              "<p style=\"background-color: #f8f8f8; padding: 10px; border-radius: 4px;\">",
              (long long)id);
    sb_html(&sb, reason);
    SB_LIT(&sb, "</p>");
    enqueue(app, "渠道状态变更提醒", sb_detach(&sb, NULL));
}

void notify_channel_enabled(struct app *app, int64_t id, const char *name)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    SB_LIT(&sb, "<p>您好！</p>\n<p>渠道「");
    sb_html(&sb, name);
    sb_printf(&sb, "」（#%lld）已被重新启用。</p>\n<p>您现在可以继续使用该渠道了。</p>",
              (long long)id);
    enqueue(app, "渠道状态变更提醒", sb_detach(&sb, NULL));
}

int notify_mail_now(struct app *app, struct arena *a, const char *to, const char *subject,
                    const char *inner_html, char *err, size_t errlen)
{
    const char *system_name = options_get(app->opts, a, "SystemName");
    const char *html = wrap_html(a, subject, inner_html, system_name);
    return mail(app, a, to, subject, html, system_name, NOTIFY_MAIL_NOW_S, err, errlen) < 0 ? -1
                                                                                            : 0;
}

int notify_quota_level(int64_t before, int64_t amount, int64_t threshold)
{
    if (amount <= 0)
        return 0;
    if (before - amount <= 0)
        return 2;
    return before >= threshold && before - amount < threshold ? 1 : 0;
}

void notify_quota_reserved(struct app *app, int64_t uid, int64_t before, int64_t amount)
{
    int level = notify_quota_level(before, amount,
                                   (int64_t)options_double(app->opts, "QuotaRemindThreshold"));
    if (!level || !app->notify)
        return;
    struct arena *a = arena_new(4096);
    const char *prompt = level == 2 ? "您的额度已用尽" : "您的额度即将用尽";
    const char *addr = options_get(app->opts, a, "ServerAddress");
    if (!*addr)
        addr = "http://localhost:3000";
    const char *link = arena_printf(a, "%s/topup", addr);
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(
        &sb,
        "<p>%s，当前剩余额度为 %lld，为了不影响您的使用，请及时充值。</p>\n<p>充值链接：<a href=\"",
        prompt, (long long)before);
    sb_html(&sb, link);
    SB_LIT(&sb, "\">");
    sb_html(&sb, link);
    SB_LIT(&sb, "</a></p>");
    arena_free(a);
    enqueue_to(app, uid, "额度提醒", sb_detach(&sb, NULL));
}
