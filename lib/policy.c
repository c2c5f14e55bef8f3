/*
 * Policy files (see policy.h): the rule file's syntax, resolving the files and cgroups it
 * names to the identities the kernel sees, and compiling the rules into the bitmap entries
 * of the policy maps that include/flowrec.h lays out and bpf/policy.bpf.h looks up.
 *
 * Compilation needs no memory of its own: a thousand rules make a few thousand entries, and
 * finding each one by rescanning the rules is quick enough for something done once per
 * policy load, with no allocation that could fail half way through writing the maps.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <limits.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_LINE 4095
#define MAX_FILE (4u << 20)
#define COMM_MAX (FR_COMM_LEN - 1)

static const char valid_keys[] = "dst, src, port, proto, comm, exe, uid, cgroup or name";

struct parser {
	const char *path;
	int line;
	char *err;
	size_t errlen;
};

static int rule_error(const struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int rule_error(const struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->errlen == 0)
		return -1;
	n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->path, ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

const char *fr_policy_action_name(int action)
{
	switch (action) {
	case FR_PA_DENY:
		return "deny";
	case FR_PA_AUDIT:
		return "audit";
	case FR_PA_ALLOW:
		return "allow";
	}
	return "?";
}

const char *fr_policy_what_name(int what)
{
	switch (what) {
	case FR_PW_CONNECT:
		return "connect";
	case FR_PW_BIND:
		return "bind";
	case FR_PW_ACCEPT:
		return "accept";
	}
	return "?";
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Decimal digits only (no sign, no spaces, which strtoul would take), at most max. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!all_digits(s))
		return -1;
	for (; *s; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		/* Checked per digit, so the product above can never wrap. */
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

/* The first len bits of a, the rest cleared. */
static void mask_prefix(const uint8_t a[16], int len, uint8_t out[16])
{
	for (int i = 0; i < 16; i++) {
		int bits = len - i * 8;

		if (bits >= 8)
			out[i] = a[i];
		else if (bits <= 0)
			out[i] = 0;
		else
			out[i] = a[i] & (uint8_t)(0xff << (8 - bits));
	}
}

static bool same_prefix(const uint8_t a[16], const uint8_t b[16], int len)
{
	uint8_t ma[16], mb[16];

	mask_prefix(a, len, ma);
	mask_prefix(b, len, mb);
	return memcmp(ma, mb, 16) == 0;
}

static int parse_address(const struct parser *ps, const char *key, const char *value,
			 struct fr_policy_rule *r)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char addr_text[INET6_ADDRSTRLEN + 8], net_text[INET6_ADDRSTRLEN];
	uint8_t bytes[16] = { 0 }, net[16];
	const char *slash = strchr(value, '/');
	size_t addr_len = slash ? (size_t)(slash - value) : strlen(value);
	int family, af, maxlen;
	uint64_t len;

	if (addr_len >= sizeof(addr_text))
		goto bad_address;
	memcpy(addr_text, value, addr_len);
	addr_text[addr_len] = 0;
	if (inet_pton(AF_INET, addr_text, bytes) == 1) {
		family = 4, af = AF_INET, maxlen = 32;
	} else if (inet_pton(AF_INET6, addr_text, bytes) == 1) {
		family = 6, af = AF_INET6, maxlen = 128;
	} else {
		goto bad_address;
	}
	len = (uint64_t)maxlen;
	if (slash) {
		int rc = parse_decimal(slash + 1, 255, &len);

		if (rc == -1)
			return rule_error(ps, "bad prefix length '%s' in %s %s", slash + 1, key, value);
		if (rc == -2 || len > (uint64_t)maxlen)
			return rule_error(ps, "prefix length %s is out of range for IPv%d (0..%d)", slash + 1,
					  family, maxlen);
	}
	mask_prefix(bytes, (int)len, net);
	if (memcmp(net, bytes, 16) != 0) {
		inet_ntop(af, net, net_text, sizeof(net_text));
		return rule_error(ps, "%s/%d has host bits set (the network is %s/%d)", addr_text, (int)len,
				  net_text, (int)len);
	}
	/* What the kernel shows a dual-stack socket's IPv4 peer as; the programs look such
	 * addresses up as IPv4, so that is where the rule has to be. */
	if (family == 6 && len >= 96 && memcmp(bytes, v4_mapped, sizeof(v4_mapped)) == 0) {
		family = 4;
		len -= 96;
		memmove(bytes, bytes + 12, 4);
		memset(bytes + 4, 0, 12);
	}
	r->family = (uint8_t)family;
	r->prefixlen = (uint8_t)len;
	memcpy(r->addr, bytes, sizeof(r->addr));
	return 0;
