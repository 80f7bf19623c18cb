/*
 * task_state.h: the state of the taskboard's actors, as plain C structs.
 * actorgen turns it into task_state.gen.h/.gen.c: JSON codecs and typed
 * state clients (task_state_state_get/set, counter_state_state_get/set).
 */
#ifndef TASKBOARD_TASK_STATE_H
#define TASKBOARD_TASK_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct history_entry {
    char *entry;
    char timestamp[32]; /* ISO 8601, UTC */
} history_entry;

typedef struct task_state {
    char status[32];
    char created_at[32];
    char *updated_at; /* NULL (JSON null) until the first status change */
    history_entry *history;
    size_t history_count;
} task_state;

typedef struct counter_state {
    int64_t count;
} counter_state;

#endif
