/*
 * emit.c: actorgen's writer. From the model parse.c built it writes, for
 * every struct T of the input, the prototypes (the .gen.h) and the bodies
 * (the .gen.c) of T_init, T_free, T_copy, T_equal, T_encode, T_decode and
 * the typed state client. Code for a field is produced by walking its type
 * (arrays nest), with the JSON path steps of the enclosing arrays kept on a
 * stack so every failure site can name the full path on its way out.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "actorgen.h"

typedef struct gen {
    ag_str *o;
    const char *steps[32]; /* path statements, outermost first */
    int nsteps;
} gen;

#define OUT(g, ...) actor__ag_str_add((g)->o, __VA_ARGS__)

static void ind(gen *g, int n)
{
    for (int i = 0; i < n; i++)
        OUT(g, "    ");
}

/* Emit "if (rc != 0) { <path steps innermost first> return rc; }". */
static void fail_block(gen *g, int in, const char *cond)
{
    ind(g, in);
    OUT(g, "if (%s) {\n", cond);
    for (int i = g->nsteps - 1; i >= 0; i--) {
        ind(g, in + 1);
        OUT(g, "%s\n", g->steps[i]);
    }
    ind(g, in + 1);
    OUT(g, "return rc;\n");
    ind(g, in);
    OUT(g, "}\n");
}

static void push_step(gen *g, const char *stmt)
{
    g->steps[g->nsteps++] = stmt;
}

static void pop_step(gen *g)
{
    g->nsteps--;
}

/* "T *" for a cast: "char *" becomes "char **". */
static const char *ptr_to(const char *spell)
{
    size_t n = strlen(spell);
    if (n > 0 && spell[n - 1] == '*')
        return actor__ag_printf("%s*", spell);
    return actor__ag_printf("%s *", spell);
}

static int needs_free(const ag_type *t);

static int struct_needs_free(const ag_struct *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->fields[i].skip && !s->fields[i].is_count && needs_free(s->fields[i].type))
            return 1;
    return 0;
}

static int needs_free(const ag_type *t)
{
    switch (t->kind) {
    case AG_STRING:
    case AG_DYN:
        return 1;
    case AG_STRUCT:
        return struct_needs_free(t->st);
    case AG_FIXED:
        return needs_free(t->elem);
    default:
        return 0;
    }
}

/* ---- encode ---------------------------------------------------------------- */

static void put_literal(gen *g, int in, const char *text)
{
    /* text is plain: no quotes or backslashes other than the \" we add. */
    size_t n = 0;
    for (const char *c = text; *c; c++)
        n++;
    ind(g, in);
    OUT(g, "rc = actor_json_put_raw(out, \"");
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            OUT(g, "\\\"");
        else
            OUT(g, "%c", *c);
    }
    OUT(g, "\", %zu);\n", n);
}

