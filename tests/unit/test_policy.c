/*
 * Unit tests for lib/policy.c: every key of the rule syntax parsed into its exact fields,
 * every error with its exact message and line, and the compiled map entries checked the way
 * the BPF program uses them. A reference evaluator here does the program's lookups (longest
 * prefix in the address and port tries, hash lookups with the ANY fallback, the cgroup
 * ancestor OR, the AND and its lowest bit) over the entries, and must decide every query as
 * a plain walk of the rules in file order does: for hand-written policies and for hundreds
 * of random ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

#define PATH "rules.txt"

/* The map entries one or more compiles produced, with a hash index like the kernel's maps. */
struct entry {
	int map;
	uint8_t key[24];
	struct fr_policy_bits value;
};

struct store {
	struct entry *entries;
	int n, cap;
	int *slots; /* entry index + 1; 0: empty */
	size_t nslots;
	int expect_gen;
	int nrules;
	int calls, stop_at, stop_rc; /* stop_at > 0: return stop_rc from that call on */
};

static size_t key_size(int map)
{
	switch (map) {
	case FR_PM_ADDR:
		return sizeof(struct fr_policy_addr_key);
	case FR_PM_PORT:
		return sizeof(struct fr_policy_port_key);
	case FR_PM_MATCH:
		return sizeof(struct fr_policy_match_key);
	}
	fail_msg("unknown map %d", map);
	return 0;
}

static uint64_t hash_key(int map, const uint8_t *key)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)map;

	for (size_t i = 0; i < key_size(map); i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return h;
}

static bool bit_set(const struct fr_policy_bits *b, int i)
{
	return (b->w[i / 64] >> (i % 64)) & 1;
}

/* The first len bits of a and b are the same. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, int len)
{
	for (int i = 0; i < len; i++) {
		int byte = i / 8, shift = 7 - i % 8;

		if (((a[byte] >> shift) & 1) != ((b[byte] >> shift) & 1))
			return false;
	}
	return true;
}

static bool zero_after(const uint8_t *a, int len, int total_bits)
{
	for (int i = len; i < total_bits; i++) {
		if ((a[i / 8] >> (7 - i % 8)) & 1)
			return false;
	}
	return true;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

/* Everything the BPF side relies on in one entry, checked as it is written. */
static void check_entry(const struct store *s, int map, const void *key, const struct fr_policy_bits *v)
{
	bool any_bit = false;

	for (int i = 0; i < FR_POLICY_MAX_RULES; i++) {
		if (bit_set(v, i)) {
			any_bit = true;
			if (i >= s->nrules)
				fail_msg("map %d: bit %d set with %d rules", map, i, s->nrules);
		}
	}
	if (!any_bit)
		fail_msg("map %d: an entry with no rules", map);
	if (map == FR_PM_ADDR) {
		const struct fr_policy_addr_key *k = key;
		int bits = k->family == 4 ? 32 : 128;

		assert_int_equal(k->gen, s->expect_gen);
		assert_true(k->family == 4 || k->family == 6);
		assert_true(k->what >= FR_PW_CONNECT && k->what <= FR_PW_ACCEPT);
		assert_int_equal(k->_pad, 0);
		assert_true(k->prefixlen >= 32 && k->prefixlen <= 32u + bits);
		assert_true(zero_after((const uint8_t *)k->addr, (int)k->prefixlen - 32, 128));
	} else if (map == FR_PM_PORT) {
		const struct fr_policy_port_key *k = key;

		assert_int_equal(k->gen, s->expect_gen);
		assert_true(k->proto == 6 || k->proto == 17);
		assert_true(k->what >= FR_PW_CONNECT && k->what <= FR_PW_ACCEPT);
		assert_int_equal(k->_pad, 0);
		assert_true(all_zero(k->_pad2, sizeof(k->_pad2)));
		assert_true(k->prefixlen >= 32 && k->prefixlen <= 48);
		assert_true(zero_after(k->port, (int)k->prefixlen - 32, 16));
	} else {
		const struct fr_policy_match_key *k = key;

		assert_int_equal(k->gen, s->expect_gen);
		assert_true(k->dim < FR_PD_MAX);
		assert_true(k->any == 0 || k->any == 1);
		assert_true(all_zero(k->_pad, sizeof(k->_pad)));
		if (k->any)
			assert_true(all_zero(k->v, sizeof(k->v)));
	}
}

static int collect(void *ctx, enum fr_policy_map map, const void *key, const struct fr_policy_bits *value)
{
	struct store *s = ctx;
	struct entry *e;

	s->calls++;
	if (s->stop_at > 0 && s->calls >= s->stop_at)
		return s->stop_rc;
	check_entry(s, map, key, value);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->entries = realloc(s->entries, (size_t)s->cap * sizeof(*s->entries));
		assert_non_null(s->entries);
	}
	e = &s->entries[s->n++];
	memset(e, 0, sizeof(*e));
	e->map = map;
	memcpy(e->key, key, key_size(map));
	e->value = *value;
	return 0;
}

static const struct entry *lookup(const struct store *s, int map, const void *key)
{
	size_t mask = s->nslots - 1;

	for (size_t i = hash_key(map, key) & mask;; i = (i + 1) & mask) {
		const struct entry *e;

		if (!s->slots[i])
			return NULL;
		e = &s->entries[s->slots[i] - 1];
		if (e->map == map && memcmp(e->key, key, key_size(map)) == 0)
			return e;
	}
}

/* Builds the index; two entries with one key would be one overwriting the other in a map. */
static void store_index(struct store *s)
{
	free(s->slots);
	for (s->nslots = 16; s->nslots < 2 * (size_t)s->n + 1; s->nslots *= 2)
		;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	assert_non_null(s->slots);
	for (int i = 0; i < s->n; i++) {
		const struct entry *e = &s->entries[i];
		size_t mask = s->nslots - 1, j;

		if (lookup(s, e->map, e->key))
			fail_msg("two entries in map %d with one key", e->map);
		for (j = hash_key(e->map, e->key) & mask; s->slots[j]; j = (j + 1) & mask)
			;
		s->slots[j] = i + 1;
	}
}

static void store_reset(struct store *s, int gen, int nrules)
{
	free(s->entries);
	free(s->slots);
	memset(s, 0, sizeof(*s));
	s->expect_gen = gen;
	s->nrules = nrules;
}

static int store_count(const struct store *s, int map)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->entries[i].map == map;
	return n;
}

/* One socket operation as the program sees it. */
struct query {
	int what;
	int family;
	uint8_t addr[16];
	int proto;
	uint16_t port;
	uint32_t uid;
	char comm[FR_COMM_LEN];
	uint32_t exe_dev;
	uint64_t exe_ino;
	int ncgroups;
	uint64_t cgroups[FR_POLICY_CGROUP_DEPTH]; /* the task's cgroup, then its ancestors */
};

static const struct fr_policy_bits *lpm_addr(const struct store *s, int gen, const struct query *q)
{
	for (int len = q->family == 4 ? 32 : 128; len >= 0; len--) {
		struct fr_policy_addr_key k;
		const struct entry *e;

		memset(&k, 0, sizeof(k));
		k.prefixlen = 32 + (uint32_t)len;
		k.gen = (uint8_t)gen;
		k.what = (uint8_t)q->what;
		k.family = (uint8_t)q->family;
		for (int i = 0; i < len; i++) {
			if ((q->addr[i / 8] >> (7 - i % 8)) & 1)
				((uint8_t *)k.addr)[i / 8] |= (uint8_t)(1 << (7 - i % 8));
		}
		e = lookup(s, FR_PM_ADDR, &k);
		if (e)
			return &e->value;
	}
	return NULL;
}

static const struct fr_policy_bits *lpm_port(const struct store *s, int gen, int what, int proto,
					     uint16_t port)
{
	for (int len = 16; len >= 0; len--) {
		struct fr_policy_port_key k;
		const struct entry *e;
		uint16_t masked = len ? (uint16_t)(port & (0xffffu << (16 - len))) : 0;

		memset(&k, 0, sizeof(k));
		k.prefixlen = 32 + (uint32_t)len;
		k.gen = (uint8_t)gen;
		k.what = (uint8_t)what;
		k.proto = (uint8_t)proto;
		k.port[0] = (uint8_t)(masked >> 8);
		k.port[1] = (uint8_t)masked;
		e = lookup(s, FR_PM_PORT, &k);
		if (e)
			return &e->value;
	}
	return NULL;
}

