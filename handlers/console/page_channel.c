/* page_channel: the channels pages (admin): the list with its actions, the add and edit form;
 * every change goes through the same functions as /api/channel. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "db/channels.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"
#include "fcgi/strlist.h"
#include "fcgi/template.h"
#include "providers/catalogue.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#define AZURE_API_VERSION "2024-03-01-preview" /* what One API's form fills in when empty */

/* ---------------------------------------------------------------- shared bits */

static void put_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void put_bool(json_object *o, const char *k, int v)
{
    json_object_object_add(o, k, json_object_new_boolean(v));
}

/* "YYYY-MM-DD HH:MM" UTC, or "" for 0. */
static const char *fmt_time(struct req *r, int64_t t)
{
    if (t <= 0)
        return "";
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return arena_strdup(r->a, buf);
}

static const char *type_name(int type)
{
    const struct channel_type *ct = channel_type_get(type);
    return ct ? ct->name : "Unknown";
}

/* The list to go back to after an action: a local /channel address the form carried. */
static const char *back_to(json_object *form)
{
    const char *b = console_field(form, "back");
    return !strncmp(b, "/channel", 8) && (b[8] == '\0' || b[8] == '?') ? b : "/channel";
}

/* The id field of an action's form: 1 with it in *id, else 0 after a flash and a redirect. */
static int form_id(struct req *r, json_object *form, int64_t *id)
{
    if (parse_decimal(console_field(form, "id"), id) == 0 && *id > 0)
        return 1;
    console_flash(r, "error", "No such channel.");
    console_redirect(r, back_to(form));
    return 0;
}

/* ---------------------------------------------------------------- the list */

/* The API's channel object plus what the list shows. */
static json_object *row_json(struct req *r, const struct channel *ch)
{
    json_object *j = channel_json(ch, 0);
    put_str(j, "type_name", type_name((int)ch->type));
    const char *label = "enabled", *cls = "ok";
    if (ch->status == 2)
        label = "disabled manually", cls = "off";
    else if (ch->status == 3)
        label = "disabled automatically", cls = "off";
    else if (ch->status != 1)
        label = "unknown", cls = "off";
    put_str(j, "status_label", label);
    put_str(j, "status_class", cls);
    put_bool(j, "is_enabled", ch->status == 1);
    if (ch->balance_updated_time > 0) {
        put_str(j, "balance_text", arena_printf(r->a, "%.2f", ch->balance));
        put_str(j, "balance_time", fmt_time(r, ch->balance_updated_time));
    }
    const struct channel_type *ct = channel_type_get((int)ch->type);
    put_bool(j, "has_balance", ct && ct->balance);
    if (ch->test_time > 0) {
        put_str(j, "response_text", arena_printf(r->a, "%.2f s", (double)ch->response_time / 1000));
        put_str(j, "test_time_text", fmt_time(r, ch->test_time));
    }
    put_str(j, "used_text", console_quota(r, ch->used_quota));
    put_str(j, "group_text", ch->group);
    return j;
}

int p_channel_list(struct req *r)
{
    const char *kw = req_query(r, "keyword");
    kw = kw ? kw : "";
    int64_t offset = api_page_offset(r);
    struct channel *v;
    size_t n;
    int has_next;
    if (*kw) {
        /* The API's search has no pages: the page takes its slice of the matches. */
        if (db_channels_search(req_db(r), r->a, kw, api_keyword_id(kw), &v, &n) < 0)
            return OA_ERR_DB;
        size_t from = (size_t)offset < n ? (size_t)offset : n;
        v += from;
        n -= from;
    } else if (db_channels_list(req_db(r), r->a, offset, API_PAGE_SIZE + 1, &v, &n) < 0) {
        return OA_ERR_DB;
    }
    has_next = n > API_PAGE_SIZE;
    if (has_next)
        n = API_PAGE_SIZE;
    json_object *d = jnew_obj(), *rows = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(rows, row_json(r, &v[i]));
    json_object_object_add(d, "rows", rows);
    put_bool(d, "has_rows", n > 0);
    put_str(d, "keyword", kw);
    int64_t page = offset / API_PAGE_SIZE;
    struct strbuf kwq;
    sb_init(&kwq, r->a);
    if (*kw) {
        sb_puts(&kwq, "&keyword=");
        tpl_put_url(&kwq, kw);
    }
    const char *q = kwq.p ? kwq.p : "";
    put_str(d, "back", arena_printf(r->a, "/channel?p=%lld%s", (long long)page, q));
    if (page > 0)
        put_str(d, "prev_href", arena_printf(r->a, "/channel?p=%lld%s", (long long)page - 1, q));
    if (has_next)
        put_str(d, "next_href", arena_printf(r->a, "/channel?p=%lld%s", (long long)page + 1, q));
    json_object_object_add(d, "page_no", json_object_new_int64(page + 1));
    return console_page(r, 200, "channel", "Channels", d);
}

