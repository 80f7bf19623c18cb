/*
 * multihost.c: single activation across real processes sharing one store.
 * Starts hostproc processes (one host each) and drives them over pipes:
 *   - race: processes race to activate the same 1,000 actors while calling
 *     them; every actor ends with exactly one holder and every counter
 *     equals the number of calls acknowledged for it (also with actors
 *     moving between hosts on a short idle timeout);
 *   - kill -9 of the holder: after the deadline another host takes the
 *     actor over and reads the last acknowledged state;
 *   - SIGSTOP of the holder with a write pending, take-over and a write by
 *     another host, SIGCONT: the stale write is rejected, the new owner's
 *     state is intact, the stale host stops serving the actor;
 *   - cleanup: expired state and dead hosts purged, live ones untouched,
 *     two hosts cleaning at once remove each row once.
 * Every wait is on a condition with a deadline.
 * Usage: multihost HOSTPROC_PATH STORE_URL   (URL "sqlite:@tmp" = a fresh
 * file; "env:VAR" = the URL in $VAR, skipped when unset outside CI)
 */
#include "test.h"

#include <actor/sys/provider.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static const char *g_hostproc;
static char g_url[1024];
static char g_prefix[64];

typedef struct proc {
    pid_t pid;
    int in;  /* write end: its stdin */
    int out; /* read end: its stdout */
    char buf[1 << 16];
    size_t len;
    char id[64];
} proc;

static int proc_start(proc *p, const char *id, int hb, int deadline, int idle)
{
    int pin[2], pout[2];
    char shb[32], sdl[32], sidle[32];

    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", id);
    snprintf(shb, sizeof(shb), "%d", hb);
    snprintf(sdl, sizeof(sdl), "%d", deadline);
    snprintf(sidle, sizeof(sidle), "%d", idle);
    if (pipe(pin) != 0 || pipe(pout) != 0)
        return -1;
    p->pid = fork();
    if (p->pid == 0) {
        /* Die with the test, also when it is killed by its time-out. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        close(pin[1]);
        close(pout[0]);
        execl(g_hostproc, g_hostproc, g_url, id, shb, sdl, sidle, g_prefix, (char *)NULL);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    p->in = pin[1];
    p->out = pout[0];
    return p->pid > 0 ? 0 : -1;
}

/* Read one line (without the newline) within timeout_ms; 0 or -1. */
static int proc_line(proc *p, char *out, size_t size, int timeout_ms)
{
    int64_t deadline = t_now_ms() + timeout_ms;

    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            snprintf(out, size, "%.*s", (int)n, p->buf);
            memmove(p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            return 0;
        }
        int64_t left = deadline - t_now_ms();
        if (left <= 0 || p->len == sizeof(p->buf))
            return -1;
        struct pollfd pfd = {p->out, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
        if (r <= 0)
            return -1;
        p->len += (size_t)r;
    }
}

static void proc_send(proc *p, const char *cmd)
{
    size_t n = strlen(cmd);
    if (write(p->in, cmd, n) != (ssize_t)n || write(p->in, "\n", 1) != 1)
        fprintf(stderr, "write to %s failed\n", p->id);
}

/* Send a command and read its one-line answer into out. */
static int proc_call(proc *p, char *out, size_t size, const char *cmd, int timeout_ms)
{
    proc_send(p, cmd);
    return proc_line(p, out, size, timeout_ms);
}

static void proc_stop(proc *p)
{
    int st;

    if (p->pid <= 0)
        return;
    proc_send(p, "quit");
    close(p->in);
    /* Bounded wait for a clean exit, then kill. */
    for (int i = 0; i < 10000; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            close(p->out);
            return;
        }
        t_sleep_ms(1);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    close(p->out);
}

static void proc_kill(proc *p)
{
    int st;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    close(p->in);
    close(p->out);
}

static int proc_ready(proc *p)
{
    char line[512];
    if (proc_line(p, line, sizeof(line), 30000) != 0 || strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "%s did not start: %s\n", p->id, line);
        return -1;
    }
    return 0;
}

static actor_provider *open_provider(void)
{
    return t_provider_open(g_url, g_prefix, 1000);
}

static long stored_value(actor_provider *pr, const char *id)
{
    actor_buf b = ACTOR_BUF_INIT;
    long v = -1;
    if (pr->state_get(&b, pr, "counter", id) == 0)
        v = atol(b.ptr);
    actor_buf_dispose(&b);
    return v;
}

static void new_prefix(const char *what)
{
    snprintf(g_prefix, sizeof(g_prefix), "mh_%s_%d_%lld_", what, (int)getpid(),
             (long long)(t_now_ms() % 100000));
}

/* ---- race -------------------------------------------------------------------- */

#define RACE_ACTORS 1000
#define RACE_PROCS  3
/* Heartbeat deadline of the racers and of the check that each actor's
 * holder is alive: long, since nothing here waits for a take-over, and a
 * heartbeat held up for a second or two on a loaded machine (sanitizers,
 * three processes on one SQLite file) must not make a live racer look
 * dead. */
#define RACE_DEADLINE_MS 30000

static void race(int idle_ms, int rounds)
{
    proc p[RACE_PROCS];
    char line[RACE_ACTORS * 12 + 64], cmd[64];
    long total[RACE_ACTORS];
    actor_provider *pr;

    memset(total, 0, sizeof(total));
    for (int i = 0; i < RACE_PROCS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "racer%d", i);
        T_ASSERT(proc_start(&p[i], id, 200, RACE_DEADLINE_MS, idle_ms) == 0);
    }
    for (int i = 0; i < RACE_PROCS; i++)
        T_ASSERT(proc_ready(&p[i]) == 0);
    snprintf(cmd, sizeof(cmd), "race %d %d", RACE_ACTORS, rounds);
    for (int i = 0; i < RACE_PROCS; i++)
        proc_send(&p[i], cmd);
    for (int i = 0; i < RACE_PROCS; i++) {
        char *s;
        T_ASSERT(proc_line(&p[i], line, sizeof(line), 300000) == 0);
        T_ASSERT(strncmp(line, "race-done", 9) == 0);
        s = line + 9;
        for (int k = 0; k < RACE_ACTORS; k++)
            total[k] += strtol(s, &s, 10);
    }
    pr = t_provider_open(g_url, g_prefix, RACE_DEADLINE_MS);
    T_ASSERT(pr != NULL);
    long wrong = 0, holders_bad = 0, called = 0;
    for (int k = 0; k < RACE_ACTORS; k++) {
        char id[32];
        actor_lease_info li;
        snprintf(id, sizeof(id), "r%d", k);
        called += total[k];
        if (stored_value(pr, id) != total[k])
            wrong++;
        memset(&li, 0, sizeof(li));
        if (idle_ms < 0) {
            /* Nobody idles out: each actor is held by exactly one live racer. */
            if (pr->lease_get(&li, pr, "counter", id) != 0 || !li.holder_alive ||
                strncmp(li.host_id.ptr, "racer", 5) != 0)
                holders_bad++;
        }
        actor_lease_info_dispose(&li);
    }
    T_EQ(wrong, 0);
    T_EQ(holders_bad, 0);
    T_CHECK(called >= RACE_ACTORS); /* every actor was won by someone */
    fprintf(stderr, "  race idle=%d: %ld acknowledged increments over %d actors\n", idle_ms, called,
            RACE_ACTORS);
    actor_provider_free(pr);
    for (int i = 0; i < RACE_PROCS; i++)
        proc_stop(&p[i]);
}

