/*
 * actorgen.h: the model shared by actorgen's parts. parse.c reads a C header
 * into a list of structs and enums (rejecting what it cannot encode), emit.c
 * writes the .gen.h/.gen.c pair from that model, main.c drives both and
 * writes the files only when everything succeeded. Memory comes from one
 * arena freed at exit.
 */
#ifndef ACTORGEN_H
#define ACTORGEN_H

#include <stdarg.h>
#include <stddef.h>

/* ---- arena and string builder (main.c) ---------------------------------- */

void *actor__ag_alloc(size_t size); /* zeroed; exits on OOM */
char *actor__ag_strndup(const char *s, size_t n);
char *actor__ag_strdup(const char *s);
char *actor__ag_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void actor__ag_free_all(void);

typedef struct ag_str {
    char *ptr;
    size_t len, cap;
} ag_str;

void actor__ag_str_add(ag_str *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void actor__ag_str_free(ag_str *s);

/* ---- the model ------------------------------------------------------------ */

typedef enum ag_kind {
    AG_BOOL,
    AG_INT,  /* signed integer: min/max name its limit macros */
    AG_UINT, /* unsigned integer: max names its limit macro */
    AG_FLOAT,
    AG_DOUBLE,
    AG_STRING, /* char *, NUL-terminated UTF-8, NULL = JSON null */
    AG_CHARS,  /* char name[N] */
    AG_ENUM,
    AG_STRUCT,
    AG_FIXED, /* T name[N]: elem */
    AG_DYN    /* T *name + size_t name_count: elem */
} ag_kind;

struct ag_enum;
struct ag_struct;

typedef struct ag_type {
    ag_kind kind;
    const char *spell; /* C spelling, usable in casts: "int32_t", "struct item", "char *" */
    const char *min, *max;
    struct ag_enum *en;
    struct ag_struct *st;
    struct ag_type *elem;
} ag_type;

typedef struct ag_field {
    const char *cname;
    const char *jname;
    int skip;          /* annotated skip: not encoded, copied bitwise */
    int bitfield;      /* (skipped) bit-field: copied by assignment */
    int is_count;      /* the count of a dynamic array: not encoded itself */
    ag_type *type;     /* NULL when skipped */
    const char *count; /* AG_DYN: C name of the count field */
    int line, col;
} ag_field;

typedef struct ag_enumerator {
    const char *cname;
    const char *jname;
} ag_enumerator;

typedef struct ag_enum {
    const char *tag, *tdname;
    const char *name;  /* for messages */
    const char *spell; /* "enum color" or "color" */
    ag_enumerator *items;
    size_t n;
} ag_enum;

typedef struct ag_struct {
    const char *tag, *tdname;
    const char *name;  /* prefix of the generated functions */
    const char *spell; /* "struct cart" or "cart_state" */
    ag_field *fields;
    size_t n;
    int line;
    int complete;
} ag_struct;

typedef struct ag_file {
    const char *path;    /* as given, for messages */
    const char *include; /* how the generated code includes the input */
    ag_struct **structs;
    size_t nstructs;
    ag_enum **enums;
    size_t nenums;
} ag_file;

/* Parse `len` bytes of `text`. 0, or -1 after printing
 * "path:line:column: message" to stderr. */
int actor__ag_parse(ag_file *file, const char *text, size_t len);

/* Write the generated header and source into h and c. `hname` is the
 * generated header's file name (for its guard and the source's include). */
void actor__ag_emit(const ag_file *file, const char *hname, const char *cname, ag_str *h,
                    ag_str *c);

#endif
