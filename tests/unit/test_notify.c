/* Unit tests for the low-quota reminder's rule in handlers/notify.c. */
#include "config.h"
#include "handlers/notify.h"
#include "tests/unit/tap.h"

int main(void)
{
    is_int(notify_quota_level(1050, 75, 1000), 1, "1050 - 75 crosses 1000: almost used up");
    is_int(notify_quota_level(1000, 1, 1000), 1, "exactly at the threshold before counts");
    is_int(notify_quota_level(999, 10, 1000), 0, "already below the threshold: no new mail");
    is_int(notify_quota_level(5000, 75, 1000), 0, "staying above the threshold: none");
    is_int(notify_quota_level(1075, 75, 1000), 0, "landing exactly on the threshold: none");
    is_int(notify_quota_level(75, 75, 1000), 2, "a reservation that takes everything: used up");
    is_int(notify_quota_level(50, 75, 10), 2, "... or more than everything");
    is_int(notify_quota_level(1050, 1050, 1000), 2, "used up wins over almost used up");
    is_int(notify_quota_level(1050, 0, 1000), 0, "no reservation, no mail");
    is_int(notify_quota_level(0, 0, 1000), 0, "... even at zero");
    return done_testing();
}