static void enc_value(gen *g, const ag_type *t, const char *lv, const char *count, int depth,
                      int in)
{
    switch (t->kind) {
    case AG_BOOL:
        ind(g, in);
        OUT(g, "rc = actor_json_put_bool(out, %s);\n", lv);
        break;
    case AG_INT:
        ind(g, in);
        OUT(g, "rc = actor_json_put_int(out, (int64_t)%s);\n", lv);
        break;
    case AG_UINT:
        ind(g, in);
        OUT(g, "rc = actor_json_put_uint(out, (uint64_t)%s);\n", lv);
        break;
    case AG_FLOAT:
        ind(g, in);
        OUT(g, "rc = actor_json_put_float(out, %s, e);\n", lv);
        break;
    case AG_DOUBLE:
        ind(g, in);
        OUT(g, "rc = actor_json_put_double(out, %s, e);\n", lv);
        break;
    case AG_STRING:
        ind(g, in);
        OUT(g, "rc = actor_json_put_string(out, %s, e);\n", lv);
        break;
    case AG_CHARS:
        ind(g, in);
        OUT(g, "rc = actor_json_put_chars(out, %s, sizeof(%s), e);\n", lv, lv);
        break;
    case AG_ENUM:
        for (size_t i = 0; i < t->en->n; i++) {
            ind(g, in);
            OUT(g, "%sif (%s == %s)\n", i ? "else " : "", lv, t->en->items[i].cname);
            put_literal(g, in + 1, actor__ag_printf("\"%s\"", t->en->items[i].jname));
        }
        ind(g, in);
        OUT(g, "else\n");
        ind(g, in + 1);
        OUT(g,
            "rc = actor_json_fail(e, ACTOR_EINVAL, \"%%lld is not a value of enum %s\", "
            "(long long)%s);\n",
            t->en->name, lv);
        break;
    case AG_STRUCT:
        ind(g, in);
        OUT(g, "rc = %s__enc(out, &%s, e);\n", t->st->name, lv);
        break;
    case AG_FIXED:
    case AG_DYN: {
        const char *i = actor__ag_printf("i%d", depth);
        const char *n =
            t->kind == AG_FIXED ? actor__ag_printf("sizeof(%s) / sizeof(%s[0])", lv, lv) : count;
        if (t->kind == AG_DYN) {
            ind(g, in);
            OUT(g, "if (%s == NULL && %s > 0)\n", lv, count);
            ind(g, in + 1);
            OUT(g,
                "rc = actor_json_fail(e, ACTOR_EINVAL, \"the count is %%zu but the pointer is "
                "NULL\", (size_t)%s);\n",
                count);
            ind(g, in);
            OUT(g, "else\n");
            put_literal(g, in + 1, "[");
        } else {
            put_literal(g, in, "[");
        }
        fail_block(g, in, "rc != 0");
        ind(g, in);
        OUT(g, "for (size_t %s = 0; %s < %s; %s++) {\n", i, i, n, i);
        push_step(g, actor__ag_printf("actor_json_path_index(e, %s);", i));
        ind(g, in + 1);
        OUT(g, "if (%s > 0) {\n", i);
        put_literal(g, in + 2, ",");
        fail_block(g, in + 2, "rc != 0");
        ind(g, in + 1);
        OUT(g, "}\n");
        enc_value(g, t->elem, actor__ag_printf("%s[%s]", lv, i), NULL, depth + 1, in + 1);
        fail_block(g, in + 1, "rc != 0");
        pop_step(g);
        ind(g, in);
        OUT(g, "}\n");
        put_literal(g, in, "]");
        break;
    }
    }
}

static void emit_encode(gen *g, const ag_struct *s)
{
    int first = 1, any = 0;

    for (size_t i = 0; i < s->n; i++)
        if (!s->fields[i].skip && !s->fields[i].is_count)
            any = 1;
    OUT(g, "static int %s__enc(actor_buf *out, const %s *v, actor_json_error *e)\n{\n", s->name,
        s->spell);
    if (!any) {
        OUT(g, "    (void)v;\n    (void)e;\n    return actor_buf_put(out, \"{}\", 2);\n}\n\n");
        return;
    }
    OUT(g, "    int rc;\n\n");
    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        if (f->skip || f->is_count)
            continue;
        put_literal(g, 1, actor__ag_printf("%s\"%s\":", first ? "{" : ",", f->jname));
        first = 0;
        OUT(g, "    if (rc != 0)\n        return rc;\n");
        push_step(g, actor__ag_printf("actor_json_path_key(e, \"%s\");", f->jname));
        enc_value(g, f->type, actor__ag_printf("v->%s", f->cname),
                  f->count ? actor__ag_printf("v->%s", f->count) : NULL, 0, 1);
        fail_block(g, 1, "rc != 0");
        pop_step(g);
    }
    OUT(g, "    return actor_json_put_raw(out, \"}\", 1);\n}\n\n");
}

/* ---- decode ---------------------------------------------------------------- */

/* Decoding is done by the runtime (actor_json_decode) from static
 * descriptions of the types: for each field a chain of actor_json_type
 * (arrays nest), for each struct its field table, for each enum its names.
 * Sizes and offsets come from sizeof and offsetof, so the tables hold for
 * whatever layout the compiler chooses. */

