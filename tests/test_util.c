/* Unit tests for the shared helpers: checked number parsing (valid and
 * invalid cases side by side), string lists, edit distance, paths,
 * mkdir -p, atomic writes, whole-file reads and the two checksums. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "util") < 0) {
		free(f);
		return -1;
	}
	umask(022);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* Names in dir, sorted and joined by '|'; "" for an empty folder. */
static void list_dir(const char *dir, char *out, size_t len)
{
	assert_int_equal(tu_list_dir(dir, out, len), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* The edges of long itself: 64 bits on arm64 and x86-64, 32 on armhf. */
#if LONG_MAX > 2147483647L
#define LONG_MAX_S  "9223372036854775807"
#define LONG_MIN_S  "-9223372036854775808"
#define LONG_OVER_S "9223372036854775808"
#else
#define LONG_MAX_S  "2147483647"
#define LONG_MIN_S  "-2147483648"
#define LONG_OVER_S "2147483648"
#endif

static void test_parse_long(void **state)
{
	static const struct {
		const char *s;
		long min, max;
		int ret;
		long value;
	} cases[] = {
	    {"0", 0, 100, 0, 0},
	    {"42", 0, 100, 0, 42},
	    {"100", 0, 100, 0, 100},
	    {"  42  ", 0, 100, 0, 42},
	    {"\t7\n", 0, 100, 0, 7},
	    {"+5", 0, 100, 0, 5},
	    {"-3", -10, 10, 0, -3},
	    {"-10", -10, 10, 0, -10},
	    {"007", 0, 100, 0, 7},
	    {LONG_MAX_S, LONG_MIN, LONG_MAX, 0, LONG_MAX},
	    {LONG_MIN_S, LONG_MIN, LONG_MAX, 0, LONG_MIN},
	    /* out of [min, max] */
	    {"101", 0, 100, -ERANGE, 0},
	    {"-1", 0, 100, -ERANGE, 0},
	    {"-11", -10, 10, -ERANGE, 0},
	    /* overflow of long itself */
	    {LONG_OVER_S, LONG_MIN, LONG_MAX, -ERANGE, 0},
	    {"99999999999999999999", 0, 100, -ERANGE, 0},
	    {"-99999999999999999999", LONG_MIN, LONG_MAX, -ERANGE, 0},
	    /* not a whole number */
	    {"", 0, 100, -EINVAL, 0},
	    {"   ", 0, 100, -EINVAL, 0},
	    {"abc", 0, 100, -EINVAL, 0},
	    {"12abc", 0, 100, -EINVAL, 0},
	    {"4 2", 0, 100, -EINVAL, 0},
	    {"1.5", 0, 100, -EINVAL, 0},
	    {"0x10", 0, 100, -EINVAL, 0},
	    {"-", 0, 100, -EINVAL, 0},
	    {"+", 0, 100, -EINVAL, 0},
	    {"--1", -10, 10, -EINVAL, 0},
	    {"5,", 0, 100, -EINVAL, 0},
	    {"1e2", 0, 1000, -EINVAL, 0},
	};
	int wrong = 0;
	long v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		v = -12345;
		r = parse_long(cases[i].s, cases[i].min, cases[i].max, &v);
		/* on failure *out stays untouched */
		if (r != cases[i].ret ||
		    v != (r == 0 ? cases[i].value : -12345)) {
			print_message("  parse_long('%s') = %d (%ld), want "
				      "%d (%ld)\n",
				      cases[i].s, r, v, cases[i].ret,
				      cases[i].value);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
	v = -12345;
	assert_int_equal(parse_long(NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(v, -12345);
}

static void test_parse_double(void **state)
{
	static const struct {
		const char *s;
		double min, max;
		int ret;
		double value;
	} cases[] = {
	    {"0", -100, 100, 0, 0.0},
	    {"-18", -70, 0, 0, -18.0},
	    {"-18.5", -70, 0, 0, -18.5},
	    {" 1e2 ", 0, 1000, 0, 100.0},
	    {"\t2.5\n", 0, 10, 0, 2.5},
	    {"+0.25", 0, 1, 0, 0.25},
	    {".5", 0, 1, 0, 0.5},
	    {"5.", 0, 10, 0, 5.0},
	    {"100", 0, 100, 0, 100.0},
	    /* out of [min, max] */
	    {"100.001", 0, 100, -ERANGE, 0},
	    {"-0.5", 0, 100, -ERANGE, 0},
	    {"-71", -70, 0, -ERANGE, 0},
	    /* not finite */
	    {"nan", -1e9, 1e9, -EINVAL, 0},
	    {"NaN", -1e9, 1e9, -EINVAL, 0},
	    {"-nan", -1e9, 1e9, -EINVAL, 0},
	    {"inf", -1e9, 1e9, -EINVAL, 0},
	    {"-inf", -1e9, 1e9, -EINVAL, 0},
	    {"infinity", -1e9, 1e9, -EINVAL, 0},
	    /* not a number */
	    {"", 0, 100, -EINVAL, 0},
	    {"  ", 0, 100, -EINVAL, 0},
	    {"abc", 0, 100, -EINVAL, 0},
	    {"1.5x", 0, 100, -EINVAL, 0},
	    {"1,5", 0, 100, -EINVAL, 0},
	    {"1 5", 0, 100, -EINVAL, 0},
	    {"--1", -10, 10, -EINVAL, 0},
	    {"-", -10, 10, -EINVAL, 0},
	    {".", -10, 10, -EINVAL, 0},
	    {"e5", 0, 1e9, -EINVAL, 0},
	    {"5 dB", -10, 10, -EINVAL, 0},
	};
	int wrong = 0;
	double v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		v = -12345.0;
		r = parse_double(cases[i].s, cases[i].min, cases[i].max, &v);
		/* on failure *out stays untouched */
		if (r != cases[i].ret ||
		    v != (r == 0 ? cases[i].value : -12345.0)) {
			print_message("  parse_double('%s') = %d (%g), want "
				      "%d (%g)\n",
				      cases[i].s, r, v, cases[i].ret,
				      cases[i].value);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
	v = -12345.0;
	assert_int_equal(parse_double(NULL, 0, 100, &v), -EINVAL);
	assert_true(v == -12345.0);
}

/* A number too big for a double is out of range, like one too big for a
 * long in parse_long: config then says "out of range", not "not a
 * number". */
static void test_parse_double_overflow(void **state)
{
	static const char *const cases[] = {"1e999", "-1e999", " 2e400 "};
	double v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		v = -12345.0;
		r = parse_double(cases[i], -1e9, 1e9, &v);
		if (r != -ERANGE)
			print_message(
			    "  parse_double('%s') = %d, want -ERANGE\n",
			    cases[i], r);
		assert_int_equal(r, -ERANGE);
		assert_true(v == -12345.0);
	}
}

/* The list joined by '|', to compare with one string per case. */
static void join(const struct strv *l, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? "|" : "",
				 l->v[i]);

		assert_true(w >= 0 && (size_t)w < len - used);
		used += (size_t)w;
	}
}

static void test_strv_split(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		const char *joined;
	} cases[] = {
	    {"en", 1, "en"},
	    {"en,es,fr", 3, "en|es|fr"},
	    {"en es\tfr", 3, "en|es|fr"},
	    {"en, es ,fr", 3, "en|es|fr"},
	    {" , en ,, es , ", 2, "en|es"},
	    {",,,en", 1, "en"},
	    {"en,,,", 1, "en"},
	    {"a\nb\r\nc", 3, "a|b|c"},
	    {"zh-cmn, quc  es", 3, "zh-cmn|quc|es"},
	    {"", 0, ""},
	    {"   ", 0, ""},
	    {",", 0, ""},
	    {" ,\t, ,", 0, ""},
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strv l = {0};

		assert_int_equal(strv_split(&l, cases[i].s), 0);
		assert_int_equal(l.n, cases[i].n);
		join(&l, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].joined);
		if (l.n)
			assert_null(l.v[l.n]); /* NULL-terminated */
		strv_clear(&l);
		assert_null(l.v);
		assert_int_equal(l.n, 0);
	}
}

static void test_strv_split_appends_and_limits(void **state)
{
	struct strv l = {0};
	char big[300], buf[256];

	(void)state;
	assert_int_equal(strv_push(&l, "first"), 0);
	assert_int_equal(strv_split(&l, "a,b"), 0);
	join(&l, buf, sizeof(buf));
	assert_string_equal(buf, "first|a|b");

	/* A field that cannot be a name at all is refused. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strv_split(&l, big), -ENAMETOOLONG);
	strv_clear(&l);
	strv_clear(&l); /* clearing twice is harmless */
}

static void test_strv_basics(void **state)
{
	struct strv l = {0};

	(void)state;
	assert_false(strv_contains(&l, "x"));
	for (int i = 0; i < 40; i++)
		assert_int_equal(strv_pushf(&l, "item-%d", i), 0);
	assert_int_equal(l.n, 40);
	assert_string_equal(l.v[0], "item-0");
	assert_string_equal(l.v[39], "item-39");
	assert_null(l.v[40]);
	assert_true(strv_contains(&l, "item-17"));
	assert_false(strv_contains(&l, "item-1 "));
	assert_false(strv_contains(&l, "item-40"));
	strv_clear(&l);
	assert_false(strv_contains(&l, "item-0"));
}

static void test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		size_t len; /* 0: strlen */
		bool valid;
	} cases[] = {
	    {"", 0, true},
	    {"play rights es", 0, true},
	    {"\xc3\xb1"
	     "and\xc3\xba",
	     0, true},				/* ñandú */
	    {"\xe2\x82\xac", 0, true},		/* € */
	    {"\xf0\x9d\x84\x9e", 0, true},	/* U+1D11E */
	    {"\xf4\x8f\xbf\xbf", 0, true},	/* U+10FFFF */
	    {"\xed\x9f\xbf", 0, true},		/* U+D7FF */
	    {"\xee\x80\x80", 0, true},		/* U+E000 */
	    {"a\0b", 3, true},			/* NUL is ASCII */
	    {"\x80", 0, false},			/* lone continuation */
	    {"\xbf", 0, false},			/* lone continuation */
	    {"\xc3", 0, false},			/* cut short */
	    {"\xe2\x82", 0, false},		/* cut short */
	    {"\xf0\x9d\x84", 0, false},		/* cut short */
	    {"\xc3\xb1", 1, false},		/* cut by len */
	    {"\xc3(", 0, false},		/* bad continuation */
	    {"\xe2(\xac", 0, false},		/* bad continuation */
	    {"\xc0\xaf", 0, false},		/* overlong '/' */
	    {"\xc1\xbf", 0, false},		/* overlong */
	    {"\xe0\x80\xaf", 0, false},		/* overlong '/' */
	    {"\xf0\x80\x80\xaf", 0, false},	/* overlong '/' */
	    {"\xed\xa0\x80", 0, false},		/* surrogate D800 */
	    {"\xed\xbf\xbf", 0, false},		/* surrogate DFFF */
	    {"\xf4\x90\x80\x80", 0, false},	/* above U+10FFFF */
	    {"\xf8\x88\x80\x80\x80", 0, false}, /* 5-byte form */
	    {"\xfe", 0, false},
	    {"\xff", 0, false},
	    {"ok \xff", 0, false},
	};
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);

		if (utf8_valid(cases[i].s, len) != cases[i].valid) {
			print_message("  utf8_valid case %zu: want %d\n", i,
				      cases[i].valid);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

static void test_edit_distance(void **state)
{
	static const struct {
		const char *a, *b;
		size_t d;
	} cases[] = {
	    {"", "", 0},
	    {"abc", "", 3},
	    {"", "abc", 3},
	    {"rights", "rights", 0},
	    {"kitten", "sitting", 3},
	    {"flaw", "lawn", 2},
	    {"rights", "right", 1},
	    {"rights", "frights", 1},
	    {"rights", "rigbts", 1},
	    /* no Damerau: a swap costs two */
	    {"rights", "rigths", 2},
	    /* suggestions ignore case */
	    {"Rights", "rights", 0},
	    {"volume", "VOLUME", 0},
	    {"es", "zh-cmn", 6},
	};
	char long_name[80];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(edit_distance(cases[i].a, cases[i].b),
				 cases[i].d);
		assert_int_equal(edit_distance(cases[i].b, cases[i].a),
				 cases[i].d);
	}
	/* Names longer than 64 are simply far from everything. */
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(edit_distance(long_name, "a"), SIZE_MAX);
	assert_int_equal(edit_distance("a", long_name), SIZE_MAX);
	long_name[65] = '\0';
	assert_int_equal(edit_distance(long_name, long_name), SIZE_MAX);
	long_name[64] = '\0';
	assert_int_equal(edit_distance(long_name, long_name), 0);
	assert_int_equal(edit_distance(long_name, "a"), 63);
}