/* ---------------------------------------------------------------- the form */

/* The values the form shows and sends; strings in r's arena. */
struct form_vals {
    int64_t id; /* 0 for a new channel */
    int type;
    const char *name, *key, *base_url, *models, *model_mapping, *system_prompt, *other;
    const char *priority, *weight;
    const char *groups;                     /* comma list */
    const char *region, *ak, *sk, *user_id; /* config fields */
    const char *api_version, *library_id, *plugin, *vertex_project, *vertex_adc;
};

/* Which family of type-specific fields each type uses. */
static int is_azure(int t)
{
    return t == 3;
}
static int is_aws(int t)
{
    return t == 33;
}
static int is_vertex(int t)
{
    return t == 42;
}
static int uses_user_id(int t)
{
    return t == 34 || t == 37;
}
static int uses_api_version(int t)
{
    return t == 18 || t == 24;
}
static int uses_library(int t)
{
    return t == 21;
}
static int uses_plugin(int t)
{
    return t == 17;
}

/* Fills the config fields of v from a stored config JSON text. */
static void config_read(struct req *r, struct form_vals *v, const char *config)
{
    json_object *c = jown(r->a, jparse(config ? config : "", config ? strlen(config) : 0, 0, NULL));
    const char *s;
#define CFG_GET(field, name) v->field = (s = jstr(c, name)) ? s : ""
    CFG_GET(region, "region");
    CFG_GET(ak, "ak");
    CFG_GET(sk, "sk");
    CFG_GET(user_id, "user_id");
    CFG_GET(api_version, "api_version");
    CFG_GET(library_id, "library_id");
    CFG_GET(plugin, "plugin");
    CFG_GET(vertex_project, "vertex_ai_project_id");
    CFG_GET(vertex_adc, "vertex_ai_adc");
#undef CFG_GET
}

/* The config JSON of the fields the type uses, "{}" when none. */
static const char *config_write(struct req *r, const struct form_vals *v)
{
    json_object *c = jown(r->a, jnew_obj());
    int t = v->type;
#define CFG_PUT(cond, name, field)                                                                 \
    if ((cond) && *v->field)                                                                       \
    json_object_object_add(c, name, json_object_new_string(v->field))
    CFG_PUT(is_aws(t) || is_vertex(t), "region", region);
    CFG_PUT(is_aws(t), "ak", ak);
    CFG_PUT(is_aws(t), "sk", sk);
    CFG_PUT(uses_user_id(t), "user_id", user_id);
    CFG_PUT(uses_api_version(t), "api_version", api_version);
    CFG_PUT(uses_library(t), "library_id", library_id);
    CFG_PUT(uses_plugin(t), "plugin", plugin);
    CFG_PUT(is_vertex(t), "vertex_ai_project_id", vertex_project);
    CFG_PUT(is_vertex(t), "vertex_ai_adc", vertex_adc);
#undef CFG_PUT
    size_t n;
    return jdump(r->a, c, &n);
}