static const struct fr_policy_bits *match_lookup(const struct store *s, int gen, int dim, int any,
						 uint64_t v0, uint64_t v1)
{
	struct fr_policy_match_key k;
	const struct entry *e;

	memset(&k, 0, sizeof(k));
	k.gen = (uint8_t)gen;
	k.dim = (uint8_t)dim;
	k.any = (uint8_t)any;
	k.v[0] = v0;
	k.v[1] = v1;
	e = lookup(s, FR_PM_MATCH, &k);
	return e ? &e->value : NULL;
}

static void and_bits(struct fr_policy_bits *acc, const struct fr_policy_bits *b)
{
	for (int i = 0; i < FR_POLICY_WORDS; i++)
		acc->w[i] &= b ? b->w[i] : 0;
}

/* What bpf/policy.bpf.h does over the maps: the deciding rule's index, or -1. */
static int map_eval(const struct store *s, const struct fr_policy_state *st, const struct query *q)
{
	struct fr_policy_bits acc;
	const struct fr_policy_bits *b;
	int gen = (int)st->gen;

	if (!(st->whats & (1u << q->what)))
		return -1;
	b = lpm_addr(s, gen, q);
	if (!b)
		return -1;
	acc = *b;
	and_bits(&acc, lpm_port(s, gen, q->what, q->proto, q->port));
	for (int dim = 0; dim < FR_PD_MAX; dim++) {
		uint64_t v[2] = { 0, 0 };

		if (!(st->dims & (1u << dim)))
			continue;
		if (dim == FR_PD_CGROUP) {
			struct fr_policy_bits any = { { 0 } };

			b = match_lookup(s, gen, dim, 1, 0, 0);
			if (b)
				any = *b;
			for (int i = 0; i < q->ncgroups; i++) {
				b = match_lookup(s, gen, dim, 0, q->cgroups[i], 0);
				for (int w = 0; b && w < FR_POLICY_WORDS; w++)
					any.w[w] |= b->w[w];
			}
			and_bits(&acc, &any);
			continue;
		}
		if (dim == FR_PD_UID)
			v[0] = q->uid;
		else if (dim == FR_PD_COMM)
			memcpy(v, q->comm, sizeof(v));
		else
			v[0] = q->exe_dev, v[1] = q->exe_ino;
		b = match_lookup(s, gen, dim, 0, v[0], v[1]);
		if (!b)
			b = match_lookup(s, gen, dim, 1, 0, 0);
		and_bits(&acc, b);
	}
	for (int w = 0; w < FR_POLICY_WORDS; w++) {
		if (acc.w[w])
			return w * 64 + __builtin_ctzll(acc.w[w]);
	}
	return -1;
}

static bool in_cgroup(const struct query *q, uint64_t id)
{
	for (int i = 0; i < q->ncgroups; i++) {
		if (q->cgroups[i] == id)
			return true;
	}
	return false;
}

/* The rules in file order, each condition checked directly: what the policy means. */
static int naive_eval(const struct fr_policy *p, const struct query *q)
{
	for (int i = 0; i < p->nrules; i++) {
		const struct fr_policy_rule *r = &p->rules[i];

		if (r->what != q->what)
			continue;
		if (r->family && (r->family != q->family ||
				  !prefix_equal((const uint8_t *)r->addr, q->addr, r->prefixlen)))
			continue;
		if (r->has_port && (q->port < r->port_lo || q->port > r->port_hi))
			continue;
		if (r->proto && r->proto != q->proto)
			continue;
		if (r->has_uid && r->uid != q->uid)
			continue;
		if (r->comm[0] && strncmp(r->comm, q->comm, FR_COMM_LEN) != 0)
			continue;
		if (r->has_exe && (r->exe_dev != q->exe_dev || r->exe_ino != q->exe_ino))
			continue;
		if (r->has_cgroup && !in_cgroup(q, r->cgroup_id))
			continue;
		return i;
	}
	return -1;
}

