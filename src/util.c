/*
 * util.c: small helpers shared by the runtime and the providers: UTF-8
 * validation, validation of actor type names, IDs and method names (with
 * messages that name the bad value), clocks, lock set-up and random host
 * IDs.
 */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "internal.h"

const char *actor_version(void)
{
    return ACTOR_VERSION_STRING;
}

/* Length of the valid UTF-8 sequence starting at s (lead byte >= 0x80),
 * or 0 when it is invalid (bad lead, truncated, overlong, surrogate, past
 * U+10FFFF). */
size_t actor__utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp;
    size_t n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int actor_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;

        /* Fast path: eight ASCII bytes, none of them NUL, at a time. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0 &&
                ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }

        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((n = actor__utf8_seq(p + i, len - i)) == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* Append a printable, shortened rendering of `s` to dst for messages:
 * at most 64 bytes, non-printable bytes as \xNN. */
void actor__quote(char *dst, size_t size, const char *s)
{
    size_t o = 0;

    if (size == 0)
        return;
    if (s == NULL) {
        snprintf(dst, size, "(null)");
        return;
    }
    for (size_t i = 0; s[i] != '\0' && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 64) {
            o += (size_t)snprintf(dst + o, size - o, "...");
            break;
        }
        if (c < 0x20 || c == 0x7F || c >= 0x80)
            o += (size_t)snprintf(dst + o, size - o, "\\x%02X", c);
        else
            dst[o++] = (char)c;
    }
    dst[o < size ? o : size - 1] = '\0';
}

int actor__validate_name(const char *what, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    char q[300];
    size_t len = 0;
    unsigned high = 0;

    if (s == NULL)
        return actor_error_set(ACTOR_EINVAL, "%s is NULL", what);
    /* Every invoke checks its names: one pass finds the length (up to
     * max + 1) and whether any byte is outside ASCII, and only a name with
     * such a byte is decoded as UTF-8. */
    while (len <= max && p[len] != 0)
        high |= p[len++];
    if (len == 0)
        return actor_error_set(ACTOR_EINVAL, "%s is empty", what);
    if (len > max) {
        actor__quote(q, sizeof(q), s);
        return actor_error_set(ACTOR_EINVAL, "%s \"%s\" is longer than %zu bytes", what, q, max);
    }
    if ((high & 0x80) != 0 && !actor_utf8_valid(s, len)) {
        actor__quote(q, sizeof(q), s);
        return actor_error_set(ACTOR_EINVAL, "%s \"%s\" is not valid UTF-8", what, q);
    }
    return 0;
}

int64_t actor_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void actor__mutex_init_adaptive(pthread_mutex_t *mu)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
#if defined(__GLIBC__)
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(mu, &attr);
    pthread_mutexattr_destroy(&attr);
}

void actor__cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

int64_t actor__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t actor__coarse_ms(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#else
    return actor__mono_ms();
#endif
}

void actor__random_id(char *dst, size_t size)
{
    unsigned char raw[12];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        ssize_t n = read(fd, raw, sizeof(raw));
        got = n > 0 ? (size_t)n : 0;
        close(fd);
    }
    if (got < sizeof(raw)) {
        /* Fall back on time and pid: unique enough per process start. */
        uint64_t x = (uint64_t)actor_time_now_ms() ^ ((uint64_t)getpid() << 40) ^
                     (uint64_t)actor__mono_ms() << 20;
        for (size_t i = 0; i < sizeof(raw); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw[i] = (unsigned char)x;
        }
    }
    for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < size; i++)
        snprintf(dst + 2 * i, 3, "%02x", raw[i]);
}