/* Renders the form with v and the errors (an object field -> message, may be NULL). */
static int form_page(struct req *r, int status, const struct form_vals *v, json_object *errors)
{
    json_object *d = jnew_obj();
    if (v->id > 0)
        json_object_object_add(d, "id", json_object_new_int64(v->id));
    put_bool(d, "is_edit", v->id > 0);
    put_str(d, "name", v->name);
    put_str(d, "key", v->key);
    put_str(d, "base_url", v->base_url);
    put_str(d, "models", v->models);
    put_str(d, "model_mapping", v->model_mapping);
    put_str(d, "system_prompt", v->system_prompt);
    put_str(d, "other", v->other);
    put_str(d, "priority", v->priority);
    put_str(d, "weight", v->weight);
#define PUT_CFG(k) put_str(d, #k, v->k)
    PUT_CFG(region);
    PUT_CFG(ak);
    PUT_CFG(sk);
    PUT_CFG(user_id);
    PUT_CFG(api_version);
    PUT_CFG(library_id);
    PUT_CFG(plugin);
    PUT_CFG(vertex_project);
    PUT_CFG(vertex_adc);
#undef PUT_CFG
    put_str(d, "azure_default", AZURE_API_VERSION);

    json_object *types = jnew_arr();
    for (int i = 0; i < channel_type_count(); i++) {
        const struct channel_type *ct = channel_type_at(i);
        if (!ct || ct->id == 0)
            continue;
        json_object *t = jnew_obj();
        json_object_object_add(t, "id", json_object_new_int(ct->id));
        put_str(t, "name",
                channel_type_servable(ct) ? ct->name
                                          : arena_printf(r->a, "%s (no adaptor)", ct->name));
        put_bool(t, "selected", ct->id == v->type);
        json_object_array_add(types, t);
    }
    if (v->type > 0 && !channel_type_get(v->type)) {
        /* An existing row of a type this build does not know keeps it when saved. */
        json_object *t = jnew_obj();
        json_object_object_add(t, "id", json_object_new_int(v->type));
        put_str(t, "name", arena_printf(r->a, "%d (unknown, no adaptor)", v->type));
        put_bool(t, "selected", 1);
        json_object_array_add(types, t);
    }
    json_object_object_add(d, "types", types);
    put_str(d, "type_name", type_name(v->type));

    /* The built-in models of the chosen type not in the list yet, to add with a tick. */
    json_object *builtin = jnew_arr();
    const char *const *names = catalogue_for_type(v->type);
    int k = 0;
    for (int i = 0; names && names[i]; i++) {
        if (strlist_has(v->models, names[i]))
            continue;
        json_object *m = jnew_obj();
        put_str(m, "field", arena_printf(r->a, "m_%d", k++));
        put_str(m, "name", names[i]);
        json_object_array_add(builtin, m);
    }
    json_object_object_add(d, "builtin", builtin);
    put_bool(d, "has_builtin", k > 0);

    /* The groups of GroupRatio, and any the channel has beyond them. */
    const char *ratio = options_get(req_app(r)->opts, r->a, "GroupRatio");
    json_object *ratios = jown(r->a, jparse(ratio, strlen(ratio), 0, NULL));
    json_object *groups = jnew_arr();
    k = 0;
    struct strbuf seen;
    sb_init(&seen, r->a);
    if (json_object_is_type(ratios, json_type_object)) {
        json_object_object_foreach(ratios, gname, gval)
        {
            (void)gval;
            json_object *g = jnew_obj();
            put_str(g, "field", arena_printf(r->a, "g_%d", k++));
            put_str(g, "name", gname);
            put_bool(g, "checked", strlist_has(v->groups, gname));
            json_object_array_add(groups, g);
            sb_printf(&seen, "%s%s", seen.len ? "," : "", gname);
        }
    }
    const char *cur = v->groups, *item;
    size_t len;
    while (strlist_next(&cur, &item, &len)) {
        const char *gname = arena_strndup(r->a, item, len);
        if (strlist_has(seen.p ? seen.p : "", gname))
            continue;
        json_object *g = jnew_obj();
        put_str(g, "field", arena_printf(r->a, "g_%d", k++));
        put_str(g, "name", gname);
        put_bool(g, "checked", 1);
        json_object_array_add(groups, g);
        sb_printf(&seen, "%s%s", seen.len ? "," : "", gname);
    }
    json_object_object_add(d, "groups", groups);
    if (errors) {
        json_object_object_add(d, "errors", json_object_get(errors));
        put_bool(d, "has_errors", 1);
    }
    return console_page(r, status, "channel_edit", v->id > 0 ? "Edit channel" : "Add channel", d);
}