static int enum_used(const ag_file *file, const ag_enum *en)
{
    for (size_t i = 0; i < file->nstructs; i++) {
        const ag_struct *s = file->structs[i];
        for (size_t j = 0; j < s->n; j++) {
            const ag_type *t = s->fields[j].type;
            if (s->fields[j].skip || s->fields[j].is_count)
                continue;
            while (t->kind == AG_FIXED || t->kind == AG_DYN)
                t = t->elem;
            if (t->kind == AG_ENUM && t->en == en)
                return 1;
        }
    }
    return 0;
}

static void emit_enum_desc(gen *g, const ag_enum *en)
{
    OUT(g, "static const actor_json_enumerator %s__enum_names[] = {\n", en->name);
    for (size_t i = 0; i < en->n; i++)
        OUT(g, "    {\"%s\", %zu, (long long)%s},\n", en->items[i].jname,
            strlen(en->items[i].jname), en->items[i].cname);
    OUT(g, "};\n");
    OUT(g, "static const actor_json_enum %s__enum = {\"%s\", %s__enum_names, %zu};\n\n", en->name,
        en->name, en->name, en->n);
}

/* Emit the descriptions of t (the type of the expression `expr`, which
 * names the member through a null pointer, for sizeof only) and return
 * the name of the one for t itself. */
static const char *emit_type_desc(gen *g, const ag_type *t, const char *expr, const char *base,
                                  int depth)
{
    const char *name = actor__ag_printf("%s_%d", base, depth);
    const char *elem = "NULL", *kind, *count = "0", *min = "0", *max = "0", *st = "NULL",
               *en = "NULL";

    switch (t->kind) {
    case AG_STRUCT:
        return actor__ag_printf("%s__type", t->st->name);
    case AG_BOOL:
        kind = "ACTOR_JSON_C_BOOL";
        break;
    case AG_INT:
        kind = "ACTOR_JSON_C_INT";
        min = actor__ag_printf("(long long)(%s)", t->min);
        max = actor__ag_printf("(unsigned long long)(%s)", t->max);
        break;
    case AG_UINT:
        kind = "ACTOR_JSON_C_UINT";
        max = actor__ag_printf("(unsigned long long)(%s)", t->max);
        break;
    case AG_FLOAT:
        kind = "ACTOR_JSON_C_FLOAT";
        break;
    case AG_DOUBLE:
        kind = "ACTOR_JSON_C_DOUBLE";
        break;
    case AG_STRING:
        kind = "ACTOR_JSON_C_STRING";
        break;
    case AG_CHARS:
        kind = "ACTOR_JSON_C_CHARS";
        break;
    case AG_ENUM:
        kind = "ACTOR_JSON_C_ENUM";
        en = actor__ag_printf("&%s__enum", t->en->name);
        break;
    case AG_FIXED:
    case AG_DYN: {
        const char *sub = actor__ag_printf("%s[0]", expr);
        elem = actor__ag_printf("&%s", emit_type_desc(g, t->elem, sub, base, depth + 1));
        kind = t->kind == AG_FIXED ? "ACTOR_JSON_C_FIXED" : "ACTOR_JSON_C_DYN";
        if (t->kind == AG_FIXED)
            count = actor__ag_printf("sizeof(%s) / sizeof(%s)", expr, sub);
        break;
    }
    default:
        kind = "ACTOR_JSON_C_BOOL";
        break;
    }
    OUT(g, "static const actor_json_type %s = {%s, sizeof(%s), %s, %s, %s, %s, %s, %s};\n", name,
        kind, expr, count, min, max, elem, st, en);
    return name;
}