static void parse_ok(const char *text, struct fr_policy *p)
{
	char err[512] = "";

	if (fr_policy_parse_text(PATH, text, p, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n%s", err, text);
}

static void compile_ok(const struct fr_policy *p, int gen, struct store *s, struct fr_policy_state *st)
{
	int rc;

	store_reset(s, gen, p->nrules);
	rc = fr_policy_compile(p, (uint8_t)gen, st, collect, s);
	assert_int_equal(rc, 0);
	store_index(s);
}

/* A query with identity values no test rule names. */
static struct query make_query(int what, const char *addr, int proto, int port)
{
	struct query q;

	memset(&q, 0, sizeof(q));
	q.what = what;
	if (inet_pton(AF_INET, addr, q.addr) == 1)
		q.family = 4;
	else if (inet_pton(AF_INET6, addr, q.addr) == 1)
		q.family = 6;
	else
		fail_msg("bad test address %s", addr);
	q.proto = proto;
	q.port = (uint16_t)port;
	q.uid = 4242;
	snprintf(q.comm, sizeof(q.comm), "bash");
	q.exe_dev = (7u << 20) | 7;
	q.exe_ino = 7777;
	q.ncgroups = 1;
	q.cgroups[0] = 1;
	return q;
}

struct decision {
	struct query q;
	int want;
};

static void check_decisions(const struct fr_policy *p, const struct decision *d, size_t n)
{
	struct store s = { 0 };
	struct fr_policy_state st;

	compile_ok(p, 1, &s, &st);
	for (size_t i = 0; i < n; i++) {
		int naive = naive_eval(p, &d[i].q), maps = map_eval(&s, &st, &d[i].q);

		if (naive != d[i].want || maps != d[i].want)
			fail_msg("query %zu: want rule %d, the rules say %d, the maps %d", i, d[i].want, naive,
				 maps);
	}
	store_reset(&s, 0, 0);
}

static void policy_decisions(const char *text, const struct decision *d, size_t n)
{
	struct fr_policy p;

	parse_ok(text, &p);
	check_decisions(&p, d, n);
	fr_policy_free(&p);
}

/* The mount point of a cgroup2 file system, or NULL. */
static const char *cgroup2_mount(void)
{
	static char found[4096];
	char dev[256], dir[4096], type[256];
	FILE *f = fopen("/proc/self/mounts", "r");
	const char *ret = NULL;

	if (!f)
		return NULL;
	while (fscanf(f, "%255s %4095s %255s %*[^\n]", dev, dir, type) == 3) {
		/* An escaped name (\040 for a space) is not worth decoding for a test. */
		if (strcmp(type, "cgroup2") == 0 && !strchr(dir, '\\')) {
			snprintf(found, sizeof(found), "%s", dir);
			ret = found;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void assert_addr(const struct fr_policy_rule *r, int family, int prefixlen, const char *addr)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(r->family, family);
	assert_int_equal(r->prefixlen, prefixlen);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, addr, want), 1);
	assert_memory_equal(r->addr, want, 16);
}

static void assert_comm(const struct fr_policy_rule *r, const char *comm)
{
	char want[FR_COMM_LEN] = { 0 };

	memcpy(want, comm, strlen(comm));
	assert_memory_equal(r->comm, want, FR_COMM_LEN);
}

/* A cgroup deeper than the programs look is refused, not left to match nothing. */
static void test_cgroup_depth(void **state)
{
	const char *cg = cgroup2_mount();
	char dirs[FR_POLICY_CGROUP_DEPTH + 1][PATH_MAX], text[PATH_MAX + 64], err[512] = "";
	struct fr_policy p;
	int made = 0, shallow = -2, deep = -2;

	(void)state;
	if (!cg || geteuid() != 0) {
		print_message("note: no cgroup2 file system, or not root; cgroup depth not checked\n");
		return;
	}
	/* dirs[i] is i + 1 levels below the root (the mount is the root of its hierarchy). */
	snprintf(dirs[0], sizeof(dirs[0]), "%s/frtest-depth-%d", cg, (int)getpid());
	for (int i = 0; i <= FR_POLICY_CGROUP_DEPTH; i++) {
		if (i)
			snprintf(dirs[i], sizeof(dirs[i]), "%.4000s/d", dirs[i - 1]);
		if (mkdir(dirs[i], 0755))
			break;
		made++;
	}
	if (made == FR_POLICY_CGROUP_DEPTH + 1) {
		snprintf(text, sizeof(text), "deny connect cgroup %s\n", dirs[FR_POLICY_CGROUP_DEPTH - 2]);
		shallow = fr_policy_parse_text(PATH, text, &p, err, sizeof(err));
		if (!shallow)
			fr_policy_free(&p);
		snprintf(text, sizeof(text), "deny connect cgroup %s\n", dirs[FR_POLICY_CGROUP_DEPTH - 1]);
		deep = fr_policy_parse_text(PATH, text, &p, err, sizeof(err));
	}
	/* The cgroups go before any assertion can stop the test. */
	for (int i = made - 1; i >= 0; i--)
		rmdir(dirs[i]);
	assert_int_equal(made, FR_POLICY_CGROUP_DEPTH + 1);
	assert_int_equal(shallow, 0);
	assert_int_equal(deep, -1);
	assert_non_null(strstr(err, "is more than 15 levels below the cgroup2 root"));
}

static void test_every_key(void **state)
{
	const char *cg = cgroup2_mount();
	char text[8192], err[512];
	struct stat sh, cgst;
	struct fr_policy p;
	const struct fr_policy_rule *r;

	(void)state;
	assert_int_equal(stat("/bin/sh", &sh), 0);
	if (cg)
		assert_int_equal(stat(cg, &cgst), 0);
	else
		print_message("note: no cgroup2 file system mounted; the cgroup key is not checked\n");
	snprintf(text, sizeof(text),
		 "# a policy using every key\n"
		 "\n"
		 "deny connect dst 10.1.2.0/24 port 443 proto tcp comm curl uid 1000 exe /bin/sh%s%s name web-out\n"
		 "audit  accept\tsrc 2001:db8::/32   port 9000-9100 proto udp uid root   # trailing comment\n"
		 "allow bind port 8080#web\n"
		 "deny connect dst ::ffff:192.168.0.0/112 name v4.mapped:1\n"
		 "deny connect dst 2001:db8::1\n"
		 "  allow connect dst 0.0.0.0/0 comm abcdefghijklmno port 0-65535\r\n"
		 "   # only a comment\n"
		 "\t \t\n"
		 "deny accept uid 4294967294 name Z_0.9-:", cg ? " cgroup " : "", cg ? cg : "");
	if (fr_policy_parse_text(PATH, text, &p, err, sizeof(err)))
		fail_msg("refused: %s", err);
	assert_string_equal(p.path, PATH);
	assert_int_equal(p.nrules, 7);

	r = &p.rules[0];
	assert_int_equal(r->line, 3);
	assert_int_equal(r->action, FR_PA_DENY);
	assert_int_equal(r->what, FR_PW_CONNECT);
	assert_addr(r, 4, 24, "10.1.2.0");
	assert_true(r->has_port);
	assert_int_equal(r->port_lo, 443);
	assert_int_equal(r->port_hi, 443);
	assert_int_equal(r->proto, 6);
	assert_comm(r, "curl");
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1000);
	assert_true(r->has_exe);
	assert_string_equal(r->exe, "/bin/sh");
	assert_int_equal(r->exe_dev, (major(sh.st_dev) << 20) | minor(sh.st_dev));
	assert_int_equal(r->exe_ino, sh.st_ino);
	if (cg) {
		char want[8192];

		assert_true(r->has_cgroup);
		assert_string_equal(r->cgroup, cg);
		assert_int_equal(r->cgroup_id, cgst.st_ino);
		snprintf(want, sizeof(want), "deny connect dst 10.1.2.0/24 port 443 proto tcp comm curl uid 1000 "
			 "exe /bin/sh cgroup %s name web-out", cg);
		assert_string_equal(r->text, want);
	} else {
		assert_false(r->has_cgroup);
		assert_string_equal(r->text, "deny connect dst 10.1.2.0/24 port 443 proto tcp comm curl uid 1000 "
					     "exe /bin/sh name web-out");
	}
	assert_string_equal(r->name, "web-out");

	r = &p.rules[1];
	assert_int_equal(r->line, 4);
	assert_int_equal(r->action, FR_PA_AUDIT);
	assert_int_equal(r->what, FR_PW_ACCEPT);
	assert_addr(r, 6, 32, "2001:db8::");
	assert_true(r->has_port);
	assert_int_equal(r->port_lo, 9000);
	assert_int_equal(r->port_hi, 9100);
	assert_int_equal(r->proto, 17);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 0);
	assert_comm(r, "");
	assert_false(r->has_exe);
	assert_false(r->has_cgroup);
	assert_string_equal(r->name, "line 4");
	assert_string_equal(r->text, "audit accept src 2001:db8::/32 port 9000-9100 proto udp uid root");

	r = &p.rules[2];
	assert_int_equal(r->line, 5);
	assert_int_equal(r->action, FR_PA_ALLOW);
	assert_int_equal(r->what, FR_PW_BIND);
	assert_int_equal(r->family, 0);
	assert_int_equal(r->prefixlen, 0);
	assert_true(all_zero(r->addr, sizeof(r->addr)));
	assert_true(r->has_port);
	assert_int_equal(r->port_lo, 8080);
	assert_int_equal(r->port_hi, 8080);
	assert_int_equal(r->proto, 0);
	assert_false(r->has_uid);
	assert_string_equal(r->name, "line 5");
	assert_string_equal(r->text, "allow bind port 8080");

	r = &p.rules[3];
	assert_int_equal(r->line, 6);
	assert_addr(r, 4, 16, "192.168.0.0");
	assert_false(r->has_port);
	assert_string_equal(r->name, "v4.mapped:1");
	assert_string_equal(r->text, "deny connect dst ::ffff:192.168.0.0/112 name v4.mapped:1");

	r = &p.rules[4];
	assert_int_equal(r->line, 7);
	assert_addr(r, 6, 128, "2001:db8::1");
	assert_string_equal(r->name, "line 7");

	r = &p.rules[5];
	assert_int_equal(r->line, 8);
	assert_int_equal(r->action, FR_PA_ALLOW);
	assert_addr(r, 4, 0, "0.0.0.0");
	assert_comm(r, "abcdefghijklmno");
	assert_true(r->has_port);
	assert_int_equal(r->port_lo, 0);
	assert_int_equal(r->port_hi, 65535);
	assert_string_equal(r->text, "allow connect dst 0.0.0.0/0 comm abcdefghijklmno port 0-65535");

	r = &p.rules[6];
	assert_int_equal(r->line, 11);
	assert_int_equal(r->what, FR_PW_ACCEPT);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 4294967294u);
	assert_string_equal(r->name, "Z_0.9-:");
	assert_string_equal(r->text, "deny accept uid 4294967294 name Z_0.9-:");
	fr_policy_free(&p);
	assert_null(p.rules);
	assert_int_equal(p.nrules, 0);
	fr_policy_free(&p);
}

static void test_empty_policies(void **state)
{
	static const char *const texts[] = { "", "\n", "# nothing\n\n   \t\n#deny connect\n", "#" };
	struct fr_policy p;
	struct fr_policy_state st;
	struct store s = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		parse_ok(texts[i], &p);
		assert_int_equal(p.nrules, 0);
		compile_ok(&p, 1, &s, &st);
		assert_int_equal(s.n, 0);
		assert_int_equal(st.gen, 1);
		assert_int_equal(st.whats, 0);
		assert_int_equal(st.dims, 0);
		assert_int_equal(st.nrules, 0);
		fr_policy_free(&p);
	}
	store_reset(&s, 0, 0);
}

struct error_case {
	const char *rule;
	const char *message;
};

static void expect_error_text(const char *text, const char *want)
{
	char err[1024] = "";
	struct fr_policy p;

	memset(&p, 0x5a, sizeof(p));
	if (fr_policy_parse_text(PATH, text, &p, err, sizeof(err)) != -1)
		fail_msg("accepted, expected: %s\n%s", want, text);
	if (strcmp(err, want) != 0)
		fail_msg("error\n  got:  %s\n  want: %s", err, want);
	assert_int_equal(p.nrules, 0);
	assert_null(p.rules);
	fr_policy_free(&p);
}