int p_channel_new(struct req *r)
{
    struct form_vals v = {.type = 1, .priority = "0", .weight = "0", .groups = "default"};
    config_read(r, &v, NULL);
    return form_page(r, 200, &v, NULL);
}

int p_channel_edit(struct req *r)
{
    int64_t id;
    if (parse_decimal(req_query(r, "id"), &id) < 0 || id <= 0)
        return OA_ERR_NOT_FOUND;
    struct channel ch;
    int rc = db_channels_get(req_db(r), r->a, id, 0, &ch);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0)
        return OA_ERR_NOT_FOUND;
    struct form_vals v = {
        .id = ch.id,
        .type = (int)ch.type,
        .name = ch.name,
        .key = "", /* never shown: an empty field keeps the stored key */
        .base_url = ch.base_url,
        .models = ch.models,
        .model_mapping = ch.model_mapping,
        .system_prompt = ch.system_prompt,
        .other = ch.other,
        .priority = arena_printf(r->a, "%lld", (long long)(ch.has_priority ? ch.priority : 0)),
        .weight = arena_printf(r->a, "%lld", (long long)(ch.has_weight ? ch.weight : 0)),
        .groups = ch.group,
    };
    config_read(r, &v, ch.config);
    return form_page(r, 200, &v, NULL);
}

/* Appends the comma list src to sb, skipping empty and repeated names. */
static void add_models(struct strbuf *sb, struct arena *a, const char *src)
{
    const char *cur = src, *item;
    size_t len;
    while (strlist_next(&cur, &item, &len)) {
        const char *m = arena_strndup(a, item, len);
        if (!strlist_has(sb->p ? sb->p : "", m))
            sb_printf(sb, "%s%s", sb->len ? "," : "", m);
    }
}

/* Whether text is a model mapping One API accepts: empty, or a JSON object of strings. */
static int mapping_ok(struct req *r, const char *text)
{
    if (!*text)
        return 1;
    json_object *m = jown(r->a, jparse(text, strlen(text), 0, NULL));
    if (!json_object_is_type(m, json_type_object))
        return 0;
    json_object_object_foreach(m, k, val)
    {
        (void)k;
        if (!json_object_is_type(val, json_type_string))
            return 0;
    }
    return 1;
}

static void put_err(json_object **errors, const char *field, const char *msg)
{
    if (!*errors)
        *errors = jnew_obj();
    if (!jget(*errors, field))
        json_object_object_add(*errors, field, json_object_new_string(msg));
}