static void emit_decode(gen *g, const ag_struct *s)
{
    const char **types = actor__ag_alloc((s->n + 1) * sizeof(*types));
    size_t nf = 0;

    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        if (f->skip || f->is_count)
            continue;
        types[i] = emit_type_desc(g, f->type, actor__ag_printf("((%s *)0)->%s", s->spell, f->cname),
                                  actor__ag_printf("%s__t_%s", s->name, f->cname), 0);
        nf++;
    }
    if (nf > 0) {
        OUT(g, "static const actor_json_field %s__fields[] = {\n", s->name);
        for (size_t i = 0; i < s->n; i++) {
            const ag_field *f = &s->fields[i];
            if (f->skip || f->is_count)
                continue;
            OUT(g, "    {\"%s\", %zu, offsetof(%s, %s), %s, &%s},\n", f->jname, strlen(f->jname),
                s->spell, f->cname,
                f->count ? actor__ag_printf("offsetof(%s, %s)", s->spell, f->count) : "0",
                types[i]);
        }
        OUT(g, "};\n");
    }
    OUT(g, "static const actor_json_struct %s__struct = {\"%s\", %s, %zu};\n", s->name, s->name,
        nf > 0 ? actor__ag_printf("%s__fields", s->name) : "NULL", nf);
    OUT(g,
        "static const actor_json_type %s__type = {ACTOR_JSON_C_STRUCT, sizeof(%s), 0, 0, 0, NULL, "
        "&%s__struct, NULL};\n\n",
        s->name, s->spell, s->name);
}

/* ---- free, copy, equal ----------------------------------------------------- */

static void free_value(gen *g, const ag_type *t, const char *lv, const char *count, int depth,
                       int in)
{
    const char *i = actor__ag_printf("i%d", depth);

    switch (t->kind) {
    case AG_STRING:
        ind(g, in);
        OUT(g, "free(%s);\n", lv);
        break;
    case AG_STRUCT:
        if (struct_needs_free(t->st)) {
            ind(g, in);
            OUT(g, "%s_free(&%s);\n", t->st->name, lv);
        }
        break;
    case AG_FIXED:
        if (!needs_free(t->elem))
            break;
        ind(g, in);
        OUT(g, "for (size_t %s = 0; %s < sizeof(%s) / sizeof(%s[0]); %s++) {\n", i, i, lv, lv, i);
        free_value(g, t->elem, actor__ag_printf("%s[%s]", lv, i), NULL, depth + 1, in + 1);
        ind(g, in);
        OUT(g, "}\n");
        break;
    case AG_DYN:
        if (needs_free(t->elem)) {
            ind(g, in);
            OUT(g, "if (%s != NULL) {\n", lv);
            ind(g, in + 1);
            OUT(g, "for (size_t %s = 0; %s < %s; %s++) {\n", i, i, count, i);
            free_value(g, t->elem, actor__ag_printf("%s[%s]", lv, i), NULL, depth + 1, in + 2);
            ind(g, in + 1);
            OUT(g, "}\n");
            ind(g, in);
            OUT(g, "}\n");
        }
        ind(g, in);
        OUT(g, "free(%s);\n", lv);
        break;
    default:
        break;
    }
}

/* Deep copy of one value into a zeroed destination; "return rc" on failure
 * leaves what was copied so far for the caller's T_free. */
