/*
 * Names of socket calls, socket types and protocols as the socket_events table spells them
 * (schema/schema.sql). Numbers the lists do not know are written as numbers, so nothing
 * recorded is lost to a missing name.
 */
#include "sockev.h"
#include "flowrec.h"

#include <stdio.h>
#include <string.h>

static const char *const call_names[FR_CALL_MAX] = {
	[FR_CALL_CREATE] = "create",   [FR_CALL_BIND] = "bind",
	[FR_CALL_LISTEN] = "listen",   [FR_CALL_CONNECT] = "connect",
	[FR_CALL_ACCEPT] = "accept",   [FR_CALL_SETSOCKOPT] = "setsockopt",
	[FR_CALL_CLOSE] = "close",
};

const char *fr_sock_call_str(int call)
{
	return call > 0 && call < FR_CALL_MAX ? call_names[call] : NULL;
}

int fr_sock_call_parse(const char *name)
{
	for (int call = 1; call < FR_CALL_MAX; call++)
		if (strcmp(name, call_names[call]) == 0)
			return call;
	return -1;
}

const char *fr_sock_call_list(void)
{
	return "create, bind, listen, connect, accept, setsockopt, close";
}

const char *fr_sock_type_str(unsigned type, char *buf, size_t len)
{
	const char *name = NULL;

	switch (type) {
	case 1: name = "stream"; break;
	case 2: name = "dgram"; break;
	case 3: name = "raw"; break;
	case 5: name = "seqpacket"; break;
	}
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%u", type);
	return buf;
}

const char *fr_sock_proto_str(unsigned protocol, char *buf, size_t len)
{
	const char *name = NULL;

	switch (protocol) {
	case 1: name = "icmp"; break;
	case 6: name = "tcp"; break;
	case 17: name = "udp"; break;
	case 58: name = "icmp6"; break;
	case 262: name = "mptcp"; break;
	}
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%u", protocol);
	return buf;
}
