/*
 * anchor_caf.cpp: the C++ Actor Framework (CAF 0.17) anchor of bench/runtime.
 * It runs the in-memory workloads of runtime_bench.c with CAF event-based
 * actors so that bench/run.sh can compare libactor with CAF in one session:
 *   fanout    N actors x 10 messages sent from the main thread (outside the
 *             actor system), every count read back and checked;
 *   hot       1,000,000 messages into one actor from 2 sender threads;
 *   pingpong  round trips between two actors with asynchronous sends;
 *   memory    RSS per idle actor that has handled one message, the actors
 *             spawned in waves of 10,000 as in runtime_bench.c.
 * Every handled message adds 1 to a global atomic counter, as the libactor
 * actors do, and the main thread waits for the expected count. The scheduler
 * is CAF's default (work stealing, one worker per core) unless --policy
 * sharing is given. Prints one line per figure:
 *   bench caf <name> [policy=...] key=value ...
 * Usage: anchor_caf [--quick] [--policy stealing|sharing] [workload...]
 */
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace caf;

using inc_atom = atom_constant<atom("inc")>;
using count_atom = atom_constant<atom("count")>;
using ping_atom = atom_constant<atom("ping")>;
using peer_atom = atom_constant<atom("peer")>;

namespace
{

double now_s()
{
    auto t = std::chrono::steady_clock::now().time_since_epoch();
    return std::chrono::duration<double>(t).count();
}

/* A field of /proc/self/status in KiB (VmRSS, VmHWM). */
long status_kb(const char *field)
{
    FILE *f = std::fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    size_t n = std::strlen(field);

    if (f == nullptr)
        return 0;
    while (std::fgets(line, sizeof(line), f) != nullptr)
        if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = std::atol(line + n + 1);
            break;
        }
    std::fclose(f);
    return kb;
}

/* ---- the shared count ------------------------------------------------------ */

std::mutex g_mu;
std::condition_variable g_cv;
std::atomic<long> g_done{0};
std::atomic<long> g_target{0};

void count_done()
{
    long d = g_done.fetch_add(1, std::memory_order_relaxed) + 1;
    if (d == g_target.load(std::memory_order_relaxed)) {
        std::lock_guard<std::mutex> lock(g_mu);
        g_cv.notify_all();
    }
}

void reset_count(long target)
{
    g_done.store(0, std::memory_order_relaxed);
    g_target.store(target, std::memory_order_relaxed);
}

void wait_done()
{
    std::unique_lock<std::mutex> lock(g_mu);
    while (g_done.load(std::memory_order_relaxed) < g_target.load(std::memory_order_relaxed))
        g_cv.wait_for(lock, std::chrono::milliseconds(10));
}

/* ---- actors ------------------------------------------------------------------ */

struct tally_state {
    int64_t count = 0;
};

/* A counter that keeps its count (fan-out) and answers count requests. */
behavior tally(stateful_actor<tally_state> *self)
{
    return {
        [=](inc_atom) {
            ++self->state.count;
            count_done();
        },
        [=](count_atom) { return self->state.count; },
    };
}

/* A counter without state (hot actor, memory). */
behavior counter(event_based_actor *)
{
    return {
        [](inc_atom) { count_done(); },
    };
}

struct pinger_state {
    actor peer;
};

/* One side of the ping-pong: learns its peer, then answers every ping. */
behavior pinger(stateful_actor<pinger_state> *self)
{
    return {
        [=](peer_atom, const actor &peer) {
            self->state.peer = peer;
            count_done();
        },
        [=](ping_atom, int64_t n) {
            count_done();
            if (n > 1)
                self->send(self->state.peer, ping_atom::value, n - 1);
        },
    };
}

/* ---- workloads ------------------------------------------------------------------ */

void fanout(actor_system &sys, const char *policy, long actors, long per)
{
    std::vector<actor> all;
    long wrong = 0;

    all.reserve(static_cast<size_t>(actors));
    for (long i = 0; i < actors; i++)
        all.push_back(sys.spawn(tally));
    /* Every actor handles one message first (as libactor activates every
     * actor before the timed rounds). */
    reset_count(actors);
    for (auto &a : all)
        anon_send(a, inc_atom::value);
    wait_done();
    reset_count(actors * per);
    double t0 = now_s();
    for (long r = 0; r < per; r++)
        for (auto &a : all)
            anon_send(a, inc_atom::value);
    wait_done();
    double dt = now_s() - t0;
    {
        scoped_actor self{sys};
        for (auto &a : all)
            self->request(a, infinite, count_atom::value)
                .receive([&](int64_t n) { wrong += n != per + 1; }, [&](error &) { wrong++; });
    }
    if (wrong) {
        std::fprintf(stderr, "anchor_caf: fanout: %ld actors have a wrong count\n", wrong);
        std::exit(1);
    }
    std::printf("bench caf fanout policy=%s actors=%ld msgs=%ld msgs_per_s=%.0f counts_checked=%ld "
                "peak_rss_kb=%ld\n",
                policy, actors, actors * per, (double)(actors * per) / dt, actors,
                status_kb("VmHWM"));
    std::fflush(stdout);
    for (auto &a : all)
        anon_send_exit(a, exit_reason::user_shutdown);
}