static void copy_value(gen *g, const ag_type *t, const char *dst, const char *src,
                       const char *dcount, const char *scount, int depth, int in)
{
    const char *i = actor__ag_printf("i%d", depth);

    if (!needs_free(t)) {
        ind(g, in);
        if (t->kind == AG_FIXED || t->kind == AG_CHARS)
            OUT(g, "memcpy(%s, %s, sizeof(%s));\n", dst, src, dst);
        else
            OUT(g, "%s = %s;\n", dst, src);
        return;
    }
    switch (t->kind) {
    case AG_STRING:
        ind(g, in);
        OUT(g, "if (actor_json_copy_string(&%s, %s) != 0)\n", dst, src);
        ind(g, in + 1);
        OUT(g, "return ACTOR_ENOMEM;\n");
        break;
    case AG_STRUCT:
        ind(g, in);
        OUT(g, "if ((rc = %s__copy(&%s, &%s)) != 0)\n", t->st->name, dst, src);
        ind(g, in + 1);
        OUT(g, "return rc;\n");
        break;
    case AG_FIXED:
        ind(g, in);
        OUT(g, "for (size_t %s = 0; %s < sizeof(%s) / sizeof(%s[0]); %s++) {\n", i, i, dst, dst, i);
        copy_value(g, t->elem, actor__ag_printf("%s[%s]", dst, i),
                   actor__ag_printf("%s[%s]", src, i), NULL, NULL, depth + 1, in + 1);
        ind(g, in);
        OUT(g, "}\n");
        break;
    case AG_DYN:
        ind(g, in);
        OUT(g, "if (%s > 0) {\n", scount);
        ind(g, in + 1);
        OUT(g, "if (%s == NULL)\n", src);
        ind(g, in + 2);
        OUT(g, "return ACTOR_EINVAL;\n");
        ind(g, in + 1);
        OUT(g, "%s = (%s)calloc(%s, sizeof(%s[0]));\n", dst, ptr_to(t->elem->spell), scount, dst);
        ind(g, in + 1);
        OUT(g, "if (%s == NULL)\n", dst);
        ind(g, in + 2);
        OUT(g, "return ACTOR_ENOMEM;\n");
        ind(g, in + 1);
        OUT(g, "%s = %s;\n", dcount, scount);
        if (needs_free(t->elem)) {
            ind(g, in + 1);
            OUT(g, "for (size_t %s = 0; %s < %s; %s++) {\n", i, i, scount, i);
            copy_value(g, t->elem, actor__ag_printf("%s[%s]", dst, i),
                       actor__ag_printf("%s[%s]", src, i), NULL, NULL, depth + 1, in + 2);
            ind(g, in + 1);
            OUT(g, "}\n");
        } else {
            ind(g, in + 1);
            OUT(g, "memcpy(%s, %s, %s * sizeof(%s[0]));\n", dst, src, scount, dst);
        }
        ind(g, in);
        OUT(g, "}\n");
        break;
    default:
        break;
    }
}

static void equal_value(gen *g, const ag_type *t, const char *a, const char *b, const char *ca,
                        const char *cb, int depth, int in)
{
    const char *i = actor__ag_printf("i%d", depth);

    switch (t->kind) {
    case AG_BOOL:
    case AG_INT:
    case AG_UINT:
    case AG_ENUM:
        ind(g, in);
        OUT(g, "if (%s != %s)\n", a, b);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        break;
    case AG_FLOAT:
    case AG_DOUBLE:
        ind(g, in);
        OUT(g, "if (memcmp(&%s, &%s, sizeof(%s)) != 0)\n", a, b, a);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        break;
    case AG_STRING:
        ind(g, in);
        OUT(g, "if (%s != %s && (%s == NULL || %s == NULL || strcmp(%s, %s) != 0))\n", a, b, a, b,
            a, b);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        break;
    case AG_CHARS:
        ind(g, in);
        OUT(g, "if (strncmp(%s, %s, sizeof(%s)) != 0)\n", a, b, a);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        break;
    case AG_STRUCT:
        ind(g, in);
        OUT(g, "if (!%s_equal(&%s, &%s))\n", t->st->name, a, b);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        break;
    case AG_FIXED:
        ind(g, in);
        OUT(g, "for (size_t %s = 0; %s < sizeof(%s) / sizeof(%s[0]); %s++) {\n", i, i, a, a, i);
        equal_value(g, t->elem, actor__ag_printf("%s[%s]", a, i), actor__ag_printf("%s[%s]", b, i),
                    NULL, NULL, depth + 1, in + 1);
        ind(g, in);
        OUT(g, "}\n");
        break;
    case AG_DYN:
        ind(g, in);
        OUT(g, "if (%s != %s)\n", ca, cb);
        ind(g, in + 1);
        OUT(g, "return false;\n");
        ind(g, in);
        OUT(g, "if (%s > 0 && %s != %s) {\n", ca, a, b);
        ind(g, in + 1);
        OUT(g, "if (%s == NULL || %s == NULL)\n", a, b);
        ind(g, in + 2);
        OUT(g, "return false;\n");
        ind(g, in + 1);
        OUT(g, "for (size_t %s = 0; %s < %s; %s++) {\n", i, i, ca, i);
        equal_value(g, t->elem, actor__ag_printf("%s[%s]", a, i), actor__ag_printf("%s[%s]", b, i),
                    NULL, NULL, depth + 1, in + 2);
        ind(g, in + 1);
        OUT(g, "}\n");
        ind(g, in);
        OUT(g, "}\n");
        break;
    }
}