bad_address:
	return rule_error(ps, "bad address '%s' in %s (expected an IPv4 or IPv6 address, optionally /LEN)",
			  value, key);
}

static int parse_port(const struct parser *ps, const char *value, struct fr_policy_rule *r)
{
	char lo_text[MAX_LINE + 1], *hi_text;
	uint64_t lo, hi;
	const char *dash = strchr(value, '-');
	int rc_lo, rc_hi;

	if (snprintf(lo_text, sizeof(lo_text), "%s", value) >= (int)sizeof(lo_text))
		goto bad_port;
	if (dash) {
		lo_text[dash - value] = 0;
		hi_text = lo_text + (dash - value) + 1;
	} else {
		hi_text = lo_text;
	}
	rc_lo = parse_decimal(lo_text, 65535, &lo);
	rc_hi = parse_decimal(hi_text, 65535, &hi);
	if (rc_lo == -1 || rc_hi == -1)
		goto bad_port;
	if (rc_lo == -2 || rc_hi == -2)
		return rule_error(ps, "port %s is out of range (0..65535)", rc_lo == -2 ? lo_text : hi_text);
	if (lo > hi)
		return rule_error(ps, "port range %s is reversed (N-M needs N <= M)", value);
	r->has_port = true;
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return 0;
bad_port:
	return rule_error(ps, "bad port '%s' (expected N or N-M, 0..65535)", value);
}

static int parse_uid(const struct parser *ps, const char *value, struct fr_policy_rule *r)
{
	uint64_t uid;
	struct passwd *pw;

	if (all_digits(value)) {
		/* (uid_t)-1 is what "no uid" looks like to the kernel's interfaces. */
		if (parse_decimal(value, 4294967294u, &uid))
			return rule_error(ps, "uid %s is out of range (0..4294967294)", value);
	} else {
		/* Not found sets errno to one of several values, or none, depending on the NSS
		 * module: it says nothing worth showing. */
		pw = getpwnam(value);
		if (!pw)
			return rule_error(ps, "unknown user '%s'", value);
		uid = pw->pw_uid;
	}
	r->has_uid = true;
	r->uid = (uint32_t)uid;
	return 0;
}

static int check_path(const struct parser *ps, const char *key, const char *value, char *dst,
		      size_t dstlen, struct stat *st)
{
	if (value[0] != '/')
		return rule_error(ps, "%s must be an absolute path: '%s'", key, value);
	if (strlen(value) >= dstlen)
		return rule_error(ps, "%s path is longer than %zu bytes", key, dstlen - 1);
	if (stat(value, st))
		return rule_error(ps, "%s %s: %s", key, value, strerror(errno));
	snprintf(dst, dstlen, "%s", value);
	return 0;
}

/* The device number the kernel gives the superblock of the mount that holds path: what a
 * program reads as inode->i_sb->s_dev, packed the kernel's way (12 bits of major over 20 of
 * minor). stat's st_dev can differ: overlayfs over more than one filesystem and btrfs
 * subvolumes report another device for a file than its superblock's. /proc/self/mountinfo
 * prints each mount's superblock device; statx names the mount. Falls back to st_dev. */
static uint32_t superblock_dev(const char *path, const struct stat *st)
{
	struct statx stx;
	unsigned int ma = major(st->st_dev), mi = minor(st->st_dev);
	char line[4096];
	FILE *f;

	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID) &&
	    (f = fopen("/proc/self/mountinfo", "re"))) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long long id;
			unsigned int lma, lmi;

			if (sscanf(line, "%llu %*u %u:%u", &id, &lma, &lmi) == 3 && id == stx.stx_mnt_id) {
				ma = lma;
				mi = lmi;
				break;
			}
		}
		fclose(f);
	}
	return (uint32_t)((ma << 20) | mi);
}

static int parse_exe(const struct parser *ps, const char *value, struct fr_policy_rule *r)
{
	struct stat st;

	if (check_path(ps, "exe", value, r->exe, sizeof(r->exe), &st))
		return -1;
	if (!S_ISREG(st.st_mode))
		return rule_error(ps, "exe %s: not a regular file", value);
	r->has_exe = true;
	r->exe_dev = superblock_dev(value, &st);
	r->exe_ino = st.st_ino; /* i_ino: overlayfs gives a file its real inode's number */
	return 0;
}

