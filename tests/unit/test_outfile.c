/*
 * Unit tests for lib/outfile.c: a new file appears whole with its mode and nothing beside it;
 * an existing one is replaced; an unrelated FILE.tmp is left alone; an aborted write leaves
 * the old file; /dev/null stays a device and /dev/full's error is reported; a directory and
 * a missing directory are refused with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/flowrec-outfile.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/out.pcap", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void write_str(struct fr_outfile *f, const char *s)
{
	assert_int_equal(write(f->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void new_file_whole_with_mode(void **state)
{
	struct fixture *fx = *state;
	struct fr_outfile f;
	char err[512] = "";
	struct stat st;
	mode_t old = umask(022);

	assert_int_equal(fr_outfile_open(&f, fx->path, 0666, err, sizeof(err)), 0);
	assert_false(f.in_place);
	write_str(&f, "abc");
	/* Until committed the name does not exist; only the temporary does. */
	assert_int_equal(access(fx->path, F_OK), -1);
	assert_int_equal(entries(fx->dir), 1);
	assert_int_equal(fr_outfile_commit(&f, err, sizeof(err)), 0);
	umask(old);
	assert_string_equal(slurp(fx->path), "abc");
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(entries(fx->dir), 1);
	fr_outfile_abort(&f); /* after commit: harmless */
	assert_string_equal(slurp(fx->path), "abc");
}

static void replaces_keeps_unrelated_tmp(void **state)
{
	struct fixture *fx = *state;
	char tmp[PATH_MAX + 8], err[512] = "";
	struct fr_outfile f;
	FILE *o;

	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	o = fopen(tmp, "w");
	assert_non_null(o);
	fputs("mine", o);
	fclose(o);
	o = fopen(fx->path, "w");
	assert_non_null(o);
	fputs("old", o);
	fclose(o);

	assert_int_equal(fr_outfile_open(&f, fx->path, 0600, err, sizeof(err)), 0);
	write_str(&f, "new");
	assert_int_equal(fr_outfile_commit(&f, err, sizeof(err)), 0);
	assert_string_equal(slurp(fx->path), "new");
	assert_string_equal(slurp(tmp), "mine");
	assert_int_equal(entries(fx->dir), 2);
}

static void abort_keeps_old(void **state)
{
	struct fixture *fx = *state;
	struct fr_outfile f;
	char err[512] = "";
	FILE *o = fopen(fx->path, "w");

	assert_non_null(o);
	fputs("old", o);
	fclose(o);
	assert_int_equal(fr_outfile_open(&f, fx->path, 0600, err, sizeof(err)), 0);
	write_str(&f, "half");
	fr_outfile_abort(&f);
	fr_outfile_abort(&f);
	assert_string_equal(slurp(fx->path), "old");
	assert_int_equal(entries(fx->dir), 1);
}

static void devices_in_place(void **state)
{
	struct fr_outfile f;
	char err[512] = "";
	struct stat st;

	(void)state;
	assert_int_equal(fr_outfile_open(&f, "/dev/null", 0600, err, sizeof(err)), 0);
	assert_true(f.in_place);
	write_str(&f, "x");
	assert_int_equal(fr_outfile_commit(&f, err, sizeof(err)), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));

	assert_int_equal(fr_outfile_open(&f, "/dev/full", 0600, err, sizeof(err)), 0);
	assert_true(f.in_place);
	assert_int_equal(write(f.fd, "x", 1), -1);
	assert_int_equal(errno, ENOSPC);
	fr_outfile_abort(&f);
	assert_int_equal(stat("/dev/full", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

static void refused_with_message(void **state)
{
	struct fixture *fx = *state;
	char missing[PATH_MAX + 16], err[512] = "";
	struct fr_outfile f;

	assert_int_equal(fr_outfile_open(&f, fx->dir, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Is a directory"));
	assert_int_equal(f.fd, -1);
	snprintf(missing, sizeof(missing), "%s/no/such", fx->dir);
	assert_int_equal(fr_outfile_open(&f, missing, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write"));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(entries(fx->dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(new_file_whole_with_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(replaces_keeps_unrelated_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(abort_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_with_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