static void emit_free(gen *g, const ag_struct *s)
{
    OUT(g, "void %s_free(%s *v)\n{\n    if (v == NULL)\n        return;\n", s->name, s->spell);
    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        if (f->skip || f->is_count)
            continue;
        free_value(g, f->type, actor__ag_printf("v->%s", f->cname),
                   f->count ? actor__ag_printf("v->%s", f->count) : NULL, 0, 1);
    }
    OUT(g, "    memset(v, 0, sizeof(*v));\n}\n\n");
}

static void emit_copy(gen *g, const ag_struct *s)
{
    int uses_rc = 0;

    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        const ag_type *t = f->type;
        if (f->skip || f->is_count)
            continue;
        while (t->kind == AG_FIXED || t->kind == AG_DYN)
            t = t->elem;
        if (t->kind == AG_STRUCT && struct_needs_free(t->st))
            uses_rc = 1;
    }
    OUT(g, "static int %s__copy(%s *dst, const %s *src)\n{\n", s->name, s->spell, s->spell);
    if (uses_rc)
        OUT(g, "    int rc;\n\n");
    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        if (f->is_count)
            continue;
        if (f->skip) {
            if (f->bitfield)
                OUT(g, "    dst->%s = src->%s;\n", f->cname, f->cname);
            else
                OUT(g, "    memcpy(&dst->%s, &src->%s, sizeof(dst->%s));\n", f->cname, f->cname,
                    f->cname);
            continue;
        }
        copy_value(g, f->type, actor__ag_printf("dst->%s", f->cname),
                   actor__ag_printf("src->%s", f->cname),
                   f->count ? actor__ag_printf("dst->%s", f->count) : NULL,
                   f->count ? actor__ag_printf("src->%s", f->count) : NULL, 0, 1);
    }
    OUT(g, "    return 0;\n}\n\n");
    OUT(g,
        "int %s_copy(%s *dst, const %s *src)\n"
        "{\n"
        "    int rc;\n\n"
        "    if (dst == NULL || src == NULL)\n"
        "        return actor_error_set(ACTOR_EINVAL, \"%s_copy: NULL argument\");\n"
        "    memset(dst, 0, sizeof(*dst));\n"
        "    rc = %s__copy(dst, src);\n"
        "    if (rc != 0) {\n"
        "        %s_free(dst);\n"
        "        if (rc == ACTOR_ENOMEM)\n"
        "            return actor_error_set(rc, \"%s_copy: out of memory\");\n"
        "        return actor_error_set(rc, \"%s_copy: an array has a count but a NULL "
        "pointer\");\n"
        "    }\n"
        "    return 0;\n"
        "}\n\n",
        s->name, s->spell, s->spell, s->name, s->name, s->name, s->name, s->name);
}

static void emit_equal(gen *g, const ag_struct *s)
{
    int any = 0;

    OUT(g, "bool %s_equal(const %s *a, const %s *b)\n{\n", s->name, s->spell, s->spell);
    for (size_t i = 0; i < s->n; i++) {
        const ag_field *f = &s->fields[i];
        if (f->skip || f->is_count)
            continue;
        any = 1;
        equal_value(g, f->type, actor__ag_printf("a->%s", f->cname),
                    actor__ag_printf("b->%s", f->cname),
                    f->count ? actor__ag_printf("a->%s", f->count) : NULL,
                    f->count ? actor__ag_printf("b->%s", f->count) : NULL, 0, 1);
    }
    if (!any)
        OUT(g, "    (void)a;\n    (void)b;\n");
    OUT(g, "    return true;\n}\n\n");
}

/* ---- per struct ------------------------------------------------------------ */

