/*
 * test.h: the small test harness every test executable uses. A test file
 * defines `static void test_xxx(void)` functions and a main() that runs them
 * with T_RUN and returns t_done(). Checks record failures and keep going
 * within a test only where safe; T_OK stops the current test on failure.
 * Also: temporary paths, condition waits with a deadline, and the exit code
 * 77 that CTest treats as "skipped".
 */
#ifndef ACTOR_TEST_H
#define ACTOR_TEST_H

#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

static int t_failed_checks;
static int t_tests_passed;
static int t_tests_failed;
static int t_tests_skipped;
static int t_current_failed;
static int t_current_skipped;
static jmp_buf t_abort;
static char t_dir[512]; /* this process's temporary directory, if made */

#define T_FAIL(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                                     \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        t_failed_checks++;                                                                         \
        t_current_failed = 1;                                                                      \
    } while (0)

/* Check a condition; on failure record it and continue. */
#define T_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            T_FAIL("check failed: %s", #cond);                                                     \
    } while (0)

/* Check a condition; on failure record it and end the current test. */
#define T_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            T_FAIL("assertion failed: %s", #cond);                                                 \
            longjmp(t_abort, 1);                                                                   \
        }                                                                                          \
    } while (0)

/* Expect a libactor call to return 0; otherwise report its error and end
 * the current test. */
#define T_OK(expr)                                                                                 \
    do {                                                                                           \
        int t_rc_ = (expr);                                                                        \
        if (t_rc_ != 0) {                                                                          \
            T_FAIL("%s returned %d (%s): %s", #expr, t_rc_, actor_strerror(t_rc_),                 \
                   actor_error_last());                                                            \
            longjmp(t_abort, 1);                                                                   \
        }                                                                                          \
    } while (0)

/* Expect an int expression to equal a value. */
#define T_EQ(expr, want)                                                                           \
    do {                                                                                           \
        long long t_got_ = (long long)(expr), t_want_ = (long long)(want);                         \
        if (t_got_ != t_want_)                                                                     \
            T_FAIL("%s == %lld, expected %lld (last error: %s)", #expr, t_got_, t_want_,           \
                   actor_error_last());                                                            \
    } while (0)

/* Expect two C strings to be equal. */
#define T_STREQ(got, want)                                                                         \
    do {                                                                                           \
        const char *t_g_ = (got), *t_w_ = (want);                                                  \
        if (t_g_ == NULL || t_w_ == NULL || strcmp(t_g_, t_w_) != 0)                               \
            T_FAIL("%s == \"%s\", expected \"%s\"", #got, t_g_ ? t_g_ : "(null)",                  \
                   t_w_ ? t_w_ : "(null)");                                                        \
    } while (0)

/* Expect the string `hay` to contain `needle`. */
#define T_CONTAINS(hay, needle)                                                                    \
    do {                                                                                           \
        const char *t_h_ = (hay), *t_n_ = (needle);                                                \
        if (t_h_ == NULL || strstr(t_h_, t_n_) == NULL)                                            \
            T_FAIL("%s = \"%s\" does not contain \"%s\"", #hay, t_h_ ? t_h_ : "(null)", t_n_);     \
    } while (0)

/* Skip the current test (counted as skipped, not failed). */
#define T_SKIP(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "  SKIP: ");                                                               \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        t_current_skipped = 1;                                                                     \
        longjmp(t_abort, 1);                                                                       \
    } while (0)

static inline void t_run(const char *name, void (*fn)(void))
{
    t_current_failed = 0;
    t_current_skipped = 0;
    actor_error_clear();
    fprintf(stderr, "- %s\n", name);
    if (setjmp(t_abort) == 0)
        fn();
    if (t_current_failed)
        t_tests_failed++;
    else if (t_current_skipped)
        t_tests_skipped++;
    else
        t_tests_passed++;
}

#define T_RUN(fn) t_run(#fn, fn)