static void test_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "drop connect", "unknown action 'drop' (expected deny, audit or allow)" },
		{ "Deny connect", "unknown action 'Deny' (expected deny, audit or allow)" },
		{ "deny listen port 80", "unknown what 'listen' (expected connect, bind or accept)" },
		{ "deny # what?", "deny needs what it applies to (connect, bind or accept)" },
		{ "deny connect host 10.0.0.1",
		  "unknown key 'host' (expected dst, src, port, proto, comm, exe, uid, cgroup or name)" },
		{ "deny connect port", "port needs a value" },
		{ "deny connect dst 10.0.0.0/8 uid   # none", "uid needs a value" },
		{ "deny connect port 80 proto tcp port 81", "port is given twice" },
		{ "deny connect name a name a", "name is given twice" },
		{ "deny connect dst 10.0.0.300", "bad address '10.0.0.300' in dst (expected an IPv4 or IPv6 "
						 "address, optionally /LEN)" },
		{ "deny accept src example.com/8", "bad address 'example.com/8' in src (expected an IPv4 or "
						   "IPv6 address, optionally /LEN)" },
		{ "deny connect dst /8", "bad address '/8' in dst (expected an IPv4 or IPv6 address, "
					 "optionally /LEN)" },
		{ "deny connect dst 10.0.0.0/x", "bad prefix length 'x' in dst 10.0.0.0/x" },
		{ "deny connect dst 10.0.0.0/", "bad prefix length '' in dst 10.0.0.0/" },
		{ "deny connect dst 10.0.0.0/-1", "bad prefix length '-1' in dst 10.0.0.0/-1" },
		{ "deny connect dst 10.0.0.0/33", "prefix length 33 is out of range for IPv4 (0..32)" },
		{ "deny connect dst 2001:db8::/129", "prefix length 129 is out of range for IPv6 (0..128)" },
		{ "deny connect dst 2001:db8::/99999", "prefix length 99999 is out of range for IPv6 (0..128)" },
		{ "deny connect dst 10.1.2.3/8", "10.1.2.3/8 has host bits set (the network is 10.0.0.0/8)" },
		{ "deny connect dst 10.1.2.129/25", "10.1.2.129/25 has host bits set (the network is "
						    "10.1.2.128/25)" },
		{ "deny connect dst 2001:db8::1/32", "2001:db8::1/32 has host bits set (the network is "
						     "2001:db8::/32)" },
		{ "deny connect dst ::ffff:10.1.2.3/104", "::ffff:10.1.2.3/104 has host bits set (the network "
							  "is ::ffff:10.0.0.0/104)" },
		{ "deny accept dst 10.0.0.0/8", "dst is for connect rules (the remote address); accept rules "
						"match src" },
		{ "deny connect src 10.0.0.0/8", "src is for accept rules (the peer's address)" },
		{ "deny bind dst 10.0.0.1", "bind rules match no address" },
		{ "deny bind src 10.0.0.1", "bind rules match no address" },
		{ "deny connect port 65536", "port 65536 is out of range (0..65535)" },
		{ "deny connect port 100-70000", "port 70000 is out of range (0..65535)" },
		{ "deny connect port 99999999999999999999999", "port 99999999999999999999999 is out of range "
							       "(0..65535)" },
		{ "deny connect port 9100-9000", "port range 9100-9000 is reversed (N-M needs N <= M)" },
		{ "deny connect port http", "bad port 'http' (expected N or N-M, 0..65535)" },
		{ "deny connect port 80-", "bad port '80-' (expected N or N-M, 0..65535)" },
		{ "deny connect port -80", "bad port '-80' (expected N or N-M, 0..65535)" },
		{ "deny connect port 1-2-3", "bad port '1-2-3' (expected N or N-M, 0..65535)" },
		{ "deny connect port +80", "bad port '+80' (expected N or N-M, 0..65535)" },
		{ "deny connect proto icmp", "unknown proto 'icmp' (expected tcp or udp)" },
		{ "deny connect proto TCP", "unknown proto 'TCP' (expected tcp or udp)" },
		{ "deny connect comm abcdefghijklmnop", "comm 'abcdefghijklmnop' is longer than 15 bytes (all "
							"the kernel keeps of a task's name)" },
		{ "deny connect exe /nonexistent/flowrec-test", "exe /nonexistent/flowrec-test: No such file or "
								"directory" },
		{ "deny connect exe bin/sh", "exe must be an absolute path: 'bin/sh'" },
		{ "deny connect exe /tmp", "exe /tmp: not a regular file" },
		{ "deny connect exe /bin/sh/x", "exe /bin/sh/x: Not a directory" },
		{ "deny connect uid 4294967295", "uid 4294967295 is out of range (0..4294967294)" },
		{ "deny connect uid 99999999999999999999999", "uid 99999999999999999999999 is out of range "
							      "(0..4294967294)" },
		{ "deny connect uid no-such-user-flowrec", "unknown user 'no-such-user-flowrec'" },
		{ "deny connect uid -1", "unknown user '-1'" },
		{ "deny connect cgroup /tmp", "cgroup /tmp: not on a cgroup2 file system" },
		{ "deny connect cgroup /etc/passwd", "cgroup /etc/passwd: not a directory" },
		{ "deny connect cgroup /nonexistent/cg", "cgroup /nonexistent/cg: No such file or directory" },
		{ "deny connect cgroup sys/fs/cgroup", "cgroup must be an absolute path: 'sys/fs/cgroup'" },
		{ "deny connect name bad!name", "bad name 'bad!name' (1 to 63 of A-Z a-z 0-9 _ . : -)" },
		{ "deny connect name aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "bad name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' (1 to 63 of A-Z a-z "
		  "0-9 _ . : -)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024], want[1024];

		/* The bad rule is line 5, after a comment, a blank line and two good rules. */
		snprintf(text, sizeof(text), "# rules\n\nallow connect port 80\n   deny bind  # ok\n%s\n"
			 "allow connect\n", cases[i].rule);
		snprintf(want, sizeof(want), PATH ":5: %s", cases[i].message);
		expect_error_text(text, want);
	}
}

static void test_error_limits(void **state)
{
	char *text = malloc(1100 * 64), *at;
	char path_too_long[600], rule[700];
	struct fr_policy p;

	(void)state;
	assert_non_null(text);
	/* Names are unique across the file, whatever lies between. */
	expect_error_text("# x\n\nallow connect name web\n\n# again:\ndeny bind name web\n",
			  PATH ":6: name 'web' is already that of the rule on line 3");

	/* 1024 rules are a policy; the 1025th rule is the error, not its line. */
	at = text + sprintf(text, "# many\n\n");
	for (int i = 0; i < 1024; i++)
		at += sprintf(at, "deny connect port %d\n", i);
	parse_ok(text, &p);
	assert_int_equal(p.nrules, 1024);
	assert_int_equal(p.rules[1023].line, 1026);
	assert_int_equal(p.rules[1023].port_lo, 1023);
	fr_policy_free(&p);
	sprintf(at, "# still fine\ndeny bind\n");
	expect_error_text(text, PATH ":1028: more than 1024 rules (the most a policy can hold)");

	/* Lines of 4095 bytes are fine, comment or rule; 4096 is an error. */
	at = text + sprintf(text, "# long\n\n#");
	memset(at, 'x', 4094);
	at += 4094;
	at += sprintf(at, "\ndeny connect port 80");
	memset(at, ' ', 4095 - 20);
	strcpy(at + 4095 - 20, "\n");
	parse_ok(text, &p);
	assert_int_equal(p.nrules, 1);
	assert_int_equal(p.rules[0].line, 4);
	assert_string_equal(p.rules[0].text, "deny connect port 80");
	fr_policy_free(&p);
	at = text + sprintf(text, "# long\n\nallow bind\n#");
	memset(at, 'x', 4095);
	strcpy(at + 4095, "\n");
	expect_error_text(text, PATH ":4: line longer than 4095 bytes");
	/* ... the last line too, without a newline */
	at = text + sprintf(text, "# long\nallow bind\n\n");
	memset(at, ' ', 4096);
	at[4096] = 0;
	expect_error_text(text, PATH ":4: line longer than 4095 bytes");

	/* exe and cgroup paths are kept as written: at most 255 bytes. */
	memset(path_too_long, 'a', sizeof(path_too_long));
	path_too_long[0] = '/';
	path_too_long[256] = 0;
	snprintf(rule, sizeof(rule), "\n\ndeny connect exe %s\n", path_too_long);
	expect_error_text(rule, PATH ":3: exe path is longer than 255 bytes");
	snprintf(rule, sizeof(rule), "\n\ndeny connect cgroup %s\n", path_too_long);
	expect_error_text(rule, PATH ":3: cgroup path is longer than 255 bytes");
	free(text);
}