static void emit_prototypes(ag_str *h, const ag_struct *s)
{
    const char *n = s->name, *t = s->spell;

    actor__ag_str_add(h, "/* %s: see docs/codegen.md for the contracts. */\n", t);
    actor__ag_str_add(h, "void %s_init(%s *v);\n", n, t);
    actor__ag_str_add(h, "void %s_free(%s *v);\n", n, t);
    actor__ag_str_add(h, "int %s_copy(%s *dst, const %s *src);\n", n, t, t);
    actor__ag_str_add(h, "bool %s_equal(const %s *a, const %s *b);\n", n, t, t);
    actor__ag_str_add(h, "int %s_encode(actor_buf *out, const %s *v);\n", n, t);
    actor__ag_str_add(h,
                      "int %s_decode(%s *out, const void *json, size_t len, actor_json_error "
                      "*err);\n",
                      n, t);
    actor__ag_str_add(h, "int %s_state_get(%s *out, actor_ctx *ctx);\n", n, t);
    actor__ag_str_add(h, "int %s_state_set(actor_ctx *ctx, const %s *v, int64_t ttl_ms);\n", n, t);
    actor__ag_str_add(h, "int %s_state_delete(actor_ctx *ctx);\n", n);
    actor__ag_str_add(h, "int %s_state_stage(actor_ctx *ctx, const %s *v, int64_t ttl_ms);\n", n,
                      t);
    actor__ag_str_add(h,
                      "int %s_state_get_at(%s *out, actor_host *host, const char *type, const "
                      "char *id);\n",
                      n, t);
    actor__ag_str_add(h,
                      "int %s_state_set_at(actor_host *host, const char *type, const char *id, "
                      "const %s *v,\n    int64_t ttl_ms);\n",
                      n, t);
    actor__ag_str_add(h,
                      "int %s_state_delete_at(actor_host *host, const char *type, const char "
                      "*id);\n\n",
                      n);
}

