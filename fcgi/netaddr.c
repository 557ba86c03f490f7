/* netaddr: CIDR parsing and matching for IPv4 and IPv6 with inet_pton. */
#include "config.h"
#include "fcgi/netaddr.h"
#include "fcgi/strlist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order */
    int bits;               /* prefix length */
};

/* Parses one entry of n bytes; 0 or -1. */
static int parse_net(const char *s, size_t n, struct net *out)
{
    char buf[64];
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!n || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > 128)
            return -1;
        bits = (int)b;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        if (bits > 32)
            return -1;
        out->bits = bits < 0 ? 32 : bits;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = bits < 0 ? 128 : bits;
    } else {
        return -1;
    }
    return 0;
}

static int net_contains(const struct net *n, const struct net *ip)
{
    if (n->family != ip->family)
        return 0;
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, ip->addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((n->addr[full] & mask) != (ip->addr[full] & mask))
            return 0;
    }
    return 1;
}

/* Checks every entry of list: a CIDR block, or also a plain address when plain_ok. */
static int list_valid(const char *list, int plain_ok, char *err, size_t errlen)
{
    const char *item;
    size_t n;
    for (const char *c = list; strlist_next(&c, &item, &n);) {
        struct net net;
        if ((!plain_ok && !memchr(item, '/', n)) || parse_net(item, n, &net) < 0) {
            snprintf(err, errlen, "invalid %s: %.*s", plain_ok ? "address" : "CIDR address",
                     (int)(n > 64 ? 64 : n), item);
            return 0;
        }
    }
    return 1;
}

int cidr_list_valid(const char *list, char *err, size_t errlen)
{
    return list_valid(list, 0, err, errlen);
}

int addr_list_valid(const char *list, char *err, size_t errlen)
{
    return list_valid(list, 1, err, errlen);
}

int ip_in_cidr_list(const char *ip, const char *list)
{
    struct net addr;
    /* "::ffff:1.2.3.4" from a dual-stack socket is the IPv4 client 1.2.3.4. */
    if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
        ip += 7;
    if (parse_net(ip, strlen(ip), &addr) < 0)
        return 0;
    const char *item;
    size_t n;
    for (const char *c = list; strlist_next(&c, &item, &n);) {
        struct net net;
        if (parse_net(item, n, &net) == 0 && net_contains(&net, &addr))
            return 1;
    }
    return 0;
}