static void test_text_cut(void **state)
{
	char text[2048], zeros[301];
	struct fr_policy p;

	(void)state;
	/* Numbers may have leading zeros, which makes a valid rule longer than text holds: it
	 * is kept, its text cut with "..." at the end. */
	memset(zeros, '0', 300);
	zeros[300] = 0;
	snprintf(text, sizeof(text), "\ndeny connect uid %s1000 port %s80 proto tcp exe /bin/sh\n", zeros, zeros);
	parse_ok(text, &p);
	assert_int_equal(p.nrules, 1);
	assert_int_equal(p.rules[0].uid, 1000);
	assert_int_equal(p.rules[0].port_lo, 80);
	assert_int_equal(p.rules[0].proto, 6);
	assert_true(p.rules[0].has_exe);
	assert_int_equal(strlen(p.rules[0].text), 511);
	assert_memory_equal(p.rules[0].text, text + 1, 508);
	assert_string_equal(p.rules[0].text + 508, "...");
	fr_policy_free(&p);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole literal, NUL bytes in it included. */
#define write_literal(path, lit) write_file((path), (lit), sizeof(lit) - 1)

static void expect_file_error(const char *path, const char *want)
{
	char err[1024] = "";
	struct fr_policy p;

	if (fr_policy_parse_file(path, &p, err, sizeof(err)) != -1)
		fail_msg("%s accepted", path);
	if (strcmp(err, want) != 0)
		fail_msg("error\n  got:  %s\n  want: %s", err, want);
	assert_int_equal(p.nrules, 0);
	assert_null(p.rules);
	fr_policy_free(&p);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/test_policy.XXXXXX", path[256], fifo[256], want[512], err[512];
	const size_t big = 4u << 20;
	char *data = malloc(big + 1);
	struct fr_policy p;

	(void)state;
	assert_non_null(data);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rules.txt", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);

	write_literal(path, "# file\n\ndeny connect dst 10.0.0.0/8 port 22\n");
	assert_int_equal(fr_policy_parse_file(path, &p, err, sizeof(err)), 0);
	assert_string_equal(p.path, path);
	assert_int_equal(p.nrules, 1);
	assert_int_equal(p.rules[0].line, 3);
	assert_string_equal(p.rules[0].text, "deny connect dst 10.0.0.0/8 port 22");
	fr_policy_free(&p);

	/* Rule errors name the path as given. */
	write_literal(path, "\n\n\nallow bind port 1 port 2\n");
	snprintf(want, sizeof(want), "%s:4: port is given twice", path);
	expect_file_error(path, want);

	/* Exactly 4 MiB is read; one byte more is refused. */
	for (size_t i = 0; i < big; i += 1024) {
		memset(data + i, ' ', 1023);
		data[i] = '#';
		data[i + 1023] = '\n';
	}
	write_file(path, data, big);
	assert_int_equal(fr_policy_parse_file(path, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 0);
	fr_policy_free(&p);
	data[big] = '\n';
	write_file(path, data, big + 1);
	snprintf(want, sizeof(want), "cannot read %s: larger than 4 MiB", path);
	expect_file_error(path, want);

	write_literal(path, "deny bind\n\0deny connect\n");
	snprintf(want, sizeof(want), "cannot read %s: not a text file (it holds a NUL byte)", path);
	expect_file_error(path, want);

	expect_file_error("/nonexistent/rules.txt", "cannot read /nonexistent/rules.txt: No such file or directory");
	snprintf(want, sizeof(want), "cannot read %s: not a regular file", dir);
	expect_file_error(dir, want);
	expect_file_error("/dev/null", "cannot read /dev/null: not a regular file");
	/* A FIFO with no writer would block a plain open. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(want, sizeof(want), "cannot read %s: not a regular file", fifo);
	expect_file_error(fifo, want);

	unlink(fifo);
	unlink(path);
	rmdir(dir);
	free(data);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(fr_policy_action_name(FR_PA_DENY), "deny");
	assert_string_equal(fr_policy_action_name(FR_PA_AUDIT), "audit");
	assert_string_equal(fr_policy_action_name(FR_PA_ALLOW), "allow");
	assert_string_equal(fr_policy_action_name(0), "?");
	assert_string_equal(fr_policy_action_name(4), "?");
	assert_string_equal(fr_policy_action_name(-1), "?");
	assert_string_equal(fr_policy_what_name(FR_PW_CONNECT), "connect");
	assert_string_equal(fr_policy_what_name(FR_PW_BIND), "bind");
	assert_string_equal(fr_policy_what_name(FR_PW_ACCEPT), "accept");
	assert_string_equal(fr_policy_what_name(0), "?");
	assert_string_equal(fr_policy_what_name(4), "?");
}

/* A reload compares what the files resolve to, not only their text. */
static void test_same(void **state)
{
	static const char text[] = "deny connect dst 10.0.0.0/8 port 443 comm curl\n"
				   "allow bind port 80 uid 0 name web\n";
	struct fr_policy a, b;

	(void)state;
	parse_ok(text, &a);
	parse_ok(text, &b);
	assert_true(fr_policy_same(&a, &b));
	b.rules[1].exe_ino = 1; /* as if the same path now named another file */
	assert_false(fr_policy_same(&a, &b));
	fr_policy_free(&b);
	parse_ok("# a comment moves every rule down a line\n"
		 "deny connect dst 10.0.0.0/8 port 443 comm curl\n"
		 "allow bind port 80 uid 0 name web\n", &b);
	assert_false(fr_policy_same(&a, &b));
	fr_policy_free(&b);
	parse_ok("deny connect dst 10.0.0.0/8 port 443 comm curl\n", &b);
	assert_false(fr_policy_same(&a, &b));
	fr_policy_free(&b);
	parse_ok("deny   connect dst 10.0.0.0/8   port 443 comm curl # blanks and comments\n"
		 "allow bind port 80 uid 0 name web\n", &b);
	assert_true(fr_policy_same(&a, &b));
	fr_policy_free(&a);
	fr_policy_free(&b);
}

/* The entries of one small policy, each written out: the layout the BPF side reads. */
static void test_exact_entries(void **state)
{
	static const struct {
		int port, prefixlen;
	} blocks[] = { { 9000, 45 }, { 9008, 44 }, { 9024, 42 }, { 9088, 45 }, { 9096, 46 }, { 9100, 48 } };
	struct fr_policy p;
	struct fr_policy_state st;
	struct store s = { 0 };
	struct fr_policy_addr_key ak;
	const struct entry *e;

	(void)state;
	parse_ok("deny connect dst 10.0.0.0/8 port 9000-9100 proto tcp\n", &p);
	compile_ok(&p, 0, &s, &st);
	assert_int_equal(st.gen, 0);
	assert_int_equal(st.whats, 1u << FR_PW_CONNECT);
	assert_int_equal(st.dims, 0);
	assert_int_equal(st.nrules, 1);
	/* No rule applies to IPv6, and none to IPv4 outside 10/8: one address entry. */
	assert_int_equal(store_count(&s, FR_PM_ADDR), 1);
	memset(&ak, 0, sizeof(ak));
	ak.prefixlen = 40;
	ak.what = FR_PW_CONNECT;
	ak.family = 4;
	ak.addr[0] = htonl(0x0a000000);
	e = lookup(&s, FR_PM_ADDR, &ak);
	assert_non_null(e);
	assert_int_equal(e->value.w[0], 1);
	assert_int_equal(store_count(&s, FR_PM_PORT), 6);
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		struct fr_policy_port_key pk;

		memset(&pk, 0, sizeof(pk));
		pk.prefixlen = (uint32_t)blocks[i].prefixlen;
		pk.what = FR_PW_CONNECT;
		pk.proto = 6;
		pk.port[0] = (uint8_t)(blocks[i].port >> 8);
		pk.port[1] = (uint8_t)blocks[i].port;
		e = lookup(&s, FR_PM_PORT, &pk);
		if (!e)
			fail_msg("no block %d/%d", blocks[i].port, blocks[i].prefixlen - 32);
		assert_int_equal(e->value.w[0], 1);
	}
	assert_int_equal(store_count(&s, FR_PM_MATCH), 0);
	fr_policy_free(&p);

	/* The match entries: ANY holds the rules naming no value; a value's entry adds its own,
	 * except for cgroups, whose entries hold their own rules alone. */
	parse_ok("allow connect uid 1000\ndeny connect uid 0 comm curl\naudit connect\nallow bind\n"
		 "allow bind\nallow accept uid 1000\n", &p);
	p.rules[3].has_cgroup = true;
	p.rules[3].cgroup_id = 77;
	p.rules[4].has_cgroup = true;
	p.rules[4].cgroup_id = 78;
	compile_ok(&p, 1, &s, &st);
	assert_int_equal(st.gen, 1);
	assert_int_equal(st.whats, (1u << FR_PW_CONNECT) | (1u << FR_PW_BIND) | (1u << FR_PW_ACCEPT));
	assert_int_equal(st.dims, (1u << FR_PD_UID) | (1u << FR_PD_COMM) | (1u << FR_PD_CGROUP));
	assert_int_equal(st.nrules, 6);
	assert_int_equal(store_count(&s, FR_PM_MATCH), 3 + 2 + 3);
	assert_int_equal(match_lookup(&s, 1, FR_PD_UID, 1, 0, 0)->w[0], 0x1c);
	assert_int_equal(match_lookup(&s, 1, FR_PD_UID, 0, 1000, 0)->w[0], 0x3d);
	assert_int_equal(match_lookup(&s, 1, FR_PD_UID, 0, 0, 0)->w[0], 0x1e);
	assert_int_equal(match_lookup(&s, 1, FR_PD_COMM, 1, 0, 0)->w[0], 0x3d);
	{
		uint64_t curl[2] = { 0, 0 };

		memcpy(curl, "curl", 4);
		assert_int_equal(match_lookup(&s, 1, FR_PD_COMM, 0, curl[0], curl[1])->w[0], 0x3f);
	}
	assert_int_equal(match_lookup(&s, 1, FR_PD_CGROUP, 1, 0, 0)->w[0], 0x27);
	assert_int_equal(match_lookup(&s, 1, FR_PD_CGROUP, 0, 77, 0)->w[0], 0x08);
	assert_int_equal(match_lookup(&s, 1, FR_PD_CGROUP, 0, 78, 0)->w[0], 0x10);
	assert_null(match_lookup(&s, 1, FR_PD_EXE, 1, 0, 0));
	/* Bind rules have no address: /0 of both families holds both. */
	memset(&ak, 0, sizeof(ak));
	ak.prefixlen = 32;
	ak.gen = 1;
	ak.what = FR_PW_BIND;
	ak.family = 6;
	assert_int_equal(lookup(&s, FR_PM_ADDR, &ak)->value.w[0], 0x18);
	ak.family = 4;
	assert_int_equal(lookup(&s, FR_PM_ADDR, &ak)->value.w[0], 0x18);
	store_reset(&s, 0, 0);
	fr_policy_free(&p);
}

static void test_compile_stops(void **state)
{
	struct fr_policy p;
	struct fr_policy_state st;
	struct store s = { 0 };
	int total;

	(void)state;
	parse_ok("deny connect dst 10.0.0.0/8 port 1-1000 uid 5\nallow bind comm x\n", &p);
	compile_ok(&p, 0, &s, &st);
	total = s.calls;
	assert_true(total > 5);
	for (int stop = 1; stop <= total; stop++) {
		store_reset(&s, 0, p.nrules);
		s.stop_at = stop;
		s.stop_rc = -stop;
		assert_int_equal(fr_policy_compile(&p, 0, &st, collect, &s), -stop);
		assert_int_equal(s.calls, stop);
	}
	store_reset(&s, 0, 0);
	fr_policy_free(&p);
}

static void test_first_match_wins(void **state)
{
	const struct decision d[] = {
		{ make_query(FR_PW_CONNECT, "10.1.2.5", 6, 443), 0 },
		{ make_query(FR_PW_CONNECT, "10.1.2.5", 17, 443), 0 },
		{ make_query(FR_PW_CONNECT, "10.9.9.9", 6, 443), 1 },
		{ make_query(FR_PW_CONNECT, "11.0.0.1", 6, 443), -1 },
		{ make_query(FR_PW_BIND, "10.1.2.5", 6, 443), -1 },
		{ make_query(FR_PW_ACCEPT, "10.1.2.5", 6, 443), -1 },
	};
	const struct decision rev[] = {
		{ make_query(FR_PW_CONNECT, "10.1.2.5", 6, 443), 0 },
		{ make_query(FR_PW_CONNECT, "10.9.9.9", 6, 443), 0 },
		{ make_query(FR_PW_CONNECT, "10.1.3.0", 6, 443), 0 },
		{ make_query(FR_PW_CONNECT, "9.255.255.255", 6, 443), -1 },
	};
	const struct decision equal[] = {
		{ make_query(FR_PW_CONNECT, "10.1.2.5", 6, 443), 0 },
		{ make_query(FR_PW_CONNECT, "10.1.2.5", 6, 80), 1 },
		{ make_query(FR_PW_CONNECT, "10.3.2.5", 6, 80), -1 },
	};

	(void)state;
	/* allow before deny: the /24 is allowed, the rest of the /8 denied */
	policy_decisions("allow connect dst 10.1.2.0/24\ndeny connect dst 10.0.0.0/8\n", d,
			 sizeof(d) / sizeof(d[0]));
	/* the other order: the /8 decides everything in it, the /24 never */
	policy_decisions("deny connect dst 10.0.0.0/8\nallow connect dst 10.1.2.0/24\n", rev,
			 sizeof(rev) / sizeof(rev[0]));
	/* one prefix in two rules */
	policy_decisions("audit connect dst 10.1.0.0/16 port 443\ndeny connect dst 10.1.0.0/16\n", equal,
			 sizeof(equal) / sizeof(equal[0]));
}

static void test_port_ranges(void **state)
{
	const struct decision d[] = {
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 17, 8999), -1 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 8999), 2 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9000), 0 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9049), 0 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9050), 0 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9100), 0 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9101), 1 },
		{ make_query(FR_PW_CONNECT, "2001:db8::1", 17, 9150), 1 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9200), 1 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 9201), 2 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 17, 9201), -1 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 65535), 2 },
		{ make_query(FR_PW_CONNECT, "10.0.0.1", 6, 0), 2 },
	};
	const struct decision rev[] = {
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 8999), -1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 9049), 1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 9201), -1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 9050), 0 },
		{ make_query(FR_PW_BIND, "::", 17, 9100), 0 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 9200), 0 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 17, 9000), 1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 6, 9000), -1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 6, 9100), -1 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 6, 0), 2 },
		{ make_query(FR_PW_BIND, "0.0.0.0", 6, 1), -1 },
		{ make_query(FR_PW_BIND, "::", 17, 65535), 3 },
		{ make_query(FR_PW_BIND, "::", 17, 65534), -1 },
	};

	(void)state;
	policy_decisions("deny connect port 9000-9100\naudit connect port 9050-9200\nallow connect proto tcp\n",
			 d, sizeof(d) / sizeof(d[0]));
	policy_decisions("deny bind port 9050-9200 proto udp\naudit bind port 9000-9100 proto udp\n"
			 "deny bind port 0\nallow bind port 65535\n",
			 rev, sizeof(rev) / sizeof(rev[0]));
}

