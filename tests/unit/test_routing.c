/* Unit tests for handlers/relay/routing.c: the order channels are tried in. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "db/relay.h"
#include "providers/registry.h"
#include "tests/unit/tap.h"

#include <string.h>

int main(void)
{
    /* 100 channels: 10 at priority 5, 90 at priority 0 with weights 0..3. */
    struct relay_candidate cands[100];
    for (int i = 0; i < 100; i++)
        cands[i] = (struct relay_candidate){
            .channel_id = i + 1, .priority = i < 10 ? 5 : 0, .weight = i % 4};
    struct relay_route rt = {.cands = cands, .n_cands = 100};
    int seen[101] = {0}, dup = 0, order_ok = 1, n = 0;
    int64_t id;
    while ((id = relay_pick_channel(&rt)) != 0) {
        if (seen[id]++)
            dup++;
        if (n < 10 && id > 10)
            order_ok = 0; /* a lower tier before the top one was used up */
        n++;
    }
    ok(order_ok, "the top tier's 10 channels come first");
    is_int(dup, 0, "no channel is picked twice");
    is_int(n, RELAY_MAX_TRIED, "picking stops after %d channels, the most one request tries",
           RELAY_MAX_TRIED);
    is_int(rt.n_tried, RELAY_MAX_TRIED, "and each pick was recorded");

    /* A tier of one weight-0 channel and one of weight 3: both get picked over many rounds. */
    struct relay_candidate two[2] = {{.channel_id = 1, .weight = 0},
                                     {.channel_id = 2, .weight = 3}};
    int first[3] = {0};
    for (int round = 0; round < 400; round++) {
        struct relay_route r2 = {.cands = two, .n_cands = 2};
        first[relay_pick_channel(&r2)]++;
    }
    ok(first[1] > 40 && first[2] > first[1],
       "weights count and weight 0 counts as 1 (first picks: %d and %d of 400)", first[1],
       first[2]);

    /* Types without an adaptor (the first such row of the registry, and an unknown id) are
     * never candidates. */
    int64_t none = 0;
    for (int i = 0; i < channel_type_count() && !none; i++)
        if (!channel_type_at(i)->prov)
            none = channel_type_at(i)->id;
    ok(none > 0, "the registry has a type without an adaptor (%lld)", (long long)none);
    struct relay_candidate mixed[4] = {{.channel_id = 1, .priority = 9, .type = none},
                                       {.channel_id = 2, .priority = 0, .type = 1},
                                       {.channel_id = 3, .priority = 9, .type = 999},
                                       {.channel_id = 4, .priority = 0, .type = 30}};
    struct relay_route r3 = {.cands = mixed, .n_cands = 4};
    relay_drop_unservable(&r3);
    is_int(r3.n_cands, 2, "channels of types without an adaptor are dropped");
    ok(r3.cands[0].channel_id == 2 && r3.cands[1].channel_id == 4,
       "the servable ones stay, in order (%lld, %lld)", (long long)r3.cands[0].channel_id,
       (long long)r3.cands[1].channel_id);
    int64_t picked = relay_pick_channel(&r3);
    ok(picked == 2 || picked == 4, "the pick falls to a lower tier that can serve (%lld)",
       (long long)picked);
    return done_testing();
}
