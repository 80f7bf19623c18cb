/*
 * types.h: the codegen test corpus: every supported field type, nesting,
 * arrays of structs and strings, fixed and multi-dimensional arrays,
 * annotations (JSON names, skip) and the typedef spellings actorgen reads.
 * Used by the round-trip, hostile-input, client, C++ and fuzz tests.
 */
#ifndef CODEGEN_TYPES_H
#define CODEGEN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAG_LEN 8

typedef enum color { COLOR_RED, COLOR_GREEN = 5, COLOR_BLUE /* actor: json=blue */ } color;

enum shape {
    SHAPE_NONE,
    SHAPE_CIRCLE, // actor: json=circle
    SHAPE_SQUARE
};

/* A struct with only plain values. */
struct point {
    int32_t x, y;
};

typedef struct scalars {
    bool b;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int i;
    unsigned u;
    unsigned int ui;
    long l;
    unsigned long ul;
    long long ll;
    unsigned long long ull;
    size_t sz;
    short sh;
    unsigned short ush;
    signed char sc;
    unsigned char uc;
    float f;
    double d;
} scalars;

typedef struct item {
    char *name;
    int32_t qty; /* actor: json=quantity */
    double price;
    color tint;
} item;

typedef struct everything {
    scalars s;
    char *text;
    char code[TAG_LEN];
    enum shape shape;
    struct point origin;
    item *items;
    size_t items_count;
    char **tags;
    size_t tags_count;
    int64_t *numbers;
    size_t numbers_count;
    color *colors;
    size_t colors_count;
    struct point *path;
    size_t path_count;
    int32_t grid[2][3];
    char names[2][6];
    char *labels[2];
    item best[2];
    double weights[3];
    /* actor: skip */
    void *scratch;
    int (*callback)(int); /* actor: skip */
    unsigned flags : 3;   /* actor: skip */
    bool done;            /* actor: json=is_done */
} everything;

/* Forward typedef before the definition. */
typedef struct wrapper wrapper;
struct wrapper {
    everything inner;
    uint64_t big;
};

typedef struct {
    char *only_string;
} untagged;

/* A dynamic array of a struct that owns no memory. */
typedef struct polyline {
    struct point *points;
    size_t points_count;
} polyline;

#endif
