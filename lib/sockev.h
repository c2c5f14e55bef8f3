/*
 * Names of socket calls, socket types and protocols as the socket_events table spells them.
 * The recorder writes them; flowq checks --event against the same list.
 */
#ifndef FR_SOCKEV_H
#define FR_SOCKEV_H

#include <stddef.h>

/* 'create', 'bind', ... for enum fr_sock_call (include/flowrec.h); NULL for anything else. */
const char *fr_sock_call_str(int call);

/* The enum fr_sock_call value of a name, or -1. */
int fr_sock_call_parse(const char *name);

/* "create, bind, listen, connect, accept, setsockopt, close": for messages. */
const char *fr_sock_call_list(void);

/* 'stream', 'dgram', 'raw', 'seqpacket', else the number. Returns buf. */
const char *fr_sock_type_str(unsigned type, char *buf, size_t len);

/* 'tcp', 'udp', 'icmp', 'icmp6', 'mptcp', else the number ('0' for the default a failed
 * socket() asked for). Returns buf. */
const char *fr_sock_proto_str(unsigned protocol, char *buf, size_t len);

#endif