int p_channel_save(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    struct form_vals v = {0};
    json_object *errors = NULL;
    const char *id_s = console_field(form, "id");
    if (*id_s && (parse_decimal(id_s, &v.id) < 0 || v.id <= 0)) {
        console_flash(r, "error", "No such channel.");
        console_redirect(r, "/channel");
        return 0;
    }
    int64_t t = 0;
    /* A type outside the registry is left to channel_type_check: an existing row keeps it. */
    if (parse_decimal(console_field(form, "type"), &t) < 0 || t <= 0 || t > INT_MAX)
        put_err(&errors, "type", "Choose a type from the list."), t = 1;
    v.type = (int)t;
#define F(field, name) v.field = console_field(form, name)
    F(name, "name");
    F(key, "key");
    F(base_url, "base_url");
    F(model_mapping, "model_mapping");
    F(system_prompt, "system_prompt");
    F(other, "other");
    F(priority, "priority");
    F(weight, "weight");
    F(ak, "ak");
    F(sk, "sk");
    F(user_id, "user_id");
    F(api_version, "api_version");
    F(library_id, "library_id");
    F(plugin, "plugin");
    F(vertex_project, "vertex_project");
    F(vertex_adc, "vertex_adc");
#undef F
    v.region = console_field(form, is_vertex(v.type) ? "vertex_region" : "aws_region");

    /* The list typed, the built-in models ticked, and all of them on "fill". */
    struct strbuf models, groups;
    sb_init(&models, r->a);
    sb_init(&groups, r->a);
    add_models(&models, r->a, console_field(form, "models"));
    int fill = *console_field(form, "fill") != '\0';
    json_object_object_foreach(form, fname, fval)
    {
        const char *s = json_object_get_string(fval);
        if (!strncmp(fname, "m_", 2) && !fill)
            add_models(&models, r->a, s);
        else if (!strncmp(fname, "g_", 2) && *s)
            sb_printf(&groups, "%s%s", groups.len ? "," : "", s);
    }
    if (fill) {
        const char *const *names = catalogue_for_type(v.type);
        for (int i = 0; names && names[i]; i++)
            add_models(&models, r->a, names[i]);
    }
    v.models = models.p ? models.p : "";
    v.groups = groups.p ? groups.p : "";
    if (fill)
        return form_page(r, 200, &v, NULL);

    if (!*v.name)
        put_err(&errors, "name", "Enter a name.");
    if (!mapping_ok(r, v.model_mapping))
        put_err(&errors, "model_mapping",
                "The model mapping must be a JSON object of names, e.g. {\"gpt-4\": \"gpt-4o\"}.");
    if (!*v.groups)
        put_err(&errors, "groups", "Choose at least one group.");
    int64_t priority = 0, weight = 0;
    if (parse_decimal(*v.priority ? v.priority : "0", &priority) < 0)
        put_err(&errors, "priority", "The priority is a whole number.");
    if (parse_decimal(*v.weight ? v.weight : "0", &weight) < 0 || weight < 0)
        put_err(&errors, "weight", "The weight is a whole number, 0 or more.");

    struct channel ch = {.id = v.id,
                         .type = v.type,
                         .name = v.name,
                         .models = v.models,
                         .group = v.groups,
                         .model_mapping = v.model_mapping,
                         .system_prompt = v.system_prompt,
                         .priority = priority,
                         .has_priority = 1,
                         .weight = weight,
                         .has_weight = 1};
    /* One API's form stores the base URL without a trailing slash. */
    size_t bl = strlen(v.base_url);
    while (bl && v.base_url[bl - 1] == '/')
        bl--;
    ch.base_url = arena_strndup(r->a, v.base_url, bl);
    /* Only Azure's field writes "other": the column is a legacy setting of a few other
     * types, which the edit form leaves as stored. */
    ch.other = !is_azure(v.type) ? NULL : *v.other ? v.other : AZURE_API_VERSION;
    ch.config = config_write(r, &v);
    ch.key = v.key;
    /* AWS and Vertex AI take their credentials from the config: One API's form stores them
     * as the key too when none was typed. */
    if (!*v.key && v.id == 0 && is_aws(v.type) && *v.ak)
        ch.key = arena_printf(r->a, "%s|%s|%s", v.ak, v.sk, v.region);
    else if (!*v.key && v.id == 0 && is_vertex(v.type) && *v.vertex_project)
        ch.key = arena_printf(r->a, "%s|%s|%s", v.region, v.vertex_project, v.vertex_adc);
    const char *type_why = NULL;
    int type_rc = channel_type_check(r, v.id, v.type, &type_why);
    if (type_rc < 0)
        return type_rc;
    if (type_why)
        put_err(&errors, "type", type_why);
    if (errors) {
        jown(r->a, errors);
        return form_page(r, 422, &v, errors);
    }

    if (v.id == 0) {
        const char *why = NULL;
        int rc = channel_create(r, &ch, &why);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            put_err(&errors, "key", arena_printf(r->a, "%s: enter at least one key.", why));
            jown(r->a, errors);
            return form_page(r, 422, &v, errors);
        }
        console_flash(r, "ok",
                      rc == 1 ? "Channel added."
                              : arena_printf(r->a, "%d channels added, one per key.", rc));
        console_redirect(r, "/channel");
        return 0;
    }
    unsigned mask = CH_TYPE | CH_KEY | CH_NAME | CH_WEIGHT | CH_BASE_URL | CH_OTHER | CH_MODELS |
                    CH_GROUP | CH_MODEL_MAPPING | CH_PRIORITY | CH_CONFIG | CH_SYSTEM_PROMPT;
    if (!ch.other)
        mask &= ~(unsigned)CH_OTHER;
    int rc = channel_update(r, &ch, mask);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error", "No such channel.");
    else
        console_flash(r, "ok", arena_printf(r->a, "Channel #%lld saved.", (long long)v.id));
    console_redirect(r, "/channel");
    return 0;
}