static void test_path_resolve(void **state)
{
	static const struct {
		const char *dir, *rel, *want; /* want NULL: fails */
	} cases[] = {
	    {"/etc/bullhorn", "bullhorn.ini", "/etc/bullhorn/bullhorn.ini"},
	    {"/etc/bullhorn", "audio/en", "/etc/bullhorn/audio/en"},
	    {"/etc/bullhorn", "/var/cache/bh", "/var/cache/bh"},
	    {"config", "../audio", "config/../audio"},
	    {NULL, "audio", "audio"},
	    {"", "audio", "audio"},
	    {NULL, "/abs", "/abs"},
	    {"/etc", "", NULL},
	    {"/etc", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p = path_resolve(cases[i].dir, cases[i].rel);

		if (!cases[i].want) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		assert_string_equal(p, cases[i].want);
		free(p);
	}
}

static void test_path_dirname(void **state)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
	    {"/var/lib/bullhorn/state", "/var/lib/bullhorn"},
	    {"run/bullhorn.sock", "run"},
	    {"a/b/c", "a/b"},
	    {"./state", "."},
	    {"state", "."},
	    {"/state", "/"},
	    {"/", "/"},
	    {"", "."},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p = path_dirname(cases[i].path);

		assert_non_null(p);
		assert_string_equal(p, cases[i].want);
		free(p);
	}
}

