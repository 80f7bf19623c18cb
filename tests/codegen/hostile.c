/*
 * hostile.c: generated decoders against hostile input. Every prefix of a
 * valid document, 100,000 levels of nesting, 10 MB strings, 1,000-digit
 * numbers, a wrong-typed value at every path of a full document, invalid
 * UTF-8, lone surrogates and NULs: each returns an error (or, where the
 * input is valid, the right value), never crashes, and leaks nothing (run
 * under AddressSanitizer).
 */
#include "test.h"

#include <jansson.h>

#include "types.gen.h"

static void fill(everything *v)
{
    static char *tags[] = {"t1", "t2"};
    static item items[2];
    static int64_t numbers[] = {1, -2};
    static struct point path[] = {{1, 2}};

    everything_init(v);
    items[0].name = "n0";
    items[1].name = "n1";
    v->text = "text";
    strcpy(v->code, "abc");
    v->items = items;
    v->items_count = 2;
    v->tags = tags;
    v->tags_count = 2;
    v->numbers = numbers;
    v->numbers_count = 2;
    v->path = path;
    v->path_count = 1;
    v->labels[0] = "l0";
    v->best[1].name = "b1";
}

static void test_truncated(void)
{
    everything v, out;
    actor_buf b = ACTOR_BUF_INIT;

    fill(&v);
    T_OK(everything_encode(&b, &v));
    for (size_t n = 0; n < b.size; n++) {
        int rc = everything_decode(&out, b.ptr, n, NULL);
        if (rc != ACTOR_EDECODE)
            T_FAIL("prefix of %zu bytes: rc %d", n, rc);
        everything_free(&out);
    }
    T_OK(everything_decode(&out, b.ptr, b.size, NULL));
    T_CHECK(everything_equal(&v, &out));
    everything_free(&out);
    actor_buf_dispose(&b);
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * times + tl + 1), *p = s;
    T_ASSERT(s != NULL);
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < times; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

static void test_deep_nesting(void)
{
    const char *cases[][3] = {
        {"", "[", ""},
        {"{\"items\":", "[", ""},
        {"{\"unknown\":", "{\"a\":", "1"},
        {"{\"grid\":", "[", ""},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *doc = repeat(cases[c][0], cases[c][1], 100000, cases[c][2]);
        everything v;
        actor_json_error e;
        T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
        everything_free(&v);
        free(doc);
    }
    /* The limit is jansson's: 2048 levels, the root value being level 1. */
    {
        char *open = repeat("{\"zz\":", "[", 2047, "");
        char *ok = repeat(open, "]", 2047, "}");
        char *deep = repeat("{\"zz\":[", "[", 2047, "1");
        everything v;
        actor_json_error e;
        T_OK(everything_decode(&v, ok, strlen(ok), NULL));
        T_EQ(everything_decode(&v, deep, strlen(deep), &e), ACTOR_EDECODE);
        T_CONTAINS(e.message, "depth");
        free(open);
        free(ok);
        free(deep);
    }
    /* Closed as well: still refused by the depth limit. */
    {
        char *open = repeat("{\"tags\":", "[", 100000, "");
        char *doc = repeat(open, "]", 100000, "}");
        everything v;
        T_EQ(everything_decode(&v, doc, strlen(doc), NULL), ACTOR_EDECODE);
        T_CONTAINS(actor_error_last(), "depth");
        free(open);
        free(doc);
    }
}

static void test_huge_strings(void)
{
    size_t n = 10 * 1024 * 1024;
    char *doc = repeat("{\"text\":\"", "\xc3\xa9", n / 2, "\"}");
    everything v;
    actor_buf b = ACTOR_BUF_INIT;

    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    T_EQ(strlen(v.text), n);
    T_OK(everything_encode(&b, &v));
    T_CONTAINS(b.ptr, "\xc3\xa9\xc3\xa9\",\"code\"");
    everything_free(&v);
    actor_buf_dispose(&b);
    free(doc);

    /* Too long for char[8], and as a key nobody knows. */
    doc = repeat("{\"code\":\"", "x", n, "\"}");
    T_EQ(everything_decode(&v, doc, strlen(doc), NULL), ACTOR_EDECODE);
    T_CONTAINS(actor_error_last(), "/code: string of 10485760 bytes is too long");
    free(doc);
    doc = repeat("{\"", "k", n, "\":1}");
    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    everything_free(&v);
    free(doc);
}

static void test_long_numbers(void)
{
    char *doc;
    everything v;
    actor_json_error e;

    doc = repeat("{\"s\":{\"i64\":", "9", 1000, "}}");
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_STREQ(e.path, "/s/i64");
    free(doc);
    doc = repeat("{\"s\":{\"d\":1.", "0", 1000, "1}}");
    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    T_CHECK(v.s.d == 1.0);
    free(doc);
    doc = repeat("{\"s\":{\"i32\":1.", "0", 1000, "1}}");
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_STREQ(e.path, "/s/i32");
    free(doc);
    doc = repeat("{\"s\":{\"d\":1", "0", 1000, "}}");
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    free(doc);
    doc = repeat("{\"s\":{\"d\":0.", "0", 1000, "1}}");
    T_OK(everything_decode(&v, doc, strlen(doc), NULL));
    T_CHECK(v.s.d == 0.0);
    free(doc);
    doc = repeat("{\"s\":{\"f\":1e", "9", 1000, "}}");
    T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
    T_STREQ(e.path, "/s/f");
    free(doc);
}

