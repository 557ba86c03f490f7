/* IP addresses and CIDR lists (token subnets). */
#ifndef OA_NETADDR_H
#define OA_NETADDR_H
#include <stddef.h>

/* Is every entry of the comma list a CIDR block ("10.0.0.0/8", "2001:db8::/32") as Go's
 * net.ParseCIDR takes it (a plain address is not)? Whitespace around entries is ignored;
 * empty entries are not allowed. 1, or 0 with "invalid CIDR address: <entry>" in err. */
int cidr_list_valid(const char *list, char *err, size_t errlen);
/* Is every entry of the comma list an IP address or a CIDR block? Empty entries are not
 * allowed. 1, or 0 with "invalid address: <entry>" in err. */
int addr_list_valid(const char *list, char *err, size_t errlen);
/* Is ip inside any entry of the comma list? A plain address matches itself; invalid entries
 * never match. */
int ip_in_cidr_list(const char *ip, const char *list);

#endif
