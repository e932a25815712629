/*
 * fuzz-dns.c — libFuzzer target for the embedded DNS server's packet logic
 * (src/net/dns-packet.c): whatever a container sends to 127.0.0.11 reaches
 * net_dns_handle().  It must never read or write out of bounds or loop, and
 * what it answers must itself be a well-formed response to the same ID that
 * the truncation and question checks read without trouble.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ud, const char *key, const char *name, int family, struct net_addr **ret,
                  size_t *ret_n)
{
        size_t l = strlen(name);
        if (l == 0 || name[0] == 'x')
                return -ENOENT;
        if (name[0] == 'f')
                return -EIO;
        /* a few addresses, as many as the name is long, up to 40 (round robin, truncation) */
        size_t n = l % 41;
        struct net_addr *v = xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
                v[i].family = i % 3 ? family : (family == AF_INET ? AF_INET6 : AF_INET);
                v[i].bytes[3] = (uint8_t)i;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int reverse(void *ud, const char *key, const struct net_addr *addr, char **ret_name)
{
        if (addr->bytes[0] & 1)
                return -ENOENT;
        /* sometimes a name that cannot be encoded */
        *ret_name = xstrdup(addr->bytes[1] & 1 ? "bad..name" : "web.mynet");
        return 0;
}

static uint8_t out[NET_DNS_MAX_MSG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct net_dns_callbacks cb = {.lookup = lookup, .reverse = reverse};
        for (int tcp = 0; tcp < 2; tcp++) {
                size_t len = 0;
                enum net_dns_verdict v = net_dns_handle(&cb, "c", (uint32_t)size, tcp, data, size,
                                                        out, sizeof(out), &len);
                if (v == NET_DNS_REPLY) {
                        if (len < 12 || len > sizeof(out) || (!tcp && len > 1232) ||
                            !(out[2] & 0x80) || memcmp(out, data, 2) != 0)
                                __builtin_trap();
                        (void)net_dns_same_question(data, size, out, len);
                        size_t cut = net_dns_truncate(out, len, 512);
                        if (cut > 512 && cut != len)
                                __builtin_trap();
                } else if (v == NET_DNS_FORWARD && (len < 512 || len > sizeof(out))) {
                        __builtin_trap();
                }
        }
        /* the input as an upstream's answer */
        uint8_t *copy = xmalloc(size ? size : 1);
        memcpy(copy, data, size);
        size_t cut = net_dns_truncate(copy, size, 512);
        if (cut > size || (size > 512 && cut > 512))
                __builtin_trap();
        free(copy);
        return 0;
}
