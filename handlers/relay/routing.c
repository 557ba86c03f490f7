/* routing: the channels a relay request may use (from the channel cache when it is on), and
 * the pick among them: the highest priority tier first, weighted random inside it. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/relay/chcache.h"
#include "db/relay.h"
#include "fcgi/crypto.h"
#include "fcgi/request.h"
#include "providers/registry.h"

#include <stdint.h>

int relay_load_channel(struct req *r, int64_t id, struct relay_channel *out)
{
    struct chcache *cc = req_app(r)->chcache;
    if (cc && chcache_channel(cc, r->a, id, out))
        return 1;
    uint64_t gen = cc ? chcache_gen(cc) : 0;
    int rc = db_relay_channel(req_db(r), r->a, id, out);
    if (rc == 1 && cc)
        chcache_put_channel(cc, gen, out);
    return rc;
}

int relay_type_routable(int64_t type)
{
    const struct channel_type *ct =
        type >= 0 && type <= INT32_MAX ? channel_type_get((int)type) : NULL;
    return ct && ct->prov;
}

void relay_drop_unservable(struct relay_route *rt)
{
    int k = 0;
    for (int i = 0; i < rt->n_cands; i++)
        if (relay_type_routable(rt->cands[i].type))
            rt->cands[k++] = rt->cands[i];
    rt->n_cands = k;
}

int relay_load_candidates(struct req *r, const char *group, const char *model,
                          struct relay_route *rt)
{
    struct chcache *cc = req_app(r)->chcache;
    if (cc && chcache_candidates(cc, r->a, group, model, &rt->cands, &rt->n_cands)) {
        relay_drop_unservable(rt);
        return 0;
    }
    uint64_t gen = cc ? chcache_gen(cc) : 0;
    int rc = db_relay_candidates(req_db(r), r->a, group, model, &rt->cands, &rt->n_cands);
    if (rc == 0 && cc)
        chcache_put_candidates(cc, gen, group, model, rt->cands, rt->n_cands);
    if (rc == 0)
        relay_drop_unservable(rt);
    return rc;
}

static int was_tried(const struct relay_route *rt, int64_t id)
{
    for (int i = 0; i < rt->n_tried; i++)
        if (rt->tried[i] == id)
            return 1;
    return 0;
}

/* Weight 0 counts as 1, so that a tier of unweighted channels is picked evenly. */
static uint64_t weight_of(const struct relay_candidate *c)
{
    return c->weight > 0 ? (uint64_t)c->weight : 1;
}

int64_t relay_pick_channel(struct relay_route *rt)
{
    /* Past the last slot a tried channel could not be remembered, and would be tried again. */
    if (rt->n_tried >= RELAY_MAX_TRIED)
        return 0;
    int64_t top = 0;
    int found = 0;
    uint64_t total = 0;
    for (int i = 0; i < rt->n_cands; i++) {
        const struct relay_candidate *c = &rt->cands[i];
        if (was_tried(rt, c->channel_id))
            continue;
        if (!found || c->priority > top) {
            top = c->priority;
            found = 1;
        }
    }
    if (!found)
        return 0;
    for (int i = 0; i < rt->n_cands; i++) {
        const struct relay_candidate *c = &rt->cands[i];
        if (c->priority == top && !was_tried(rt, c->channel_id))
            total += weight_of(c);
    }
    uint64_t x = fast_random() % total;
    for (int i = 0; i < rt->n_cands; i++) {
        const struct relay_candidate *c = &rt->cands[i];
        if (c->priority != top || was_tried(rt, c->channel_id))
            continue;
        if (x < weight_of(c)) {
            rt->tried[rt->n_tried++] = c->channel_id;
            return c->channel_id;
        }
        x -= weight_of(c);
    }
    return 0;
}
