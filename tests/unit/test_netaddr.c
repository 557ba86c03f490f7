/* Unit tests for fcgi/netaddr.c: CIDR lists for token subnets. */
#include "config.h"
#include "fcgi/netaddr.h"
#include "tests/unit/tap.h"

int main(void)
{
    char err[128];
    ok(cidr_list_valid("10.0.0.0/8, 192.168.0.0/16", err, sizeof err), "IPv4 list is valid");
    ok(cidr_list_valid("2001:db8::/32, 127.0.0.1/32", err, sizeof err), "IPv6 and a /32");
    ok(!cidr_list_valid("10.0.0.0/8, 127.0.0.1", err, sizeof err),
       "a plain address is not a CIDR block (as Go's ParseCIDR)");
    is_str(err, "invalid CIDR address: 127.0.0.1", "the message names the entry");
    ok(!cidr_list_valid("10.0.0.0/33", err, sizeof err), "prefix too long: %s", err);
    ok(!cidr_list_valid("10.0.0.0/8,,1.2.3.4", err, sizeof err), "empty entry refused");
    ok(!cidr_list_valid("example.com", err, sizeof err), "a name is refused: %s", err);
    ok(ip_in_cidr_list("10.1.2.3", "10.0.0.0/8"), "inside /8");
    ok(!ip_in_cidr_list("11.1.2.3", "10.0.0.0/8"), "outside /8");
    ok(ip_in_cidr_list("192.168.1.77", " 10.0.0.0/8 , 192.168.1.64/26"), "second entry, /26");
    ok(!ip_in_cidr_list("192.168.1.128", "192.168.1.64/26"), "just past a /26");
    ok(ip_in_cidr_list("::ffff:10.0.0.1", "10.0.0.0/8"), "IPv4-mapped IPv6 client");
    ok(ip_in_cidr_list("2001:db8:1::5", "2001:db8::/32"), "IPv6 inside /32");
    ok(!ip_in_cidr_list("2001:db9::5", "2001:db8::/32"), "IPv6 outside /32");
    ok(ip_in_cidr_list("127.0.0.1", "127.0.0.1"), "a plain address matches itself");
    ok(!ip_in_cidr_list("", "0.0.0.0/0"), "no client address never matches");
    ok(ip_in_cidr_list("8.8.8.8", "0.0.0.0/0"), "0.0.0.0/0 matches every IPv4 address");
    return done_testing();
}
