/*
 * internal.h: declarations shared between the runtime's own files (and the
 * providers built into the library). Nothing here is public API. Each block
 * names the file that owns it.
 */
#ifndef ACTOR_INTERNAL_H
#define ACTOR_INTERNAL_H

#include <actor/actor.h>
#include <actor/sys/provider.h>

#include <pthread.h>
#include <stdbool.h>

/* ---- errors.c ---------------------------------------------------------- */
int actor__error_oom(void);

/* ---- util.c ------------------------------------------------------------ */
/* Validate a name (type, ID, method...): non-NULL, non-empty, at most `max`
 * bytes, valid UTF-8. `what` starts the message ("actor ID"). */
int actor__validate_name(const char *what, const char *s, size_t max);
/* A printable rendering of s for messages (escaped, shortened). */
void actor__quote(char *dst, size_t size, const char *s);
int64_t actor__mono_ms(void);
/* A random hex ID (24 characters) in dst. */
void actor__random_id(char *dst, size_t size);

/* ---- providers ---------------------------------------------------------- */
int actor__sqlite_provider_open(actor_provider **out, const actor_provider_config *config);
#ifdef ACTOR_WITH_POSTGRES
int actor__postgres_provider_open(actor_provider **out, const actor_provider_config *config);
#endif

#endif