/* How far below the cgroup2 root a cgroup directory is: its ancestors on cgroup2 (a hybrid
 * mount's root has a parent on another file system). */
static int cgroup_level(const char *path)
{
	char p[PATH_MAX];
	struct statfs sfs;
	int level = 0;
	char *slash;

	if (!realpath(path, p))
		return 0;
	while ((slash = strrchr(p, '/')) && slash != p) {
		*slash = 0;
		if (statfs(p, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
			break;
		level++;
	}
	return level;
}

static int parse_cgroup(const struct parser *ps, const char *value, struct fr_policy_rule *r)
{
	struct stat st;
	struct statfs sfs;

	if (check_path(ps, "cgroup", value, r->cgroup, sizeof(r->cgroup), &st))
		return -1;
	if (!S_ISDIR(st.st_mode))
		return rule_error(ps, "cgroup %s: not a directory", value);
	if (statfs(value, &sfs))
		return rule_error(ps, "cgroup %s: %s", value, strerror(errno));
	/* Only cgroup2 directories have inode numbers that are the ids the programs see. */
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return rule_error(ps, "cgroup %s: not on a cgroup2 file system", value);
	if (cgroup_level(value) >= FR_POLICY_CGROUP_DEPTH)
		return rule_error(ps, "cgroup %s is more than %d levels below the cgroup2 root: the "
				      "programs look %d levels down", value, FR_POLICY_CGROUP_DEPTH - 1,
				  FR_POLICY_CGROUP_DEPTH - 1);
	r->has_cgroup = true;
	r->cgroup_id = st.st_ino;
	return 0;
}

static int parse_name(const struct parser *ps, const char *value, const struct fr_policy *p,
		      struct fr_policy_rule *r)
{
	size_t len = strlen(value);

	if (len >= FR_POLICY_NAME_LEN || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						       "0123456789_.:-") != len)
		return rule_error(ps, "bad name '%s' (1 to %d of A-Z a-z 0-9 _ . : -)", value,
				  FR_POLICY_NAME_LEN - 1);
	/* Names are how the recorder's output refers to rules, so each must be one rule. */
	for (int i = 0; i < p->nrules; i++) {
		if (strcmp(p->rules[i].name, value) == 0)
			return rule_error(ps, "name '%s' is already that of the rule on line %d", value,
					  p->rules[i].line);
	}
	memcpy(r->name, value, len + 1);
	return 0;
}

enum rule_key { K_DST, K_SRC, K_PORT, K_PROTO, K_COMM, K_EXE, K_UID, K_CGROUP, K_NAME, K_COUNT };

static const char *const key_names[K_COUNT] = { "dst", "src", "port", "proto", "comm",
						"exe", "uid", "cgroup", "name" };

static int parse_key(const struct parser *ps, enum rule_key key, const char *value,
		     const struct fr_policy *p, struct fr_policy_rule *r)
{
	switch (key) {
	case K_DST:
	case K_SRC:
		if (r->what == FR_PW_BIND)
			return rule_error(ps, "bind rules match no address");
		if (key == K_DST && r->what != FR_PW_CONNECT)
			return rule_error(ps, "dst is for connect rules (the remote address); accept rules "
					      "match src");
		if (key == K_SRC && r->what != FR_PW_ACCEPT)
			return rule_error(ps, "src is for accept rules (the peer's address)");
		return parse_address(ps, key_names[key], value, r);
	case K_PORT:
		return parse_port(ps, value, r);
	case K_PROTO:
		if (strcmp(value, "tcp") == 0)
			r->proto = 6;
		else if (strcmp(value, "udp") == 0)
			r->proto = 17;
		else
			return rule_error(ps, "unknown proto '%s' (expected tcp or udp)", value);
		return 0;
	case K_COMM:
		if (strlen(value) > COMM_MAX)
			return rule_error(ps, "comm '%s' is longer than %d bytes (all the kernel keeps of a "
					      "task's name)", value, COMM_MAX);
		memset(r->comm, 0, sizeof(r->comm));
		memcpy(r->comm, value, strlen(value));
		return 0;
	case K_EXE:
		return parse_exe(ps, value, r);
	case K_UID:
		return parse_uid(ps, value, r);
	case K_CGROUP:
		return parse_cgroup(ps, value, r);
	case K_NAME:
		return parse_name(ps, value, p, r);
	case K_COUNT:
		break;
	}
	return rule_error(ps, "internal error: key %d", (int)key);
}

/* The line with its comment cut off and each run of blanks made one space, trimmed. */
static void normalise_line(const char *line, char *out)
{
	size_t n = 0;
	bool blank = false;

	for (; *line && *line != '#'; line++) {
		if (*line == ' ' || *line == '\t') {
			blank = n > 0;
			continue;
		}
		if (blank)
			out[n++] = ' ';
		blank = false;
		out[n++] = *line;
	}
	out[n] = 0;
}

static char *next_token(char **cursor)
{
	char *tok = *cursor, *space;

	if (!*tok)
		return NULL;
	space = strchr(tok, ' ');
	if (space) {
		*space = 0;
		*cursor = space + 1;
	} else {
		*cursor = tok + strlen(tok);
	}
	return tok;
}

/* One line into *r. Returns 1 for a line with no rule, 0 for a rule, -1 on error. */
static int parse_line(const struct parser *ps, char *line, const struct fr_policy *p,
		      struct fr_policy_rule *r)
{
	static const char more[] = "...";
	char norm[MAX_LINE + 1], *cursor = norm, *tok;
	bool seen[K_COUNT] = { false };
	size_t len;

	normalise_line(line, norm);
	if (!norm[0])
		return 1;
	memset(r, 0, sizeof(*r));
	r->line = ps->line;
	snprintf(r->name, sizeof(r->name), "line %d", ps->line);
	/* text is for showing the rule: one too long for it is cut, and says so. */
	len = strlen(norm);
	if (len < sizeof(r->text)) {
		memcpy(r->text, norm, len + 1);
	} else {
		memcpy(r->text, norm, sizeof(r->text) - sizeof(more));
		memcpy(r->text + sizeof(r->text) - sizeof(more), more, sizeof(more));
	}

	tok = next_token(&cursor);
	if (strcmp(tok, "deny") == 0)
		r->action = FR_PA_DENY;
	else if (strcmp(tok, "audit") == 0)
		r->action = FR_PA_AUDIT;
	else if (strcmp(tok, "allow") == 0)
		r->action = FR_PA_ALLOW;
	else
		return rule_error(ps, "unknown action '%s' (expected deny, audit or allow)", tok);

	tok = next_token(&cursor);
	if (!tok)
		return rule_error(ps, "%s needs what it applies to (connect, bind or accept)",
				  fr_policy_action_name(r->action));
	if (strcmp(tok, "connect") == 0)
		r->what = FR_PW_CONNECT;
	else if (strcmp(tok, "bind") == 0)
		r->what = FR_PW_BIND;
	else if (strcmp(tok, "accept") == 0)
		r->what = FR_PW_ACCEPT;
	else
		return rule_error(ps, "unknown what '%s' (expected connect, bind or accept)", tok);

	while ((tok = next_token(&cursor))) {
		const char *value;
		int key;

		for (key = 0; key < K_COUNT; key++) {
			if (strcmp(tok, key_names[key]) == 0)
				break;
		}
		if (key == K_COUNT)
			return rule_error(ps, "unknown key '%s' (expected %s)", tok, valid_keys);
		value = next_token(&cursor);
		if (!value)
			return rule_error(ps, "%s needs a value", tok);
		if (seen[key])
			return rule_error(ps, "%s is given twice", tok);
		seen[key] = true;
		if (parse_key(ps, (enum rule_key)key, value, p, r))
			return -1;
	}
	return 0;
}

static int set_path(struct fr_policy *p, const char *path, char *err, size_t errlen)
{
	if (snprintf(p->path, sizeof(p->path), "%s", path) >= (int)sizeof(p->path)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

int fr_policy_parse_text(const char *path, const char *text, struct fr_policy *p, char *err,
			 size_t errlen)
{
	struct parser ps = { .path = path, .line = 0, .err = err, .errlen = errlen };
	char line[MAX_LINE + 1];
	int capacity = 0, ret = -1;

	memset(p, 0, sizeof(*p));
	if (set_path(p, path, err, errlen))
		goto cleanup;
	while (*text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		struct fr_policy_rule rule;
		int rc;

		ps.line++;
		if (len > MAX_LINE) {
			rule_error(&ps, "line longer than %d bytes", MAX_LINE);
			goto cleanup;
		}
		memcpy(line, text, len);
		text += end ? len + 1 : len;
		/* A file written on Windows is still one rule a line. */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = 0;

		rc = parse_line(&ps, line, p, &rule);
		if (rc < 0)
			goto cleanup;
		if (rc > 0)
			continue;
		if (p->nrules == FR_POLICY_MAX_RULES) {
			rule_error(&ps, "more than %d rules (the most a policy can hold)", FR_POLICY_MAX_RULES);
			goto cleanup;
		}
		if (p->nrules == capacity) {
			int more = capacity ? capacity * 2 : 16;
			struct fr_policy_rule *grown;

			if (more > FR_POLICY_MAX_RULES)
				more = FR_POLICY_MAX_RULES;
			grown = realloc(p->rules, (size_t)more * sizeof(*grown));
			if (!grown) {
				snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
				goto cleanup;
			}
			p->rules = grown;
			capacity = more;
		}
		p->rules[p->nrules++] = rule;
	}
	ret = 0;
cleanup:
	if (ret)
		fr_policy_free(p);
	return ret;
}

int fr_policy_parse_file(const char *path, struct fr_policy *p, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, ret = -1;

	memset(p, 0, sizeof(*p));
	/* O_NONBLOCK so that a FIFO named by mistake is refused below rather than waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot read %s: not a regular file", path);
		goto cleanup;
	}
	if (st.st_size > (off_t)MAX_FILE)
		goto too_large;
	/* One byte more than the limit, to notice a file that grew since fstat. */
	text = malloc(MAX_FILE + 2);
	if (!text) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(ENOMEM));
		goto cleanup;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, MAX_FILE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MAX_FILE)
			goto too_large;
	}
	text[len] = 0;
	if (strlen(text) != len) {
		snprintf(err, errlen, "cannot read %s: not a text file (it holds a NUL byte)", path);
		goto cleanup;
	}
	ret = fr_policy_parse_text(path, text, p, err, errlen);
	goto cleanup;
too_large:
	snprintf(err, errlen, "cannot read %s: larger than %u MiB", path, MAX_FILE >> 20);
cleanup:
	free(text);
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool same_rule(const struct fr_policy_rule *a, const struct fr_policy_rule *b)
{
	return a->line == b->line && a->action == b->action && a->what == b->what &&
	       a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr)) && a->has_port == b->has_port &&
	       a->port_lo == b->port_lo && a->port_hi == b->port_hi && a->proto == b->proto &&
	       a->has_uid == b->has_uid && a->uid == b->uid && !memcmp(a->comm, b->comm, sizeof(a->comm)) &&
	       a->has_exe == b->has_exe && !strcmp(a->exe, b->exe) && a->exe_dev == b->exe_dev &&
	       a->exe_ino == b->exe_ino && a->has_cgroup == b->has_cgroup &&
	       !strcmp(a->cgroup, b->cgroup) && a->cgroup_id == b->cgroup_id &&
	       !strcmp(a->name, b->name) && !strcmp(a->text, b->text);
}