void hot(actor_system &sys, const char *policy, long total)
{
    actor hot = sys.spawn(counter);
    long each = total / 2;

    reset_count(1);
    anon_send(hot, inc_atom::value);
    wait_done();
    reset_count(2 * each);
    double t0 = now_s();
    std::thread senders[2];
    for (auto &t : senders)
        t = std::thread([&] {
            for (long i = 0; i < each; i++)
                anon_send(hot, inc_atom::value);
        });
    for (auto &t : senders)
        t.join();
    wait_done();
    double dt = now_s() - t0;
    std::printf("bench caf hot policy=%s msgs=%ld senders=2 msgs_per_s=%.0f\n", policy, 2 * each,
                (double)(2 * each) / dt);
    std::fflush(stdout);
    anon_send_exit(hot, exit_reason::user_shutdown);
}

void pingpong(actor_system &sys, const char *policy, long rounds)
{
    actor a = sys.spawn(pinger), b = sys.spawn(pinger);
    int64_t n = 2 * rounds; /* messages: each round trip is two */

    reset_count(2);
    anon_send(a, peer_atom::value, b);
    anon_send(b, peer_atom::value, a);
    wait_done();
    reset_count(n);
    double t0 = now_s();
    anon_send(a, ping_atom::value, n);
    wait_done();
    double dt = now_s() - t0;
    std::printf("bench caf pingpong policy=%s round_trips=%ld round_trips_per_s=%.0f\n", policy,
                rounds, (double)rounds / dt);
    std::fflush(stdout);
    /* The pingers hold each other: break the cycle. */
    anon_send_exit(a, exit_reason::user_shutdown);
    anon_send_exit(b, exit_reason::user_shutdown);
}

/* CAF destroys an actor when its last handle goes, so the handles are kept
 * (8 bytes per actor, counted in the delta). */
void memory(actor_system &sys, const char *policy, long actors)
{
    std::vector<actor> all;
    actor warm = sys.spawn(counter);

    reset_count(1);
    anon_send(warm, inc_atom::value);
    wait_done();
    long before = status_kb("VmRSS");
    double t0 = now_s();
    all.reserve(static_cast<size_t>(actors));
    /* In waves of 10,000, as runtime_bench does. */
    for (long done = 0; done < actors; done += 10000) {
        long n = actors - done < 10000 ? actors - done : 10000;
        reset_count(n);
        for (long i = 0; i < n; i++) {
            all.push_back(sys.spawn(counter));
            anon_send(all.back(), inc_atom::value);
        }
        wait_done();
    }
    double dt = now_s() - t0;
    long after = status_kb("VmRSS");
    std::printf("bench caf memory policy=%s actors=%ld rss_delta_kb=%ld bytes_per_actor=%.0f "
                "spawns_per_s=%.0f\n",
                policy, actors, after - before, (double)(after - before) * 1024.0 / actors,
                (double)actors / dt);
    std::fflush(stdout);
    for (auto &a : all)
        anon_send_exit(a, exit_reason::user_shutdown);
    anon_send_exit(warm, exit_reason::user_shutdown);
}

bool wanted(const std::vector<std::string> &names, const char *name)
{
    if (names.empty())
        return true;
    for (auto &n : names)
        if (n == name)
            return true;
    return false;
}

void usage()
{
    std::fprintf(stderr, "usage: anchor_caf [--quick] [--policy stealing|sharing] "
                         "[fanout|hot|pingpong|memory]...\n");
    std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
    bool quick = false;
    std::string policy = "stealing";
    std::vector<std::string> names;

    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--quick")
            quick = true;
        else if (a == "--policy" && i + 1 < argc)
            policy = argv[++i];
        else if (a == "fanout" || a == "hot" || a == "pingpong" || a == "memory")
            names.push_back(a);
        else
            usage();
    }
    if (policy != "stealing" && policy != "sharing")
        usage();

    actor_system_config cfg;
    cfg.set("scheduler.policy", policy == "sharing" ? atom("sharing") : atom("stealing"));
    {
        actor_system sys{cfg};
        if (wanted(names, "fanout"))
            fanout(sys, policy.c_str(), quick ? 1000 : 100000, 10);
        if (wanted(names, "hot"))
            hot(sys, policy.c_str(), quick ? 10000 : 1000000);
        if (wanted(names, "pingpong"))
            pingpong(sys, policy.c_str(), quick ? 1000 : 200000);
        if (wanted(names, "memory"))
            memory(sys, policy.c_str(), quick ? 1000 : 1000000);
    }
    return 0;
}
