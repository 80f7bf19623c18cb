/* profile.h: the state of the outside project's one actor type. */
#ifndef PROFILE_H
#define PROFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct profile {
    char *name;
    uint32_t visits;
    char **tags;
    size_t tags_count;
} profile;

#endif