static void emit_struct(gen *g, const ag_struct *s)
{
    const char *n = s->name, *t = s->spell;

    OUT(g, "/* ---- %s ---- */\n\n", t);
    OUT(g, "void %s_init(%s *v)\n{\n    memset(v, 0, sizeof(*v));\n}\n\n", n, t);
    emit_free(g, s);
    emit_copy(g, s);
    emit_equal(g, s);
    emit_encode(g, s);
    OUT(g,
        "int %s_encode(actor_buf *out, const %s *v)\n"
        "{\n"
        "    actor_json_error e;\n"
        "    size_t mark;\n\n"
        "    if (out == NULL || v == NULL)\n"
        "        return actor_error_set(ACTOR_EINVAL, \"%s_encode: NULL argument\");\n"
        "    e.path[0] = '\\0';\n"
        "    e.message[0] = '\\0';\n"
        "    mark = out->size;\n"
        "    return actor_json_encode_end(out, mark, %s__enc(out, v, &e), \"%s\", &e);\n"
        "}\n\n",
        n, t, n, n, n);
    emit_decode(g, s);
    OUT(g,
        "int %s_decode(%s *out, const void *json, size_t len, actor_json_error *err)\n"
        "{\n"
        "    int rc;\n\n"
        "    if (out == NULL)\n"
        "        return actor_error_set(ACTOR_EINVAL, \"%s_decode: out is NULL\");\n"
        "    memset(out, 0, sizeof(*out));\n"
        "    rc = actor_json_decode(out, json, len, &%s__type, \"%s\", err);\n"
        "    if (rc != 0)\n"
        "        %s_free(out);\n"
        "    return rc;\n"
        "}\n\n",
        n, t, n, n, n, n);
    /* The codec the state client core works through. */
    OUT(g,
        "static void %s__v_init(void *v)\n{\n    %s_init((%s *)v);\n}\n\n"
        "static void %s__v_free(void *v)\n{\n    %s_free((%s *)v);\n}\n\n"
        "static int %s__v_copy(void *dst, const void *src)\n{\n"
        "    return %s_copy((%s *)dst, (const %s *)src);\n}\n\n"
        "static int %s__v_encode(actor_buf *out, const void *v)\n{\n"
        "    return %s_encode(out, (const %s *)v);\n}\n\n"
        "static int %s__v_decode(void *out, const void *json, size_t len, actor_json_error *err)\n"
        "{\n    return %s_decode((%s *)out, json, len, err);\n}\n\n",
        n, n, t, n, n, t, n, n, t, t, n, n, t, n, n, t);
    OUT(g,
        "/* Also the tag of %s values in an activation's cache slot. */\n"
        "static const actor_json_codec %s__codec = {\n"
        "    ACTOR_JSON_CODEC_VERSION, \"%s\", sizeof(%s), %s__v_init, %s__v_free,\n"
        "    %s__v_copy, %s__v_encode, %s__v_decode};\n\n",
        n, n, n, t, n, n, n, n, n);
    OUT(g,
        "int %s_state_get(%s *out, actor_ctx *ctx)\n{\n"
        "    return actor_json_state_get(out, ctx, &%s__codec);\n}\n\n"
        "int %s_state_set(actor_ctx *ctx, const %s *v, int64_t ttl_ms)\n{\n"
        "    return actor_json_state_set(ctx, v, ttl_ms, &%s__codec);\n}\n\n"
        "int %s_state_stage(actor_ctx *ctx, const %s *v, int64_t ttl_ms)\n{\n"
        "    return actor_json_state_stage(ctx, v, ttl_ms, &%s__codec);\n}\n\n"
        "int %s_state_delete(actor_ctx *ctx)\n{\n"
        "    return actor_json_state_delete(ctx, &%s__codec);\n}\n\n"
        "int %s_state_get_at(%s *out, actor_host *host, const char *type, const char *id)\n{\n"
        "    return actor_json_state_get_at(out, host, type, id, &%s__codec);\n}\n\n"
        "int %s_state_set_at(actor_host *host, const char *type, const char *id, const %s *v,\n"
        "    int64_t ttl_ms)\n{\n"
        "    return actor_json_state_set_at(host, type, id, v, ttl_ms, &%s__codec);\n}\n\n"
        "int %s_state_delete_at(actor_host *host, const char *type, const char *id)\n{\n"
        "    return actor_json_state_delete_at(host, type, id);\n}\n\n",
        n, t, n, n, t, n, n, t, n, n, n, n, t, n, n, t, n, n);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

void actor__ag_emit(const ag_file *file, const char *hname, const char *cname, ag_str *h, ag_str *c)
{
    gen g;
    char guard[256];
    size_t k = 0;
    const char *in = base_name(file->path);

    for (const char *s = "ACTORGEN_"; *s && k < sizeof(guard) - 1; s++)
        guard[k++] = *s;
    for (const char *s = hname; *s && k < sizeof(guard) - 1; s++)
        guard[k++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
    guard[k] = '\0';

    actor__ag_str_add(h,
                      "/* %s: generated by actorgen from %s. Do not edit: change %s and "
                      "rebuild. */\n",
                      hname, in, in);
    actor__ag_str_add(h, "#ifndef %s\n#define %s\n\n", guard, guard);
    actor__ag_str_add(h, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    actor__ag_str_add(h, "#include <actor/actor.h>\n#include <actor/json.h>\n\n");
    actor__ag_str_add(h, "#include \"%s\"\n\n", file->include);
    actor__ag_str_add(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    for (size_t i = 0; i < file->nstructs; i++)
        emit_prototypes(h, file->structs[i]);
    actor__ag_str_add(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");

    g.o = c;
    g.nsteps = 0;
    actor__ag_str_add(c,
                      "/* %s: generated by actorgen from %s. Do not edit: change %s and "
                      "rebuild. */\n",
                      cname, in, in);
    actor__ag_str_add(c, "#include \"%s\"\n\n", hname);
    actor__ag_str_add(c, "#include <limits.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
    for (size_t i = 0; i < file->nstructs; i++) {
        const ag_struct *s = file->structs[i];
        actor__ag_str_add(c, "static int %s__copy(%s *dst, const %s *src);\n", s->name, s->spell,
                          s->spell);
        actor__ag_str_add(c,
                          "static int %s__enc(actor_buf *out, const %s *v, actor_json_error *e);\n",
                          s->name, s->spell);
    }
    actor__ag_str_add(c, "\n");
    for (size_t i = 0; i < file->nenums; i++)
        if (enum_used(file, file->enums[i]))
            emit_enum_desc(&g, file->enums[i]);
    for (size_t i = 0; i < file->nstructs; i++)
        emit_struct(&g, file->structs[i]);
}