/* Replace the value at every path of a full document by values of other
 * types; each replacement the type does not accept must fail at exactly
 * that path. */
static int walked, refused;

static void try_replacements(json_t *root, json_t *parent, const char *key, size_t index,
                             const char *path)
{
    static const char *subs[] = {"\"str\"", "1.5", "true", "{}", "[]", "-7", "[1,[2]]"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        json_t *old =
            json_incref(key ? json_object_get(parent, key) : json_array_get(parent, index));
        json_t *sub = json_loads(subs[i], JSON_DECODE_ANY, NULL);
        char *doc;
        everything v;
        actor_json_error e;
        int rc;

        if (key)
            json_object_set_new(parent, key, sub);
        else
            json_array_set_new(parent, index, sub);
        doc = json_dumps(root, JSON_COMPACT);
        rc = everything_decode(&v, doc, strlen(doc), &e);
        if (rc != 0) {
            refused++;
            T_EQ(rc, ACTOR_EDECODE);
            size_t pl = strlen(path);
            /* At the value, or inside it (an array of wrong elements). */
            if (strncmp(e.path, path, pl) != 0 || (e.path[pl] != '\0' && e.path[pl] != '/'))
                T_FAIL("%s at %s: error at \"%s\" (%s)", subs[i], path, e.path, e.message);
            T_CHECK(e.line == 1 && e.column >= 1);
        }
        everything_free(&v);
        free(doc);
        if (key)
            json_object_set_new(parent, key, old);
        else
            json_array_set_new(parent, index, old);
    }
    walked++;
}

static void walk(json_t *root, json_t *v, const char *path)
{
    char sub[256];
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, child)
        {
            snprintf(sub, sizeof(sub), "%s/%s", path, k);
            walk(root, child, sub);
            try_replacements(root, v, k, 0, sub);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof(sub), "%s/%zu", path, i);
            walk(root, json_array_get(v, i), sub);
            try_replacements(root, v, NULL, i, sub);
        }
    }
}

static void test_wrong_type_at_every_path(void)
{
    everything v;
    actor_buf b = ACTOR_BUF_INIT;
    json_t *root;

    fill(&v);
    T_OK(everything_encode(&b, &v));
    root = json_loads(b.ptr, 0, NULL);
    T_ASSERT(root != NULL);
    walked = refused = 0;
    walk(root, root, "");
    json_decref(root);
    actor_buf_dispose(&b);
    T_CHECK(walked > 80);
    /* Most replacements are wrong for most paths. */
    T_CHECK(refused > walked * 4);
    fprintf(stderr, "  %d paths, %d refusals\n", walked, refused);
}

static void test_bad_text(void)
{
    static const char *bad[] = {
        "{\"text\":\"\xff\"}",             /* invalid byte */
        "{\"text\":\"\xc0\xaf\"}",         /* overlong */
        "{\"text\":\"\xe2\x82\"}",         /* truncated sequence */
        "{\"text\":\"\xed\xa0\x80\"}",     /* UTF-8 encoded surrogate */
        "{\"text\":\"\xf4\x90\x80\x80\"}", /* past U+10FFFF */
        "{\"text\":\"\\ud800\"}",          /* lone high surrogate */
        "{\"text\":\"\\udc00x\"}",         /* lone low surrogate */
        "{\"text\":\"\\ud800\\u0041\"}",   /* high surrogate + non-surrogate */
        "{\"text\":\"a\\u0000b\"}",        /* NUL cannot live in a C string */
        "{\"text\":\"a\x01\"}",            /* raw control character */
        "{\"text\":\"\\x41\"}",            /* bad escape */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        everything v;
        actor_json_error e;
        int rc = everything_decode(&v, bad[i], strlen(bad[i]), &e);
        if (rc != ACTOR_EDECODE)
            T_FAIL("case %zu: rc %d", i, rc);
        else
            T_STREQ(e.path, "/text");
        everything_free(&v);
    }
    /* The same inside an array element. */
    {
        const char *doc = "{\"items\":[{},{\"name\":\"\\udfff\"}]}";
        everything v;
        actor_json_error e;
        T_EQ(everything_decode(&v, doc, strlen(doc), &e), ACTOR_EDECODE);
        T_STREQ(e.path, "/items/1/name");
    }
    /* A valid pair is fine. */
    {
        const char *doc = "{\"text\":\"\\ud83d\\ude00\"}";
        everything v;
        T_OK(everything_decode(&v, doc, strlen(doc), NULL));
        T_STREQ(v.text, "\xf0\x9f\x98\x80");
        everything_free(&v);
    }
    /* Raw NUL bytes inside the input. */
    {
        const char doc[] = "{\"text\":\"a\0b\"}";
        everything v;
        T_EQ(everything_decode(&v, doc, sizeof(doc) - 1, NULL), ACTOR_EDECODE);
    }
}

int main(void)
{
    T_RUN(test_truncated);
    T_RUN(test_deep_nesting);
    T_RUN(test_huge_strings);
    T_RUN(test_long_numbers);
    T_RUN(test_wrong_type_at_every_path);
    T_RUN(test_bad_text);
    return t_done();
}