/* ---------------------------------------------------------------- row and toolbar actions */

int p_channel_status(struct req *r)
{
    json_object *form;
    int64_t id;
    if (!console_form(r, &form))
        return 0;
    if (!form_id(r, form, &id))
        return 0;
    int enable = !strcmp(console_field(form, "status"), "1");
    struct channel ch = {.id = id, .status = enable ? 1 : 2};
    int rc = channel_update(r, &ch, CH_STATUS);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error", "No such channel.");
    else
        console_flash(r, "ok",
                      arena_printf(r->a, "Channel #%lld %s.", (long long)id,
                                   enable ? "enabled" : "disabled"));
    console_redirect(r, back_to(form));
    return 0;
}

int p_channel_delete(struct req *r)
{
    json_object *form;
    int64_t id;
    if (!console_form(r, &form))
        return 0;
    if (!form_id(r, form, &id))
        return 0;
    int rc = channel_delete(r, id);
    if (rc < 0)
        return rc;
    console_flash(r, "ok", arena_printf(r->a, "Channel #%lld deleted.", (long long)id));
    console_redirect(r, back_to(form));
    return 0;
}

int p_channel_test(struct req *r)
{
    json_object *form;
    int64_t id;
    if (!console_form(r, &form))
        return 0;
    if (!form_id(r, form, &id))
        return 0;
    int ok = 0;
    double seconds = 0;
    const char *message = "";
    int rc = channel_test_one(r, id, NULL, &ok, &seconds, &message);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error", "No such channel.");
    else if (ok)
        console_flash(
            r, "ok",
            arena_printf(r->a, "Channel #%lld passed the test in %.2f s.", (long long)id, seconds));
    else
        console_flash(
            r, "error",
            arena_printf(r->a, "Channel #%lld failed the test: %s", (long long)id, message));
    console_redirect(r, back_to(form));
    return 0;
}

int p_channel_test_all(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int rc = channel_test_start(req_app(r), 0);
    if (rc < 0)
        return rc;
    if (rc == 1)
        console_flash(r, "error", "A test of every channel is already running.");
    else
        console_flash(r, "ok",
                      "Testing every channel in the background: reload this page to see the "
                      "response times.");
    console_redirect(r, back_to(form));
    return 0;
}

int p_channel_delete_disabled(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t n = channel_delete_disabled(r);
    if (n < 0)
        return (int)n;
    console_flash(r, "ok", arena_printf(r->a, "%lld disabled channels deleted.", (long long)n));
    console_redirect(r, "/channel");
    return 0;
}

int p_channel_balance(struct req *r)
{
    json_object *form;
    int64_t id;
    if (!console_form(r, &form))
        return 0;
    if (!form_id(r, form, &id))
        return 0;
    double balance = 0;
    const char *why = NULL;
    int rc = channel_balance_update(r, id, &balance, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error",
                      arena_printf(r->a, "Channel #%lld: balance not updated: %s", (long long)id,
                                   why ? why : ""));
    else
        console_flash(r, "ok",
                      arena_printf(r->a, "Channel #%lld: balance %.2f.", (long long)id, balance));
    console_redirect(r, back_to(form));
    return 0;
}

int p_channel_balance_all(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    /* The API's "update all" does nothing (as One API's); the page asks each channel whose
     * type has a balance API, one after the other, through the same query as one row's. */
    int64_t *ids;
    size_t n;
    if (db_channels_ids(req_db(r), r->a, &ids, &n) < 0)
        return OA_ERR_DB;
    int done = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        struct channel ch;
        int rc = db_channels_get(req_db(r), r->a, ids[i], 0, &ch);
        if (rc < 0)
            return OA_ERR_DB;
        const struct channel_type *ct = rc ? channel_type_get((int)ch.type) : NULL;
        if (!ct || !ct->balance)
            continue;
        double balance;
        const char *why;
        rc = channel_balance_update(r, ids[i], &balance, &why);
        if (rc < 0)
            return rc;
        if (rc)
            done++;
        else
            failed++;
    }
    console_flash(r, failed ? "error" : "ok",
                  arena_printf(r->a, "Balances updated: %d; failed: %d.", done, failed));
    console_redirect(r, back_to(form));
    return 0;
}
