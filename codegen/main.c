/*
 * main.c: the actorgen command. Reads one C header, parses it (parse.c),
 * generates the code (emit.c) into memory, and only when all of that
 * succeeded writes <stem>.gen.h and <stem>.gen.c into the output directory,
 * each through a temporary file renamed into place, so a failed run never
 * leaves partial output. Also the arena and string builder the other parts
 * use.
 *
 * Usage: actorgen [-o DIR] [--include NAME] HEADER
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actorgen.h"

/* ---- arena ----------------------------------------------------------------- */

typedef struct block {
    struct block *next;
    /* the allocation follows, aligned for any type */
    union {
        long double ld;
        void *p;
        long long ll;
    } align[1];
} block;

static block *blocks;

static void die_oom(void)
{
    fputs("actorgen: out of memory\n", stderr);
    exit(2);
}

void *actor__ag_alloc(size_t size)
{
    block *b = calloc(1, sizeof(block) + size);
    if (b == NULL)
        die_oom();
    b->next = blocks;
    blocks = b;
    return b->align;
}

void actor__ag_free_all(void)
{
    while (blocks) {
        block *b = blocks;
        blocks = b->next;
        free(b);
    }
}

char *actor__ag_strndup(const char *s, size_t n)
{
    char *p = actor__ag_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *actor__ag_strdup(const char *s)
{
    return actor__ag_strndup(s, strlen(s));
}

char *actor__ag_printf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    p = actor__ag_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void actor__ag_str_add(ag_str *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (s->len + (size_t)n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *p;
        while (cap < s->len + (size_t)n + 1)
            cap *= 2;
        p = realloc(s->ptr, cap);
        if (p == NULL)
            die_oom();
        s->ptr = p;
        s->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(s->ptr + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void actor__ag_str_free(ag_str *s)
{
    free(s->ptr);
    s->ptr = NULL;
    s->len = s->cap = 0;
}

/* ---- files ----------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;
        if (n + 4096 + 1 > cap) {
            char *p;
            cap = cap ? cap * 2 : 65536;
            p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                die_oom();
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int write_tmp(const char *tmp, const ag_str *s)
{
    FILE *f = fopen(tmp, "wb");
    int ok;

    if (f == NULL)
        return -1;
    ok = fwrite(s->ptr, 1, s->len, f) == s->len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int usage(void)
{
    fputs("usage: actorgen [-o DIR] [--include NAME] HEADER\n"
          "  Writes DIR/<stem>.gen.h and DIR/<stem>.gen.c (DIR defaults to '.').\n"
          "  --include NAME  how the generated header includes HEADER (default: its\n"
          "                  file name, found through the include path).\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *outdir = ".", *include = NULL, *input = NULL;
    ag_file file;
    ag_str h = {NULL, 0, 0}, c = {NULL, 0, 0};
    char *text, *stem, *hname, *cname, *hpath, *cpath, *htmp, *ctmp;
    size_t len, stemlen;
    const char *base, *dot;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            outdir = argv[++i];
        else if (strcmp(argv[i], "--include") == 0 && i + 1 < argc)
            include = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return usage(), 0;
        else if (argv[i][0] == '-' || input)
            return usage();
        else
            input = argv[i];
    }
    if (input == NULL)
        return usage();
    text = read_file(input, &len);
    if (text == NULL) {
        fprintf(stderr, "actorgen: cannot read %s: %s\n", input, strerror(errno));
        return 2;
    }
    base = base_name(input);
    dot = strrchr(base, '.');
    stemlen = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    stem = actor__ag_strndup(base, stemlen);

    memset(&file, 0, sizeof(file));
    file.path = input;
    file.include = include ? include : base;
    if (actor__ag_parse(&file, text, len) != 0)
        goto out;
    hname = actor__ag_printf("%s.gen.h", stem);
    cname = actor__ag_printf("%s.gen.c", stem);
    actor__ag_emit(&file, hname, cname, &h, &c);
    hpath = actor__ag_printf("%s/%s", outdir, hname);
    cpath = actor__ag_printf("%s/%s", outdir, cname);
    htmp = actor__ag_printf("%s.tmp%ld", hpath, (long)getpid());
    ctmp = actor__ag_printf("%s.tmp%ld", cpath, (long)getpid());
    if (write_tmp(htmp, &h) != 0 || write_tmp(ctmp, &c) != 0) {
        fprintf(stderr, "actorgen: cannot write into %s: %s\n", outdir, strerror(errno));
        remove(htmp);
        remove(ctmp);
        rc = 2;
        goto out;
    }
    if (rename(htmp, hpath) != 0 || rename(ctmp, cpath) != 0) {
        fprintf(stderr, "actorgen: cannot write %s: %s\n", hpath, strerror(errno));
        remove(htmp);
        remove(ctmp);
        rc = 2;
        goto out;
    }
    rc = 0;
out:
    free(text);
    actor__ag_str_free(&h);
    actor__ag_str_free(&c);
    actor__ag_free_all();
    return rc;
}