bool fr_policy_same(const struct fr_policy *a, const struct fr_policy *b)
{
	if (a->nrules != b->nrules || strcmp(a->path, b->path))
		return false;
	for (int i = 0; i < a->nrules; i++) {
		if (!same_rule(&a->rules[i], &b->rules[i]))
			return false;
	}
	return true;
}

void fr_policy_free(struct fr_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

/* Compilation */

static void set_rule_bit(struct fr_policy_bits *b, int index)
{
	b->w[index / 64] |= 1ULL << (index % 64);
}

static bool bits_empty(const struct fr_policy_bits *b)
{
	for (int i = 0; i < FR_POLICY_WORDS; i++) {
		if (b->w[i])
			return false;
	}
	return true;
}

static void rule_net(const struct fr_policy_rule *r, uint8_t out[16])
{
	uint8_t bytes[16];

	memcpy(bytes, r->addr, sizeof(bytes));
	mask_prefix(bytes, r->prefixlen, out);
}

/* The rules of what for an address of family, at the prefix (net, len). */
static void addr_rules(const struct fr_policy *p, int what, int family, const uint8_t net[16], int len,
		       struct fr_policy_bits *bits)
{
	memset(bits, 0, sizeof(*bits));
	for (int i = 0; i < p->nrules; i++) {
		const struct fr_policy_rule *r = &p->rules[i];
		uint8_t rnet[16];

		if (r->what != what)
			continue;
		if (r->family == 0) {
			set_rule_bit(bits, i);
			continue;
		}
		if (r->family != family || r->prefixlen > len)
			continue;
		rule_net(r, rnet);
		if (same_prefix(rnet, net, r->prefixlen))
			set_rule_bit(bits, i);
	}
}

/* Each prefix holds the rules of every prefix containing it: the longest match a lookup
 * finds then has all the rules that contain the address, since those prefixes are nested. */
static int compile_addr(const struct fr_policy *p, uint8_t gen, int what, int family,
			fr_policy_entry_fn fn, void *ctx)
{
	/* Candidate -1 is /0, which every lookup of the family reaches; then each rule's prefix
	 * the first time it appears. */
	for (int c = -1; c < p->nrules; c++) {
		struct fr_policy_addr_key key;
		struct fr_policy_bits bits;
		uint8_t net[16] = { 0 };
		int len = 0, rc;

		if (c >= 0) {
			const struct fr_policy_rule *r = &p->rules[c];
			bool seen = false;

			if (r->what != what || r->family != family || r->prefixlen == 0)
				continue;
			rule_net(r, net);
			len = r->prefixlen;
			for (int j = 0; j < c && !seen; j++) {
				const struct fr_policy_rule *o = &p->rules[j];
				uint8_t onet[16];

				if (o->what != what || o->family != family || o->prefixlen != len)
					continue;
				rule_net(o, onet);
				seen = memcmp(onet, net, sizeof(net)) == 0;
			}
			if (seen)
				continue;
		}
		addr_rules(p, what, family, net, len, &bits);
		if (bits_empty(&bits))
			continue;
		memset(&key, 0, sizeof(key));
		key.prefixlen = 32 + (uint32_t)len;
		key.gen = gen;
		key.what = (uint8_t)what;
		key.family = (uint8_t)family;
		memcpy(key.addr, net, sizeof(key.addr));
		rc = fn(ctx, FR_PM_ADDR, &key, &bits);
		if (rc)
			return rc;
	}
	return 0;
}

/* An interval as aligned power-of-two blocks, each the largest that fits where it starts:
 * the blocks are disjoint, so the trie's longest match is the only match. */
static int compile_port_blocks(uint8_t gen, int what, int proto, uint32_t lo, uint32_t hi,
			       const struct fr_policy_bits *bits, fr_policy_entry_fn fn, void *ctx)
{
	while (lo <= hi) {
		struct fr_policy_port_key key;
		int k = 0, rc;

		while (k < 16 && (lo & ((2u << k) - 1)) == 0 && lo + (2u << k) - 1 <= hi)
			k++;
		memset(&key, 0, sizeof(key));
		key.prefixlen = 32 + 16 - (uint32_t)k;
		key.gen = gen;
		key.what = (uint8_t)what;
		key.proto = (uint8_t)proto;
		key.port[0] = (uint8_t)(lo >> 8);
		key.port[1] = (uint8_t)lo;
		rc = fn(ctx, FR_PM_PORT, &key, bits);
		if (rc)
			return rc;
		lo += 1u << k;
	}
	return 0;
}

static int compile_port(const struct fr_policy *p, uint8_t gen, int what, int proto,
			fr_policy_entry_fn fn, void *ctx)
{
	uint32_t lo = 0;

	/* Each step takes the interval from lo to the next rule boundary: no rule starts or ends
	 * inside it, and the rule that makes the boundary is on one side of it only, so the
	 * intervals are the maximal ones with one set of rules. */
	while (lo <= 65535) {
		struct fr_policy_bits bits = { { 0 } };
		uint32_t next = 65536;
		int rc;

		for (int i = 0; i < p->nrules; i++) {
			const struct fr_policy_rule *r = &p->rules[i];
			uint32_t rlo = r->has_port ? r->port_lo : 0, rhi = r->has_port ? r->port_hi : 65535;

			if (r->what != what || (r->proto && r->proto != proto))
				continue;
			if (rlo > lo && rlo < next)
				next = rlo;
			if (rlo <= lo && lo <= rhi) {
				set_rule_bit(&bits, i);
				if (rhi + 1 < next)
					next = rhi + 1;
			}
		}
		if (!bits_empty(&bits)) {
			rc = compile_port_blocks(gen, what, proto, lo, next - 1, &bits, fn, ctx);
			if (rc)
				return rc;
		}
		lo = next;
	}
	return 0;
}

/* Whether r names a value of dim, and which (as the key's v holds it). */
static bool rule_dim_value(const struct fr_policy_rule *r, int dim, uint64_t v[2])
{
	v[0] = v[1] = 0;
	switch (dim) {
	case FR_PD_UID:
		v[0] = r->uid;
		return r->has_uid;
	case FR_PD_COMM:
		memcpy(v, r->comm, strnlen(r->comm, FR_COMM_LEN));
		return r->comm[0] != 0;
	case FR_PD_EXE:
		v[0] = r->exe_dev;
		v[1] = r->exe_ino;
		return r->has_exe;
	case FR_PD_CGROUP:
		v[0] = r->cgroup_id;
		return r->has_cgroup;
	}
	return false;
}

static int emit_match(uint8_t gen, int dim, int any, const uint64_t v[2], const struct fr_policy_bits *bits,
		      fr_policy_entry_fn fn, void *ctx)
{
	struct fr_policy_match_key key;

	if (bits_empty(bits))
		return 0;
	memset(&key, 0, sizeof(key));
	key.gen = gen;
	key.dim = (uint8_t)dim;
	key.any = (uint8_t)any;
	if (!any)
		memcpy(key.v, v, sizeof(key.v));
	return fn(ctx, FR_PM_MATCH, &key, bits);
}

static int compile_match(const struct fr_policy *p, uint8_t gen, int dim, fr_policy_entry_fn fn, void *ctx)
{
	static const uint64_t none[2] = { 0, 0 };
	struct fr_policy_bits unconstrained = { { 0 } };
	uint64_t v[2];
	int rc;

	for (int i = 0; i < p->nrules; i++) {
		if (!rule_dim_value(&p->rules[i], dim, v))
			set_rule_bit(&unconstrained, i);
	}
	rc = emit_match(gen, dim, 1, none, &unconstrained, fn, ctx);
	if (rc)
		return rc;
	for (int i = 0; i < p->nrules; i++) {
		struct fr_policy_bits bits;
		uint64_t ov[2];
		bool seen = false;

		if (!rule_dim_value(&p->rules[i], dim, v))
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = rule_dim_value(&p->rules[j], dim, ov) && memcmp(ov, v, sizeof(v)) == 0;
		if (seen)
			continue;
		/* A task has one cgroup but is in all its ancestors: the program ORs the ANY entry
		 * with each ancestor's, so a cgroup's own entry must not repeat the ANY rules. */
		if (dim == FR_PD_CGROUP)
			memset(&bits, 0, sizeof(bits));
		else
			bits = unconstrained;
		for (int j = i; j < p->nrules; j++) {
			if (rule_dim_value(&p->rules[j], dim, ov) && memcmp(ov, v, sizeof(v)) == 0)
				set_rule_bit(&bits, j);
		}
		rc = emit_match(gen, dim, 0, v, &bits, fn, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int fr_policy_compile(const struct fr_policy *p, uint8_t gen, struct fr_policy_state *state,
		      fr_policy_entry_fn fn, void *ctx)
{
	static const int whats[] = { FR_PW_CONNECT, FR_PW_BIND, FR_PW_ACCEPT };
	static const int protos[] = { 6, 17 };
	int rc;

	memset(state, 0, sizeof(*state));
	state->gen = gen;
	state->nrules = (uint32_t)p->nrules;
	for (int i = 0; i < p->nrules; i++) {
		uint64_t v[2];

		if (p->rules[i].what < 32)
			state->whats |= 1u << p->rules[i].what;
		for (int dim = 0; dim < FR_PD_MAX; dim++) {
			if (rule_dim_value(&p->rules[i], dim, v))
				state->dims |= 1u << dim;
		}
	}
	for (size_t w = 0; w < sizeof(whats) / sizeof(whats[0]); w++) {
		if (!(state->whats & (1u << whats[w])))
			continue;
		rc = compile_addr(p, gen, whats[w], 4, fn, ctx);
		if (!rc)
			rc = compile_addr(p, gen, whats[w], 6, fn, ctx);
		for (size_t i = 0; !rc && i < sizeof(protos) / sizeof(protos[0]); i++)
			rc = compile_port(p, gen, whats[w], protos[i], fn, ctx);
		if (rc)
			return rc;
	}
	for (int dim = 0; dim < FR_PD_MAX; dim++) {
		if (!(state->dims & (1u << dim)))
			continue;
		rc = compile_match(p, gen, dim, fn, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