static void test_families(void **state)
{
	const struct decision v6[] = {
		{ make_query(FR_PW_CONNECT, "2001:db8::1", 6, 80), 0 },
		{ make_query(FR_PW_CONNECT, "2001:db8:ffff:ffff::1", 6, 80), 0 },
		{ make_query(FR_PW_CONNECT, "2001:db9::", 6, 80), -1 },
		{ make_query(FR_PW_CONNECT, "2001:db9::", 6, 53), 1 },
		{ make_query(FR_PW_CONNECT, "2001:db7:ffff::", 6, 53), 1 },
		{ make_query(FR_PW_CONNECT, "32.1.13.184", 6, 80), -1 },
		{ make_query(FR_PW_CONNECT, "32.1.13.184", 17, 53), 1 },
	};
	const struct decision both[] = {
		{ make_query(FR_PW_CONNECT, "10.1.1.1", 17, 53), 0 },
		{ make_query(FR_PW_CONNECT, "fe80::1", 17, 53), 0 },
		{ make_query(FR_PW_CONNECT, "10.1.1.1", 6, 80), 1 },
		{ make_query(FR_PW_CONNECT, "fe80::1", 6, 80), -1 },
		{ make_query(FR_PW_ACCEPT, "192.168.7.7", 6, 22), 2 },
		{ make_query(FR_PW_ACCEPT, "192.168.7.7", 17, 22), 3 },
		{ make_query(FR_PW_ACCEPT, "::1", 6, 22), 3 },
	};
	const struct decision mapped[] = {
		{ make_query(FR_PW_CONNECT, "10.2.3.4", 6, 80), 0 },
		{ make_query(FR_PW_CONNECT, "10.255.255.255", 6, 80), 0 },
		{ make_query(FR_PW_CONNECT, "11.0.0.0", 6, 80), 1 },
		{ make_query(FR_PW_CONNECT, "::ffff:11.0.0.0", 6, 80), -1 },
		{ make_query(FR_PW_CONNECT, "1.2.3.4", 6, 80), 1 },
	};

	(void)state;
	policy_decisions("deny connect dst 2001:db8::/32\nallow connect port 53\n", v6, sizeof(v6) / sizeof(v6[0]));
	policy_decisions("audit connect port 53\ndeny connect dst 10.0.0.0/8\n"
			 "deny accept src 192.168.0.0/16 proto tcp\nallow accept\n",
			 both, sizeof(both) / sizeof(both[0]));
	policy_decisions("deny connect dst ::ffff:10.0.0.0/104\nallow connect dst ::ffff:0.0.0.0/96\n", mapped,
			 sizeof(mapped) / sizeof(mapped[0]));
}