/* Remove the test directory and the files in it (tests make no
 * subdirectories there). */
static inline void t_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Print the summary and return the process exit code: 1 when anything
 * failed, 77 (skipped) when every test skipped, else 0. */
static inline int t_done(void)
{
    printf("%d passed, %d failed, %d skipped\n", t_tests_passed, t_tests_failed, t_tests_skipped);
    if (t_tests_failed) {
        if (t_dir[0])
            fprintf(stderr, "test files kept in %s\n", t_dir);
        return 1;
    }
    if (t_dir[0])
        t_rm_dir(t_dir);
    if (t_tests_passed == 0 && t_tests_skipped > 0)
        return 77;
    return 0;
}

static inline int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void t_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Wait until `cond` holds, re-checking every millisecond, for at most
 * `timeout_ms`. Evaluates to 1 if it held, 0 on time-out. */
#define T_WAIT_UNTIL(cond, timeout_ms)                                                             \
    ({                                                                                             \
        int64_t t_deadline_ = t_now_ms() + (timeout_ms);                                           \
        int t_ok_ = 0;                                                                             \
        for (;;) {                                                                                 \
            if (cond) {                                                                            \
                t_ok_ = 1;                                                                         \
                break;                                                                             \
            }                                                                                      \
            if (t_now_ms() > t_deadline_)                                                          \
                break;                                                                             \
            t_sleep_ms(1);                                                                         \
        }                                                                                          \
        t_ok_;                                                                                     \
    })

/* Make a fresh private directory for this test process and return a path
 * inside it ("<dir>/<name>") in buf. The directory is under $TMPDIR (or
 * /tmp); t_done() removes it when every test passed and keeps it for
 * inspection otherwise. */
/* Threads of this process (from /proc), or -1. */
static inline long t_process_threads(void)
{
    char line[256];
    long n = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "Threads:", 8) == 0)
            n = strtol(line + 8, NULL, 10);
    fclose(f);
    return n;
}

static inline const char *t_tmp_path(char *buf, size_t size, const char *name)
{
    if (t_dir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(t_dir, sizeof(t_dir), "%s/actor-test-XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(t_dir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
    }
    snprintf(buf, size, "%s/%s", t_dir, name);
    return buf;
}

/* Open a provider on `url` (tables `prefix`) directly, to look at the store
 * behind a host's back. NULL, with the reason printed, on failure. */
static inline actor_provider *t_provider_open(const char *url, const char *prefix,
                                              int64_t lease_deadline_ms)
{
    actor_provider *p = NULL;
    actor_provider_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = ACTOR_PROVIDER_CONFIG_VERSION;
    cfg.url = url;
    cfg.table_prefix = prefix;
    cfg.timeout_ms = 10000;
    cfg.pool_size = 2;
    cfg.lease_deadline_ms = lease_deadline_ms;
    if (actor_provider_open(&p, &cfg) != 0) {
        fprintf(stderr, "open provider on %s: %s\n", url, actor_error_last());
        return NULL;
    }
    return p;
}

/* A sqlite: store URL on a fresh file named `name` in the test directory. */
/* "sqlite:PATH" for a file path: '%' and '?' escaped, as the URL's path is
 * percent-decoded and '?' starts its options. */
static inline const char *t_sqlite_url_of(char *buf, size_t size, const char *path)
{
    size_t o = 0;

    o = (size_t)snprintf(buf, size, "sqlite:");
    for (const char *p = path; *p && o + 4 < size; p++) {
        if (*p == '%' || *p == '?')
            o += (size_t)snprintf(buf + o, size - o, "%%%02X", (unsigned char)*p);
        else
            buf[o++] = *p;
    }
    buf[o] = '\0';
    return buf;
}

static inline const char *t_sqlite_url(char *buf, size_t size, const char *name)
{
    char path[600];
    t_tmp_path(path, sizeof(path), name);
    return t_sqlite_url_of(buf, size, path);
}

#endif