static void test_race_single_holder(void)
{
    new_prefix("race");
    race(-1, 2);
}

static void test_race_moving_actors(void)
{
    new_prefix("move");
    race(5, 3);
}

/* ---- kill -9 -------------------------------------------------------------------- */

/* Call `cmd` on p until the answer starts with "ok", within timeout_ms. */
static int call_until_ok(proc *p, char *line, size_t size, const char *cmd, int timeout_ms)
{
    int64_t deadline = t_now_ms() + timeout_ms;
    while (t_now_ms() < deadline) {
        if (proc_call(p, line, size, cmd, 30000) != 0)
            return -1;
        if (strncmp(line, "ok", 2) == 0)
            return 0;
        t_sleep_ms(20);
    }
    return -1;
}

static void test_kill9_takeover(void)
{
    proc a, b;
    char line[1024];
    actor_provider *pr;
    actor_lease_info li;

    new_prefix("kill");
    T_ASSERT(proc_start(&a, "hostA", 100, 1000, -1) == 0 && proc_ready(&a) == 0);
    T_ASSERT(proc_start(&b, "hostB", 100, 1000, -1) == 0 && proc_ready(&b) == 0);
    for (int i = 1; i <= 5; i++) {
        char want[16];
        T_ASSERT(proc_call(&a, line, sizeof(line), "inc k1", 10000) == 0);
        snprintf(want, sizeof(want), "ok %d", i);
        T_STREQ(line, want);
    }
    /* Service-level writes are administrative: not fenced, so B may write
     * an actor A holds, and A's next turn reads it from the store. */
    T_ASSERT(proc_call(&a, line, sizeof(line), "inc adm", 10000) == 0);
    T_STREQ(line, "ok 1");
    T_ASSERT(proc_call(&b, line, sizeof(line), "ttlset adm 0 50", 10000) == 0);
    T_STREQ(line, "ok");
    T_ASSERT(proc_call(&a, line, sizeof(line), "inc adm", 10000) == 0);
    T_STREQ(line, "ok 51");
    /* B cannot have it while A lives. */
    T_ASSERT(proc_call(&b, line, sizeof(line), "inc k1", 10000) == 0);
    T_CONTAINS(line, "err -11");
    T_CONTAINS(line, "hostA");
    proc_kill(&a);
    /* After A's deadline B takes it over and reads the last acknowledged
     * value (5). */
    T_ASSERT(call_until_ok(&b, line, sizeof(line), "inc k1", 20000) == 0);
    T_STREQ(line, "ok 6");
    pr = open_provider();
    T_ASSERT(pr != NULL);
    memset(&li, 0, sizeof(li));
    T_OK(pr->lease_get(&li, pr, "counter", "k1"));
    T_STREQ(li.host_id.ptr, "hostB");
    T_EQ(li.epoch, 2);
    actor_lease_info_dispose(&li);
    T_EQ(stored_value(pr, "k1"), 6);
    actor_provider_free(pr);
    proc_stop(&b);
}