static void test_identities(void **state)
{
	struct fr_policy p;
	struct decision d[12];
	size_t n = 0;

	(void)state;
	parse_ok("deny connect uid 1000 comm curl\n"
		 "audit connect port 22\n"
		 "allow connect\n"
		 "deny connect\n"
		 "allow connect uid 0\n",
		 &p);
	p.rules[1].has_cgroup = true;
	p.rules[1].cgroup_id = 20;
	p.rules[2].has_exe = true;
	p.rules[2].exe_dev = (8u << 20) | 1;
	p.rules[2].exe_ino = 100;
	p.rules[3].has_cgroup = true;
	p.rules[3].cgroup_id = 10;

	d[n].q = make_query(FR_PW_CONNECT, "1.1.1.1", 6, 22);
	d[n].q.uid = 1000;
	snprintf(d[n].q.comm, FR_COMM_LEN, "curl");
	d[n++].want = 0;
	/* a different comm: not rule 0; the task's cgroup is 30 under 20 under 10 */
	d[n].q = d[0].q;
	snprintf(d[n].q.comm, FR_COMM_LEN, "curly");
	d[n].q.ncgroups = 4;
	d[n].q.cgroups[0] = 30, d[n].q.cgroups[1] = 20, d[n].q.cgroups[2] = 10, d[n].q.cgroups[3] = 1;
	d[n++].want = 1;
	d[n].q = d[1].q;
	d[n].q.port = 23;
	d[n++].want = 3;
	d[n].q = d[2].q;
	d[n].q.exe_dev = (8u << 20) | 1;
	d[n].q.exe_ino = 100;
	d[n++].want = 2;
	/* the same inode on another device is another file */
	d[n].q = d[3].q;
	d[n].q.exe_dev = (8u << 20) | 2;
	d[n++].want = 3;
	/* a sibling cgroup of 10's child 20 */
	d[n].q = d[4].q;
	d[n].q.port = 22;
	d[n].q.cgroups[1] = 40;
	d[n].q.cgroups[0] = 41;
	d[n++].want = 3;
	d[n].q = d[5].q;
	d[n].q.ncgroups = 1;
	d[n].q.cgroups[0] = 1;
	d[n++].want = -1;
	d[n].q = d[6].q;
	d[n].q.uid = 0;
	d[n++].want = 4;
	check_decisions(&p, d, n);
	fr_policy_free(&p);
}

/* Two generations in one set of maps: each lookup sees only its own. */
static void test_generations(void **state)
{
	struct fr_policy a, b;
	struct fr_policy_state sa, sb;
	struct store s = { 0 };
	const struct query q[] = {
		make_query(FR_PW_CONNECT, "10.0.0.1", 6, 80),
		make_query(FR_PW_CONNECT, "10.0.0.1", 6, 443),
		make_query(FR_PW_BIND, "::", 17, 53),
	};

	(void)state;
	parse_ok("deny connect port 80\nallow connect dst 10.0.0.0/8\n", &a);
	parse_ok("allow bind uid 4242\naudit connect port 443\ndeny connect dst 10.0.0.0/8\n", &b);
	store_reset(&s, 0, a.nrules);
	assert_int_equal(fr_policy_compile(&a, 0, &sa, collect, &s), 0);
	s.expect_gen = 1;
	s.nrules = b.nrules;
	assert_int_equal(fr_policy_compile(&b, 1, &sb, collect, &s), 0);
	store_index(&s);
	assert_int_equal(sa.gen, 0);
	assert_int_equal(sb.gen, 1);
	assert_int_equal(sa.whats, 1u << FR_PW_CONNECT);
	assert_int_equal(sb.whats, (1u << FR_PW_CONNECT) | (1u << FR_PW_BIND));
	assert_int_equal(sa.dims, 0);
	assert_int_equal(sb.dims, 1u << FR_PD_UID);
	assert_int_equal(sa.nrules, 2);
	assert_int_equal(sb.nrules, 3);
	assert_int_equal(map_eval(&s, &sa, &q[0]), 0);
	assert_int_equal(map_eval(&s, &sa, &q[1]), 1);
	assert_int_equal(map_eval(&s, &sa, &q[2]), -1);
	assert_int_equal(map_eval(&s, &sb, &q[0]), 2);
	assert_int_equal(map_eval(&s, &sb, &q[1]), 1);
	assert_int_equal(map_eval(&s, &sb, &q[2]), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(map_eval(&s, &sa, &q[i]), naive_eval(&a, &q[i]));
		assert_int_equal(map_eval(&s, &sb, &q[i]), naive_eval(&b, &q[i]));
	}
	store_reset(&s, 0, 0);
	fr_policy_free(&a);
	fr_policy_free(&b);
}

/* Random policies */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

static bool rng_percent(uint64_t *s, unsigned pct)
{
	return rng_below(s, 100) < pct;
}

#define PICK(rng, arr) ((arr)[rng_below((rng), sizeof(arr) / sizeof((arr)[0]))])

static const char *const rule_addrs[] = {
	"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/23", "10.1.2.0/24", "10.1.2.0/25",
	"10.1.2.3", "10.1.2.128/25", "192.168.0.0/16", "11.0.0.0/8", "::ffff:10.1.0.0/112", "::/0",
	"2001:db8::/31", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::/49", "2001:db8:1::/64",
	"2001:db8:1::1/128", "fe80::/10",
};
static const char *const query_addrs[] = {
	"10.1.2.3", "10.1.2.4", "10.1.2.130", "10.1.2.200", "10.1.3.1", "10.2.0.1", "11.1.1.1",
	"192.168.5.5", "2001:db8:1:8000::1",
	"8.8.8.8", "0.0.0.0", "255.255.255.255", "2001:db8:1::1", "2001:db8:1::2",
	"2001:db8:1:0:1::1", "2001:db8:1:1::1", "2001:db8:2::1", "2001:db9::1", "fe80::1",
	"febf:ffff::1", "fec0::1", "::1",
};
static const int port_marks[] = { 0, 1, 53, 80, 443, 1023, 1024, 8080, 9000, 9050, 9100,
				  9200, 32767, 32768, 65534, 65535 };
static const uint32_t exe_devs[] = { (8u << 20) | 1, (8u << 20) | 1, (8u << 20) | 2, (259u << 20) };
static const uint64_t exe_inos[] = { 100, 200, 100, 5 };
/* A chain 1 > 10 > 20 > 30 and tasks in it, beside it (40 under 10) and outside (50). */
static const uint64_t rule_cgroups[] = { 10, 20, 30 };
static const uint64_t chains[][5] = {
	{ 4, 30, 20, 10, 1 }, { 3, 20, 10, 1 }, { 2, 10, 1 }, { 1, 1 }, { 3, 40, 10, 1 }, { 2, 50, 1 },
};

/* How often a policy's rules use each key, so that some policies leave dimensions out. */
struct mix {
	unsigned addr, port, proto, uid, comm, exe, cgroup, name;
};