static void test_path_join(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(path_join(buf, sizeof(buf), "a", "b"), 0);
	assert_string_equal(buf, "a/b");
	assert_int_equal(path_join(buf, sizeof(buf), "abc", "def"), 0);
	assert_string_equal(buf, "abc/def"); /* exactly fills buf */
	assert_int_equal(path_join(buf, sizeof(buf), "abc", "defg"),
			 -ENAMETOOLONG);
	assert_int_equal(path_join(buf, 4, "a", "b"), 0);
	assert_int_equal(path_join(buf, 3, "a", "b"), -ENAMETOOLONG);
	assert_int_equal(path_join(buf, sizeof(buf), "/", "x"), 0);
	assert_string_equal(buf, "//x");
}

static void test_mkdir_p(void **state)
{
	struct fixture *f = *state;
	char path[256], file[256];
	struct stat st;

	/* Every missing component is made, with the mode given. */
	snprintf(path, sizeof(path), "%s/a/b/c/d", f->dir);
	assert_int_equal(mkdir_p(path, 0750), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(path, sizeof(path), "%s/a/b", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);

	/* Existing folders are fine, with or without a trailing slash or
	 * doubled slashes. */
	snprintf(path, sizeof(path), "%s/a/b/c/d", f->dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	assert_int_equal(mkdir_p(f->dir, 0755), 0);
	snprintf(path, sizeof(path), "%s//a//x/", f->dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/x", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* A file in the way of a parent. */
	snprintf(file, sizeof(file), "%s/file", f->dir);
	write_text(file, "x");
	snprintf(path, sizeof(path), "%s/file/sub", f->dir);
	assert_int_equal(mkdir_p(path, 0755), -ENOTDIR);

	assert_true(mkdir_p("", 0755) < 0);
}

/* A file where the folder itself should be: mkdir -p refuses it, and so
 * must mkdir_p, or callers go on as if the folder were there. */
static void test_mkdir_p_file_in_place(void **state)
{
	struct fixture *f = *state;
	char file[256];
	int r;

	snprintf(file, sizeof(file), "%s/file", f->dir);
	write_text(file, "x");
	r = mkdir_p(file, 0755);
	if (r == 0)
		print_message("  mkdir_p(existing regular file) returned 0\n");
	assert_true(r == -ENOTDIR || r == -EEXIST);
}

static void check_file(const char *path, const char *want, unsigned mode)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(read_file(path, &data, &len, 1 << 20), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

static void test_atomic_write_file(void **state)
{
	struct fixture *f = *state;
	char path[256], names[512];

	snprintf(path, sizeof(path), "%s/state", f->dir);
	assert_int_equal(atomic_write_file(path, "volume=40\n", 10, 0600), 0);
	check_file(path, "volume=40\n", 0600);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "state");

	/* Replaces the old file whole, also by a shorter one. */
	assert_int_equal(atomic_write_file(path, "v=1\n", 4, 0644), 0);
	check_file(path, "v=1\n", 0644);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "state");

	/* Empty content is a valid file. */
	assert_int_equal(atomic_write_file(path, "", 0, 0644), 0);
	check_file(path, "", 0644);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "state");
}

/* What a kill or a power cut leaves mid-write is removed: the temp file
 * of a process that is gone. A live writer's temp file, other files'
 * temp files and names that only look alike stay. */
static void test_atomic_write_leftovers_remove(void **state)
{
	struct fixture *f = *state;
	char path[256], p[320], names[512];
	pid_t dead = fork();

	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(path, sizeof(path), "%s/state", f->dir);
	write_text(path, "volume=40\n");
	snprintf(p, sizeof(p), "%s.tmp.%ld", path, (long)dead);
	write_text(p, "volu");
	snprintf(p, sizeof(p), "%s.tmp.%ld", path, (long)getpid());
	write_text(p, "volume=5");
	snprintf(p, sizeof(p), "%s/other.tmp.%ld", f->dir, (long)dead);
	write_text(p, "x");
	snprintf(p, sizeof(p), "%s.tmp.%ldx", path, (long)dead);
	write_text(p, "x");
	assert_int_equal(atomic_write_leftovers_remove(path), 1);
	list_dir(f->dir, names, sizeof(names));
	snprintf(p, sizeof(p),
		 "other.tmp.%ld|state|state.tmp.%ld|state.tmp.%ldx", (long)dead,
		 (long)getpid(), (long)dead);
	assert_string_equal(names, p);
	{
		char *data = NULL;
		size_t len = 0;

		assert_int_equal(read_file(path, &data, &len, 64), 0);
		assert_int_equal(len, 10);
		assert_memory_equal(data, "volume=40\n", 10);
		free(data);
	}
	assert_int_equal(atomic_write_leftovers_remove(path), 0);
	snprintf(p, sizeof(p), "%s/none/state", f->dir);
	assert_int_equal(atomic_write_leftovers_remove(p), 0);
}

static void test_atomic_write_large(void **state)
{
	struct fixture *f = *state;
	size_t n = 3 * 1024 * 1024 + 17;
	char path[256], *buf = malloc(n), *back = NULL;
	size_t len = 0;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + (i >> 11));
	snprintf(path, sizeof(path), "%s/big", f->dir);
	assert_int_equal(atomic_write_file(path, buf, n, 0644), 0);
	assert_int_equal(read_file(path, &back, &len, n), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, buf, n);
	free(back);
	free(buf);
}