/* ---- SIGSTOP ------------------------------------------------------------------ */

static void test_sigstop_stale_write_fenced(void)
{
    proc a, b;
    char line[1024], gate[700], cmd[900];
    actor_provider *pr;

    new_prefix("stop");
    t_tmp_path(gate, sizeof(gate), "gate-open");
    unlink(gate);
    T_ASSERT(proc_start(&a, "hostA", 100, 1000, -1) == 0 && proc_ready(&a) == 0);
    T_ASSERT(proc_start(&b, "hostB", 100, 1000, -1) == 0 && proc_ready(&b) == 0);
    T_ASSERT(proc_call(&a, line, sizeof(line), "inc s1", 10000) == 0);
    T_STREQ(line, "ok 1");
    T_ASSERT(proc_call(&a, line, sizeof(line), "inc s2", 10000) == 0);
    T_STREQ(line, "ok 1");
    /* A's next turn holds a write of 111 until the gate opens. */
    snprintf(cmd, sizeof(cmd), "gateset s1 %s 111", gate);
    T_ASSERT(proc_call(&a, line, sizeof(line), cmd, 10000) == 0);
    T_STREQ(line, "queued");
    kill(a.pid, SIGSTOP);
    /* B takes s1 over once A's heartbeat is past the deadline, and writes. */
    T_ASSERT(call_until_ok(&b, line, sizeof(line), "inc s1", 20000) == 0);
    T_STREQ(line, "ok 2");
    T_ASSERT(proc_call(&b, line, sizeof(line), "inc s1", 10000) == 0);
    T_STREQ(line, "ok 3");
    /* Open the gate and wake A: its pending write must be fenced. */
    {
        int fd = open(gate, O_CREAT | O_WRONLY, 0644);
        T_ASSERT(fd >= 0);
        close(fd);
    }
    kill(a.pid, SIGCONT);
    T_ASSERT(proc_line(&a, line, sizeof(line), 30000) == 0);
    T_CONTAINS(line, "gateset-done -11");
    pr = open_provider();
    T_ASSERT(pr != NULL);
    T_EQ(stored_value(pr, "s1"), 3);
    /* A no longer serves s1: B holds it, and A says so. */
    T_ASSERT(proc_call(&a, line, sizeof(line), "get s1", 10000) == 0);
    T_CONTAINS(line, "err -11");
    T_CONTAINS(line, "hostB");
    T_ASSERT(proc_call(&b, line, sizeof(line), "get s1", 10000) == 0);
    T_STREQ(line, "ok 3");
    T_EQ(stored_value(pr, "s1"), 3);
    /* A's heartbeat lapsed while it was stopped: it dropped everything it
     * held (s2 too, which nobody took) without writing, and registered
     * anew; s2 is activated again under a new epoch on the next call. */
    {
        actor_lease_info li;
        memset(&li, 0, sizeof(li));
        T_ASSERT(T_WAIT_UNTIL(proc_call(&a, line, sizeof(line), "get s2", 10000) == 0 &&
                                  strcmp(line, "ok 1") == 0 &&
                                  pr->lease_get(&li, pr, "counter", "s2") == 0 && li.epoch == 2,
                              10000));
        T_STREQ(li.host_id.ptr, "hostA");
        actor_lease_info_dispose(&li);
    }
    T_EQ(stored_value(pr, "s2"), 1);
    actor_provider_free(pr);
    proc_stop(&a);
    proc_stop(&b);
    unlink(gate);
}