static int mark_near(uint64_t *rng)
{
	int v = PICK(rng, port_marks) + (int)rng_below(rng, 3) - 1;

	return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

static void random_rule(uint64_t *rng, const struct mix *m, int index, char *out, size_t outlen)
{
	static const char *const actions[] = { "deny", "audit", "allow" };
	static const char *const whats[] = { "connect", "bind", "accept" };
	char keys[8][128];
	int nkeys = 0, what = (int)rng_below(rng, 3);
	size_t at;

	if (what != 1 && rng_percent(rng, m->addr))
		snprintf(keys[nkeys++], sizeof(keys[0]), "%s %s", what == 0 ? "dst" : "src", PICK(rng, rule_addrs));
	if (rng_percent(rng, m->port)) {
		int lo = mark_near(rng), hi = rng_percent(rng, 30) ? lo : mark_near(rng);

		if (lo > hi) {
			int t = lo;

			lo = hi;
			hi = t;
		}
		if (lo == hi)
			snprintf(keys[nkeys++], sizeof(keys[0]), "port %d", lo);
		else
			snprintf(keys[nkeys++], sizeof(keys[0]), "port %d-%d", lo, hi);
	}
	if (rng_percent(rng, m->proto))
		snprintf(keys[nkeys++], sizeof(keys[0]), "proto %s", rng_percent(rng, 50) ? "tcp" : "udp");
	if (rng_percent(rng, m->uid))
		snprintf(keys[nkeys++], sizeof(keys[0]), "uid %s", PICK(rng, ((const char *const[]){ "0", "root", "1000" })));
	if (rng_percent(rng, m->comm))
		snprintf(keys[nkeys++], sizeof(keys[0]), "comm %s",
			 rng_percent(rng, 50) ? "curl" : "abcdefghijklmno");
	if (rng_percent(rng, m->name))
		snprintf(keys[nkeys++], sizeof(keys[0]), "name r%d", index);
	/* any order */
	for (int i = nkeys - 1; i > 0; i--) {
		int j = (int)rng_below(rng, (unsigned)i + 1);
		char t[128];

		memcpy(t, keys[i], sizeof(t));
		memcpy(keys[i], keys[j], sizeof(t));
		memcpy(keys[j], t, sizeof(t));
	}
	at = (size_t)snprintf(out, outlen, "%s %s", PICK(rng, actions), whats[what]);
	for (int i = 0; i < nkeys; i++)
		at += (size_t)snprintf(out + at, outlen - at, "%s%s", rng_percent(rng, 20) ? " \t " : " ", keys[i]);
	snprintf(out + at, outlen - at, "%s\n", rng_percent(rng, 10) ? " # comment" : "");
}

static struct query random_query(uint64_t *rng)
{
	struct query q = make_query((int)rng_below(rng, 3) + 1, PICK(rng, query_addrs), rng_percent(rng, 50) ? 6 : 17,
				    rng_percent(rng, 85) ? mark_near(rng) : (int)rng_below(rng, 65536));
	int e = (int)rng_below(rng, 5);
	unsigned c = rng_below(rng, sizeof(chains) / sizeof(chains[0]));

	/* now and then an address one bit away from a listed one */
	if (rng_percent(rng, 25)) {
		int bit = (int)rng_below(rng, q.family == 4 ? 32 : 128);

		q.addr[bit / 8] ^= (uint8_t)(1 << (7 - bit % 8));
	}
	q.uid = PICK(rng, ((const uint32_t[]){ 0, 1000, 1001, 65534 }));
	snprintf(q.comm, sizeof(q.comm), "%s", PICK(rng, ((const char *const[]){ "curl", "wget", "abcdefghijklmno", "abcdefghijklmn" })));
	if (e < 4) {
		q.exe_dev = exe_devs[e];
		q.exe_ino = exe_inos[e];
	}
	q.ncgroups = (int)chains[c][0];
	for (int i = 0; i < q.ncgroups; i++)
		q.cgroups[i] = chains[c][i + 1];
	return q;
}

static void random_policy(uint64_t *rng, int nrules, struct fr_policy *p)
{
	static const unsigned levels[] = { 0, 25, 60, 90 };
	struct mix m = {
		PICK(rng, levels), PICK(rng, levels), PICK(rng, levels), PICK(rng, levels),
		PICK(rng, levels), PICK(rng, levels), PICK(rng, levels), 30,
	};
	size_t cap = (size_t)nrules * 200 + 64, at = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	at += (size_t)snprintf(text, cap, "# random\n\n");
	for (int i = 0; i < nrules; i++) {
		random_rule(rng, &m, i, text + at, cap - at);
		at += strlen(text + at);
	}
	parse_ok(text, p);
	assert_int_equal(p->nrules, nrules);
	free(text);
	/* exe and cgroup are set here: the parser would need real files and cgroups for them */
	for (int i = 0; i < nrules; i++) {
		if (rng_percent(rng, m.exe)) {
			int e = (int)rng_below(rng, 3);

			p->rules[i].has_exe = true;
			p->rules[i].exe_dev = exe_devs[e];
			p->rules[i].exe_ino = exe_inos[e];
		}
		if (rng_percent(rng, m.cgroup)) {
			p->rules[i].has_cgroup = true;
			p->rules[i].cgroup_id = PICK(rng, rule_cgroups);
		}
	}
}

static void check_state(const struct fr_policy *p, const struct fr_policy_state *st, int gen)
{
	uint32_t whats = 0, dims = 0;

	for (int i = 0; i < p->nrules; i++) {
		const struct fr_policy_rule *r = &p->rules[i];

		whats |= 1u << r->what;
		dims |= (r->has_uid ? 1u << FR_PD_UID : 0) | (r->comm[0] ? 1u << FR_PD_COMM : 0) |
			(r->has_exe ? 1u << FR_PD_EXE : 0) | (r->has_cgroup ? 1u << FR_PD_CGROUP : 0);
	}
	assert_int_equal(st->gen, gen);
	assert_int_equal(st->whats, whats);
	assert_int_equal(st->dims, dims);
	assert_int_equal(st->nrules, p->nrules);
}

/* Every port entry's block must be the only one containing its ports. */
static void check_port_blocks_disjoint(const struct store *s)
{
	for (int i = 0; i < s->n; i++) {
		const struct fr_policy_port_key *k = (const void *)s->entries[i].key;
		unsigned start = (unsigned)k->port[0] << 8 | k->port[1];
		int len = (int)k->prefixlen - 32;

		if (s->entries[i].map != FR_PM_PORT)
			continue;
		if (lpm_port(s, k->gen, k->what, k->proto, (uint16_t)start) != &s->entries[i].value)
			fail_msg("port block %u/%d is not the longest match of its start", start, len);
		/* no shorter block containing this one */
		for (int l = len - 1; l >= 0; l--) {
			struct fr_policy_port_key o = *k;
			unsigned m = l ? start & (0xffffu << (16 - l)) : 0;

			o.prefixlen = 32 + (uint32_t)l;
			o.port[0] = (uint8_t)(m >> 8);
			o.port[1] = (uint8_t)m;
			if (lookup(s, FR_PM_PORT, &o))
				fail_msg("port block %u/%d lies inside block %u/%d", start, len, m, l);
		}
	}
}

static void differential(uint64_t *rng, int nrules, int nqueries, long *matched, long *total)
{
	struct fr_policy p;
	struct fr_policy_state st;
	struct store s = { 0 };
	int gen = (int)rng_below(rng, 2);

	random_policy(rng, nrules, &p);
	compile_ok(&p, gen, &s, &st);
	check_state(&p, &st, gen);
	check_port_blocks_disjoint(&s);
	for (int i = 0; i < nqueries; i++) {
		struct query q = random_query(rng);
		int naive = naive_eval(&p, &q), maps = map_eval(&s, &st, &q);

		if (naive != maps) {
			char addr[INET6_ADDRSTRLEN];

			inet_ntop(q.family == 4 ? AF_INET : AF_INET6, q.addr, addr, sizeof(addr));
			for (int r = 0; r < p.nrules && r < 80; r++)
				print_message("rule %d: %s%s%s\n", r, p.rules[r].text,
					      p.rules[r].has_exe ? " +exe" : "", p.rules[r].has_cgroup ? " +cgroup" : "");
			fail_msg("%s %s port %u proto %d uid %u comm %s: the rules say %d, the maps %d",
				 fr_policy_what_name(q.what), addr, q.port, q.proto, q.uid, q.comm, naive, maps);
		}
		*matched += naive >= 0;
		(*total)++;
	}
	store_reset(&s, 0, 0);
	fr_policy_free(&p);
}

static void test_random_policies(void **state)
{
	uint64_t rng = 20260115;
	long matched = 0, total = 0;

	(void)state;
	for (int i = 0; i < 300; i++)
		differential(&rng, 1 + (int)rng_below(&rng, 60), 2000, &matched, &total);
	print_message("random policies: %ld queries, %ld matched a rule\n", total, matched);
	/* Neither all matching nor none: the queries must exercise both. */
	assert_true(matched > total / 10);
	assert_true(matched < total - total / 10);
}

static void test_random_full_policy(void **state)
{
	uint64_t rng = 1024;
	long matched = 0, total = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		differential(&rng, FR_POLICY_MAX_RULES, 5000, &matched, &total);
	print_message("1024-rule policies: %ld queries, %ld matched a rule\n", total, matched);
	assert_true(matched > total / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_cgroup_depth),
		cmocka_unit_test(test_empty_policies),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_limits),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_exact_entries),
		cmocka_unit_test(test_compile_stops),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_random_policies),
		cmocka_unit_test(test_random_full_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