static void test_atomic_write_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	char path[256], names[512];

	/* A folder that does not exist: nothing at all is created. */
	snprintf(path, sizeof(path), "%s/missing/state", f->dir);
	assert_int_equal(atomic_write_file(path, "x", 1, 0644), -ENOENT);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "");

	/* The target is a folder: the rename fails and the temp file goes. */
	snprintf(path, sizeof(path), "%s/taken", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/taken/inner", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/taken", f->dir);
	assert_true(atomic_write_file(path, "x", 1, 0644) < 0);
	list_dir(f->dir, names, sizeof(names));
	assert_string_equal(names, "taken");
}

static void test_read_file(void **state)
{
	struct fixture *f = *state;
	char path[256], *data = NULL;
	size_t len = 99;

	snprintf(path, sizeof(path), "%s/f", f->dir);
	write_text(path, "hello\nworld");
	assert_int_equal(read_file(path, &data, &len, 4096), 0);
	assert_int_equal(len, 11);
	assert_string_equal(data, "hello\nworld"); /* NUL-terminated */
	free(data);

	/* max_len is inclusive. */
	data = NULL;
	assert_int_equal(read_file(path, &data, &len, 11), 0);
	assert_int_equal(len, 11);
	free(data);
	data = NULL;
	len = 99;
	assert_int_equal(read_file(path, &data, &len, 10), -EFBIG);
	assert_null(data);
	assert_int_equal(len, 99);

	/* An empty file is an empty string. */
	snprintf(path, sizeof(path), "%s/empty", f->dir);
	write_text(path, "");
	assert_int_equal(read_file(path, &data, &len, 10), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	data = NULL;

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(read_file(path, &data, &len, 10), -ENOENT);
	assert_null(data);
	assert_int_equal(read_file(f->dir, &data, &len, 1 << 20), -EISDIR);
	assert_null(data);
}

static void test_crc32(void **state)
{
	static const struct {
		const char *s;
		uint32_t crc;
	} cases[] = {
	    {"", 0x00000000U},
	    {"a", 0xE8B7BE43U},
	    {"abc", 0x352441C2U},
	    {"123456789", 0xCBF43926U},
	    {"The quick brown fox jumps over the lazy dog", 0x414FA339U},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = strlen(cases[i].s);

		assert_int_equal(crc32_update(0, cases[i].s, len),
				 cases[i].crc);
		/* In pieces, as the cache checks a payload chunk by chunk. */
		for (size_t cut = 0; cut <= len; cut++) {
			uint32_t c = crc32_update(0, cases[i].s, cut);

			c = crc32_update(c, cases[i].s + cut, len - cut);
			assert_int_equal(c, cases[i].crc);
		}
	}
}

static void test_hash64(void **state)
{
	static const struct {
		const char *s;
		uint64_t h;
	} cases[] = {
	    /* FNV-1a 64 reference values */
	    {"", 0xcbf29ce484222325ULL},
	    {"a", 0xaf63dc4c8601ec8cULL},
	    {"foobar", 0x85944171f73967e8ULL},
	};
	unsigned char buf[4096];
	uint64_t whole;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_true(hash64(HASH64_INIT, cases[i].s,
				   strlen(cases[i].s)) == cases[i].h);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	whole = hash64(HASH64_INIT, buf, sizeof(buf));
	assert_true(hash64(hash64(HASH64_INIT, buf, 1000), buf + 1000,
			   sizeof(buf) - 1000) == whole);
	/* One changed byte anywhere, by any amount, changes the hash. */
	for (size_t pos = 0; pos < sizeof(buf); pos += 257) {
		for (unsigned flip = 1; flip < 256; flip <<= 1) {
			buf[pos] ^= (unsigned char)flip;
			assert_true(hash64(HASH64_INIT, buf, sizeof(buf)) !=
				    whole);
			buf[pos] ^= (unsigned char)flip;
		}
	}
	buf[sizeof(buf) - 1]++;
	assert_true(hash64(HASH64_INIT, buf, sizeof(buf)) != whole);
	buf[sizeof(buf) - 1]--;
	assert_true(hash64(HASH64_INIT, buf, sizeof(buf)) == whole);
	/* A dropped byte at the end too. */
	assert_true(hash64(HASH64_INIT, buf, sizeof(buf) - 1) != whole);
}

static void test_now_ns(void **state)
{
	int64_t a = now_ns(), b;

	(void)state;
	assert_true(a > 0);
	usleep(2000);
	b = now_ns();
	assert_true(b - a >= 2000000);
	assert_true(b - a < 2000000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_long),
	    cmocka_unit_test(test_parse_double),
	    cmocka_unit_test(test_parse_double_overflow),
	    cmocka_unit_test(test_strv_split),
	    cmocka_unit_test(test_strv_split_appends_and_limits),
	    cmocka_unit_test(test_strv_basics),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_edit_distance),
	    cmocka_unit_test(test_path_resolve),
	    cmocka_unit_test(test_path_dirname),
	    cmocka_unit_test(test_path_join),
	    cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_file_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_write_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_write_leftovers_remove,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_write_large, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_write_fails_cleanly,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
	    cmocka_unit_test(test_crc32),
	    cmocka_unit_test(test_hash64),
	    cmocka_unit_test(test_now_ns),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