/* ---- cleanup ------------------------------------------------------------------ */

static void test_cleanup(void)
{
    proc a, b, c;
    char line[1024], cmd[128];
    actor_provider *pr;
    actor_lease_info li;
    size_t expired = 0, hosts = 0, leases = 0;

    new_prefix("clean");
    T_ASSERT(proc_start(&a, "hostA", 100, 1000, -1) == 0 && proc_ready(&a) == 0);
    T_ASSERT(proc_start(&b, "hostB", 100, 1000, -1) == 0 && proc_ready(&b) == 0);
    T_ASSERT(proc_start(&c, "hostC", 100, 1000, -1) == 0 && proc_ready(&c) == 0);
    for (int i = 0; i < 20; i++) {
        snprintf(cmd, sizeof(cmd), "ttlset e%d 1 %d", i, i);
        T_ASSERT(proc_call(&a, line, sizeof(line), cmd, 10000) == 0);
        T_STREQ(line, "ok");
    }
    T_ASSERT(proc_call(&a, line, sizeof(line), "ttlset keep 0 7", 10000) == 0);
    T_ASSERT(proc_call(&a, line, sizeof(line), "inc liveA", 10000) == 0);
    T_ASSERT(proc_call(&c, line, sizeof(line), "inc c1", 10000) == 0);
    T_ASSERT(proc_call(&c, line, sizeof(line), "inc c2", 10000) == 0);
    proc_kill(&c);
    pr = open_provider();
    T_ASSERT(pr != NULL);
    /* Wait until C counts as dead: its lease shows a dead holder. */
    memset(&li, 0, sizeof(li));
    T_ASSERT(T_WAIT_UNTIL(pr->lease_get(&li, pr, "counter", "c1") == 0 && !li.holder_alive, 20000));
    actor_lease_info_dispose(&li);
    /* A and B clean at the same moment; each row goes once. */
    proc_send(&a, "cleanup");
    proc_send(&b, "cleanup");
    for (proc *p = &a; p; p = p == &a ? &b : NULL) {
        size_t e, h, l;
        T_ASSERT(proc_line(p, line, sizeof(line), 30000) == 0);
        T_ASSERT(sscanf(line, "cleaned %zu %zu %zu", &e, &h, &l) == 3);
        expired += e;
        hosts += h;
        leases += l;
    }
    T_EQ(expired, 20);
    T_EQ(hosts, 1);
    T_EQ(leases, 2);
    /* Live ones untouched. */
    T_EQ(stored_value(pr, "keep"), 7);
    T_EQ(stored_value(pr, "liveA"), 1);
    T_EQ(stored_value(pr, "c1"), 1); /* a dead host's state is not expired */
    memset(&li, 0, sizeof(li));
    T_OK(pr->lease_get(&li, pr, "counter", "liveA"));
    T_STREQ(li.host_id.ptr, "hostA");
    T_EQ(pr->lease_get(&li, pr, "counter", "c1"), ACTOR_ENOTFOUND);
    actor_lease_info_dispose(&li);
    T_OK(pr->host_heartbeat(pr, "hostA"));
    T_EQ(pr->host_heartbeat(pr, "hostC"), ACTOR_ENOTFOUND);
    actor_provider_free(pr);
    proc_stop(&a);
    proc_stop(&b);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: multihost HOSTPROC STORE_URL\n");
        return 2;
    }
    g_hostproc = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (strncmp(argv[2], "env:", 4) == 0) {
        const char *v = getenv(argv[2] + 4);
        if (v == NULL || *v == '\0') {
            const char *ci = getenv("CI");
            printf("%s is not set: no server to test against\n", argv[2] + 4);
            if (ci && strcmp(ci, "true") == 0) {
                printf("0 passed, 1 failed (CI requires the server)\n");
                return 1;
            }
            return 77;
        }
        snprintf(g_url, sizeof(g_url), "%s", v);
    } else if (strcmp(argv[2], "sqlite:@tmp") == 0) {
        t_sqlite_url(g_url, sizeof(g_url), "multihost.db");
    } else {
        snprintf(g_url, sizeof(g_url), "%s", argv[2]);
    }
    T_RUN(test_race_single_holder);
    T_RUN(test_race_moving_actors);
    T_RUN(test_kill9_takeover);
    T_RUN(test_sigstop_stale_write_fenced);
    T_RUN(test_cleanup);
    return t_done();
}
