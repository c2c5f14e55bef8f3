/*
 * Unit tests for lib/sockev.c: the names socket_events uses for calls, socket types and
 * protocols, numbers for the rest, and --event's parsing round-tripping every name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "sockev.h"
#include "flowrec.h"

static void calls(void **state)
{
	static const char *const want[] = { "create", "bind", "listen", "connect", "accept",
					    "setsockopt", "close" };

	(void)state;
	assert_int_equal(FR_CALL_MAX - 1, sizeof(want) / sizeof(want[0]));
	for (int call = 1; call < FR_CALL_MAX; call++) {
		assert_string_equal(fr_sock_call_str(call), want[call - 1]);
		assert_int_equal(fr_sock_call_parse(want[call - 1]), call);
	}
	assert_null(fr_sock_call_str(0));
	assert_null(fr_sock_call_str(FR_CALL_MAX));
	assert_null(fr_sock_call_str(-1));
	assert_int_equal(fr_sock_call_parse("bogus"), -1);
	assert_int_equal(fr_sock_call_parse("Connect"), -1); /* as stored: lower case only */
	assert_int_equal(fr_sock_call_parse(""), -1);
	assert_string_equal(fr_sock_call_list(), "create, bind, listen, connect, accept, setsockopt, close");
}

static void types(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(fr_sock_type_str(1, buf, sizeof(buf)), "stream");
	assert_string_equal(fr_sock_type_str(2, buf, sizeof(buf)), "dgram");
	assert_string_equal(fr_sock_type_str(3, buf, sizeof(buf)), "raw");
	assert_string_equal(fr_sock_type_str(5, buf, sizeof(buf)), "seqpacket");
	assert_string_equal(fr_sock_type_str(4, buf, sizeof(buf)), "4"); /* SOCK_RDM */
	assert_string_equal(fr_sock_type_str(10, buf, sizeof(buf)), "10"); /* SOCK_PACKET */
	assert_string_equal(fr_sock_type_str(0, buf, sizeof(buf)), "0");
}

static void protocols(void **state)
{
	char buf[16], tiny[3];

	(void)state;
	assert_string_equal(fr_sock_proto_str(6, buf, sizeof(buf)), "tcp");
	assert_string_equal(fr_sock_proto_str(17, buf, sizeof(buf)), "udp");
	assert_string_equal(fr_sock_proto_str(1, buf, sizeof(buf)), "icmp");
	assert_string_equal(fr_sock_proto_str(58, buf, sizeof(buf)), "icmp6");
	assert_string_equal(fr_sock_proto_str(262, buf, sizeof(buf)), "mptcp");
	assert_string_equal(fr_sock_proto_str(0, buf, sizeof(buf)), "0");
	assert_string_equal(fr_sock_proto_str(132, buf, sizeof(buf)), "132"); /* SCTP */
	assert_string_equal(fr_sock_proto_str(65535, buf, sizeof(buf)), "65535");
	/* cut, never overrun */
	assert_string_equal(fr_sock_proto_str(262, tiny, sizeof(tiny)), "mp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calls),
		cmocka_unit_test(types),
		cmocka_unit_test(protocols),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
