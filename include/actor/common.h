/*
 * common.h: export macro, version numbers and limits shared by every public
 * header of libactor. Included by all of them; users include <actor/actor.h>.
 */
#ifndef ACTOR_COMMON_H
#define ACTOR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(ACTOR_STATIC)
#define ACTOR_API
#elif defined(__GNUC__)
#define ACTOR_API __attribute__((visibility("default")))
#else
#define ACTOR_API
#endif

#ifdef __cplusplus
#define ACTOR_BEGIN_DECLS extern "C" {
#define ACTOR_END_DECLS   }
#else
#define ACTOR_BEGIN_DECLS
#define ACTOR_END_DECLS
#endif

#define ACTOR_VERSION_MAJOR  0
#define ACTOR_VERSION_MINOR  1
#define ACTOR_VERSION_PATCH  0
#define ACTOR_VERSION_STRING "0.1.0"

/*
 * Limits on names, in bytes of UTF-8 (not counting the terminating NUL).
 * Actor type names, actor IDs and method names must be non-empty, valid
 * UTF-8 and no longer than these; anything else is ACTOR_EINVAL.
 */
#define ACTOR_TYPE_NAME_MAX 128
#define ACTOR_ID_MAX        256
#define ACTOR_METHOD_MAX    128
/* Host IDs and advertised addresses. */
#define ACTOR_HOST_ID_MAX      64
#define ACTOR_HOST_ADDRESS_MAX 256

ACTOR_BEGIN_DECLS

/* The library's version string, e.g. "0.1.0". Any thread. */
ACTOR_API const char *actor_version(void);

ACTOR_END_DECLS

#endif
