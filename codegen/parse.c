/*
 * parse.c: actorgen's reader of C headers. A small lexer turns the header
 * into tokens (skipping preprocessor lines and keeping "actor:" annotation
 * comments aside), and a parser reads the struct and enum definitions at
 * file scope into the model of actorgen.h, binding each annotation to its
 * field. Anything it cannot encode exactly is rejected with
 * "file:line:column: message" at the first offence; other file-scope
 * declarations (functions, variables, other typedefs) are skipped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorgen.h"

typedef enum tok_kind { TK_EOF, TK_IDENT, TK_NUMBER, TK_STRING, TK_PUNCT } tok_kind;

typedef struct token {
    tok_kind kind;
    const char *text;
    int line, col;
} token;

typedef struct annotation {
    const char *text; /* after "actor:" */
    int line, col;
    size_t next; /* index of the token that follows the comment */
    int used;
} annotation;

typedef struct parser {
    ag_file *file;
    token *toks;
    size_t ntoks, cap;
    annotation *notes;
    size_t nnotes, notecap;
    size_t pos;
    /* names seen at file scope, for better messages */
    const char **unions;
    size_t nunions;
    const char **aliases; /* pairs: typedef name, struct tag (forward typedefs) */
    size_t naliases;
} parser;

static int fail_at(parser *p, int line, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail_at(parser *p, int line, int col, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d:%d: ", p->file->path, line, col);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

#define FAIL_TOK(p, t, ...) fail_at((p), (t)->line, (t)->col, __VA_ARGS__)

/* ---- lexer ----------------------------------------------------------------- */

static void push_token(parser *p, tok_kind kind, const char *s, size_t n, int line, int col)
{
    if (p->ntoks == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        token *t = actor__ag_alloc(cap * sizeof(*t));
        if (p->ntoks)
            memcpy(t, p->toks, p->ntoks * sizeof(*t));
        p->toks = t;
        p->cap = cap;
    }
    p->toks[p->ntoks].kind = kind;
    p->toks[p->ntoks].text = actor__ag_strndup(s, n);
    p->toks[p->ntoks].line = line;
    p->toks[p->ntoks].col = col;
    p->ntoks++;
}

/* Keep a comment if its text starts with "actor:" (after blanks and '*'). */
static void note_comment(parser *p, const char *s, size_t n, int line, int col)
{
    size_t i = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '*' || s[i] == '!' || s[i] == '/'))
        i++;
    if (n - i < 6 || strncmp(s + i, "actor:", 6) != 0)
        return;
    i += 6;
    if (p->nnotes == p->notecap) {
        size_t cap = p->notecap ? p->notecap * 2 : 16;
        annotation *a = actor__ag_alloc(cap * sizeof(*a));
        if (p->nnotes)
            memcpy(a, p->notes, p->nnotes * sizeof(*a));
        p->notes = a;
        p->notecap = cap;
    }
    p->notes[p->nnotes].text = actor__ag_strndup(s + i, n - i);
    p->notes[p->nnotes].line = line;
    p->notes[p->nnotes].col = col;
    p->notes[p->nnotes].next = p->ntoks;
    p->notes[p->nnotes].used = 0;
    p->nnotes++;
}

static int lex(parser *p, const char *s, size_t len)
{
    size_t i = 0;
    int line = 1;
    size_t line_start = 0;
    int at_line_start = 1;

#define COL(at) ((int)((at)-line_start) + 1)
    while (i < len) {
        char c = s[i];

        if (c == '\n') {
            i++;
            line++;
            line_start = i;
            at_line_start = 1;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t start = i;
            int sline = line, scol = COL(i);
            i += 2;
            while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/')) {
                if (s[i] == '\n') {
                    line++;
                    line_start = i + 1;
                }
                i++;
            }
            if (i + 1 >= len)
                return fail_at(p, sline, scol, "unterminated comment");
            note_comment(p, s + start + 2, i - start - 2, sline, scol);
            i += 2;
            continue;
        }
        if (c == '/' && i + 1 < len && s[i + 1] == '/') {
            size_t start = i;
            int scol = COL(i);
            while (i < len && s[i] != '\n')
                i++;
            note_comment(p, s + start + 2, i - start - 2, line, scol);
            continue;
        }
        if (c == '#' && at_line_start) {
            /* A preprocessor line, with continuations and comments. */
            while (i < len && s[i] != '\n') {
                if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\n') {
                    i += 2;
                    line++;
                    line_start = i;
                    continue;
                }
                if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
                    i += 2;
                    while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/')) {
                        if (s[i] == '\n') {
                            line++;
                            line_start = i + 1;
                        }
                        i++;
                    }
                    i = i + 2 <= len ? i + 2 : len;
                    continue;
                }
                i++;
            }
            continue;
        }
        at_line_start = 0;
        if (isalpha((unsigned char)c) || c == '_') {
            size_t start = i;
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
                i++;
            push_token(p, TK_IDENT, s + start, i - start, line, COL(start));
            continue;
        }
        if (isdigit((unsigned char)c)) {
            size_t start = i;
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_'))
                i++;
            push_token(p, TK_NUMBER, s + start, i - start, line, COL(start));
            continue;
        }
        if (c == '"' || c == '\'') {
            size_t start = i++;
            while (i < len && s[i] != c && s[i] != '\n') {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            if (i >= len || s[i] != c)
                return fail_at(p, line, COL(start), "unterminated literal");
            i++;
            push_token(p, TK_STRING, s + start, i - start, line, COL(start));
            continue;
        }
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            return fail_at(p, line, COL(i), "unexpected byte 0x%02x", (unsigned char)c);
        push_token(p, TK_PUNCT, s + i, 1, line, COL(i));
        i++;
    }
#undef COL
    push_token(p, TK_EOF, "", 0, line, (int)(i - line_start) + 1);
    return 0;
}

/* ---- token helpers --------------------------------------------------------- */

static token *peek(parser *p)
{
    return &p->toks[p->pos];
}

static token *peek_at(parser *p, size_t ahead)
{
    size_t i = p->pos + ahead;
    return &p->toks[i < p->ntoks ? i : p->ntoks - 1];
}

static token *next(parser *p)
{
    token *t = &p->toks[p->pos];
    if (t->kind != TK_EOF)
        p->pos++;
    return t;
}

static int is_punct(const token *t, char c)
{
    return t->kind == TK_PUNCT && t->text[0] == c;
}

static int is_word(const token *t, const char *w)
{
    return t->kind == TK_IDENT && strcmp(t->text, w) == 0;
}

static int expect_punct(parser *p, char c)
{
    token *t = peek(p);
    if (!is_punct(t, c))
        return FAIL_TOK(p, t, "expected '%c', found '%s'", c,
                        t->kind == TK_EOF ? "end of file" : t->text);
    next(p);
    return 0;
}

static const char *describe(const token *t)
{
    return t->kind == TK_EOF ? "end of file" : t->text;
}

/* Skip a balanced group starting at the current opening token. */
static int skip_group(parser *p)
{
    token *open = next(p);
    char o = open->text[0], c = o == '(' ? ')' : o == '[' ? ']' : '}';
    int depth = 1;

    while (depth > 0) {
        token *t = next(p);
        if (t->kind == TK_EOF)
            return FAIL_TOK(p, open, "unbalanced '%c'", o);
        if (is_punct(t, o))
            depth++;
        else if (is_punct(t, c))
            depth--;
    }
    return 0;
}

static const char *const keywords[] = {
    "auto",    "break",    "case",     "char",      "const",          "continue",      "default",
    "do",      "double",   "else",     "enum",      "extern",         "float",         "for",
    "goto",    "if",       "inline",   "int",       "long",           "register",      "restrict",
    "return",  "short",    "signed",   "sizeof",    "static",         "struct",        "switch",
    "typedef", "union",    "unsigned", "void",      "volatile",       "while",         "_Bool",
    "_Atomic", "_Complex", "_Alignas", "_Noreturn", "_Static_assert", "_Thread_local", "bool",
    NULL};

static int is_keyword(const char *s)
{
    for (size_t i = 0; keywords[i]; i++)
        if (strcmp(keywords[i], s) == 0)
            return 1;
    return 0;
}

/* ---- lookups --------------------------------------------------------------- */

static ag_struct *find_struct_tag(parser *p, const char *tag)
{
    for (size_t i = 0; i < p->file->nstructs; i++)
        if (p->file->structs[i]->tag && strcmp(p->file->structs[i]->tag, tag) == 0)
            return p->file->structs[i];
    return NULL;
}

static ag_enum *find_enum_tag(parser *p, const char *tag)
{
    for (size_t i = 0; i < p->file->nenums; i++)
        if (p->file->enums[i]->tag && strcmp(p->file->enums[i]->tag, tag) == 0)
            return p->file->enums[i];
    return NULL;
}

static ag_struct *find_struct_name(parser *p, const char *name)
{
    for (size_t i = 0; i < p->file->nstructs; i++)
        if (p->file->structs[i]->tdname && strcmp(p->file->structs[i]->tdname, name) == 0)
            return p->file->structs[i];
    return NULL;
}

static ag_enum *find_enum_name(parser *p, const char *name)
{
    for (size_t i = 0; i < p->file->nenums; i++)
        if (p->file->enums[i]->tdname && strcmp(p->file->enums[i]->tdname, name) == 0)
            return p->file->enums[i];
    return NULL;
}

static int is_union(parser *p, const char *name)
{
    for (size_t i = 0; i < p->nunions; i++)
        if (strcmp(p->unions[i], name) == 0)
            return 1;
    return 0;
}

/* Is `name` defined later in the file as "struct name {", "enum name {" or
 * a typedef name "} name;"? For "used before it is defined" messages. */
static int defined_later(parser *p, const char *kw, const char *name)
{
    for (size_t i = p->pos; i + 2 < p->ntoks; i++) {
        token *t = &p->toks[i];
        if (kw && is_word(t, kw) && is_word(&p->toks[i + 1], name) &&
            is_punct(&p->toks[i + 2], '{'))
            return 1;
        if (!kw && is_punct(t, '}') && is_word(&p->toks[i + 1], name) &&
            is_punct(&p->toks[i + 2], ';'))
            return 1;
    }
    return 0;
}

static void add_union(parser *p, const char *name)
{
    const char **u = actor__ag_alloc((p->nunions + 1) * sizeof(*u));
    if (p->nunions)
        memcpy(u, p->unions, p->nunions * sizeof(*u));
    u[p->nunions++] = name;
    p->unions = u;
}

/* ---- annotations ----------------------------------------------------------- */

typedef struct notes {
    int skip;
    const char *json;
    int line, col; /* of the first annotation, for messages */
    int any;
} notes;

static int valid_json_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

/* Parse one annotation's text into n. */
static int read_note(parser *p, annotation *a, notes *n)
{
    const char *s = a->text;

    if (!n->any) {
        n->line = a->line;
        n->col = a->col;
    }
    n->any = 1;
    a->used = 1;
    for (;;) {
        size_t len;
        char *word;
        while (*s == ' ' || *s == '\t' || *s == ',' || *s == '\n' || *s == '\r' || *s == '*')
            s++;
        if (*s == '\0' || (s[0] == '/' && s[1] == '\0'))
            break;
        len = strcspn(s, " \t,\n\r*");
        word = actor__ag_strndup(s, len);
        s += len;
        if (strcmp(word, "skip") == 0) {
            n->skip = 1;
        } else if (strncmp(word, "json=", 5) == 0) {
            if (!valid_json_name(word + 5))
                return fail_at(p, a->line, a->col,
                               "invalid JSON name '%s' (1 to 64 letters, digits, '_', '-' or "
                               "'.')",
                               word + 5);
            if (n->json)
                return fail_at(p, a->line, a->col, "two JSON names for one field");
            n->json = word + 5;
        } else {
            return fail_at(p, a->line, a->col,
                           "unknown annotation '%s' (expected json=NAME or skip)", word);
        }
    }
    if (n->skip && n->json)
        return fail_at(p, n->line, n->col, "a skipped field cannot have a JSON name");
    return 0;
}

/* Bind the annotations of a declaration spanning tokens [first, last]
 * (last is its terminator, or the token before '}' for a last enumerator
 * without a comma): those just before it that no one took, those inside,
 * and those right after the terminator on the same line. */
static int bind_notes(parser *p, size_t first, size_t last, notes *n)
{
    int end_line = p->toks[last].line;

    memset(n, 0, sizeof(*n));
    for (size_t i = 0; i < p->nnotes; i++) {
        annotation *a = &p->notes[i];
        if (a->used)
            continue;
        if ((a->next >= first && a->next <= last) || (a->next == last + 1 && a->line == end_line)) {
            if (read_note(p, a, n) != 0)
                return -1;
        }
    }
    return 0;
}

static int check_unused_notes(parser *p)
{
    for (size_t i = 0; i < p->nnotes; i++)
        if (!p->notes[i].used)
            return fail_at(p, p->notes[i].line, p->notes[i].col,
                           "annotation does not belong to a struct field or enumerator");
    return 0;
}

/* ---- types ----------------------------------------------------------------- */

static ag_type *new_type(ag_kind kind, const char *spell)
{
    ag_type *t = actor__ag_alloc(sizeof(*t));
    t->kind = kind;
    t->spell = spell;
    return t;
}

static ag_type *int_type(const char *spell, const char *min, const char *max)
{
    ag_type *t = new_type(min ? AG_INT : AG_UINT, spell);
    t->min = min;
    t->max = max;
    return t;
}

static const struct {
    const char *name, *min, *max;
} named_ints[] = {{"int8_t", "INT8_MIN", "INT8_MAX"},    {"int16_t", "INT16_MIN", "INT16_MAX"},
                  {"int32_t", "INT32_MIN", "INT32_MAX"}, {"int64_t", "INT64_MIN", "INT64_MAX"},
                  {"uint8_t", NULL, "UINT8_MAX"},        {"uint16_t", NULL, "UINT16_MAX"},
                  {"uint32_t", NULL, "UINT32_MAX"},      {"uint64_t", NULL, "UINT64_MAX"},
                  {"size_t", NULL, "SIZE_MAX"},          {NULL, NULL, NULL}};

/* What the specifiers of a declaration said. */
typedef struct specs {
    token *first;
    token *qual;   /* const/volatile/_Atomic/restrict */
    token *tagkw;  /* struct/enum/union keyword */
    token *tag;    /* its tag */
    token *tdname; /* a typedef name */
    int n_unsigned, n_signed, n_short, n_long, n_int, n_char, n_float, n_double, n_bool, n_void,
        n_other;
    token *other;
} specs;

static int read_specs(parser *p, specs *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->first = peek(p);
    for (;;) {
        token *t = peek(p);
        if (t->kind != TK_IDENT)
            break;
        if (is_word(t, "const") || is_word(t, "volatile") || is_word(t, "_Atomic") ||
            is_word(t, "restrict")) {
            if (!sp->qual)
                sp->qual = t;
            next(p);
        } else if (is_word(t, "struct") || is_word(t, "enum") || is_word(t, "union")) {
            sp->tagkw = next(p);
            if (peek(p)->kind == TK_IDENT) {
                sp->tag = next(p);
            }
            if (is_punct(peek(p), '{')) {
                if (is_word(sp->tagkw, "union"))
                    return FAIL_TOK(p, sp->tagkw, "unions are not supported");
                if (!sp->tag)
                    return FAIL_TOK(p, sp->tagkw,
                                    "anonymous %ss are not supported: define a "
                                    "named %s at file scope and use it here",
                                    sp->tagkw->text, sp->tagkw->text);
                return FAIL_TOK(p, sp->tagkw,
                                "%s '%s' is defined inside another struct: define it at file "
                                "scope first",
                                sp->tagkw->text, sp->tag->text);
            }
            if (!sp->tag)
                return FAIL_TOK(p, peek(p), "expected a %s tag, found '%s'", sp->tagkw->text,
                                describe(peek(p)));
        } else if (is_word(t, "unsigned")) {
            sp->n_unsigned++, next(p);
        } else if (is_word(t, "signed")) {
            sp->n_signed++, next(p);
        } else if (is_word(t, "short")) {
            sp->n_short++, next(p);
        } else if (is_word(t, "long")) {
            sp->n_long++, next(p);
        } else if (is_word(t, "int")) {
            sp->n_int++, next(p);
        } else if (is_word(t, "char")) {
            sp->n_char++, next(p);
        } else if (is_word(t, "float")) {
            sp->n_float++, next(p);
        } else if (is_word(t, "double")) {
            sp->n_double++, next(p);
        } else if (is_word(t, "_Bool") || is_word(t, "bool")) {
            sp->n_bool++, next(p);
        } else if (is_word(t, "void")) {
            sp->n_void++, next(p);
        } else if (is_word(t, "static") || is_word(t, "extern") || is_word(t, "register") ||
                   is_word(t, "_Complex") || is_word(t, "_Alignas") ||
                   is_word(t, "_Thread_local")) {
            if (!sp->other)
                sp->other = t;
            sp->n_other++;
            next(p);
            if (is_punct(peek(p), '('))
                if (skip_group(p) != 0)
                    return -1;
        } else {
            /* A typedef name, unless a type was already named: then it is
             * the declarator's name. */
            int have = sp->tagkw || sp->tdname || sp->n_unsigned || sp->n_signed || sp->n_short ||
                       sp->n_long || sp->n_int || sp->n_char || sp->n_float || sp->n_double ||
                       sp->n_bool || sp->n_void;
            if (have)
                break;
            sp->tdname = next(p);
        }
    }
    return 0;
}

/* The type named by the specifiers, with `stars` pointer levels and `dims`
 * array dimensions applied (innermost last). */
static int resolve(parser *p, const specs *sp, int stars, int ndims, token *name, ag_type **out,
                   int *is_char)
{
    ag_type *t = NULL;
    int scalar_words = sp->n_unsigned + sp->n_signed + sp->n_short + sp->n_long + sp->n_int +
                       sp->n_char + sp->n_float + sp->n_double + sp->n_bool + sp->n_void;
    token *at = sp->first;

    *is_char = 0;
    if (sp->qual)
        return FAIL_TOK(p, sp->qual,
                        "'%s' fields are not supported (decoding writes every field); "
                        "annotate the field with skip to leave it out",
                        sp->qual->text);
    if (sp->other)
        return FAIL_TOK(p, sp->other, "'%s' is not supported in a field declaration",
                        sp->other->text);
    if (sp->tagkw) {
        const char *kw = sp->tagkw->text, *tag = sp->tag->text;
        if (scalar_words || sp->tdname)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        if (strcmp(kw, "union") == 0)
            return FAIL_TOK(p, sp->tagkw, "unions are not supported");
        if (strcmp(kw, "struct") == 0) {
            ag_struct *s = find_struct_tag(p, tag);
            if (s == NULL) {
                if (is_union(p, tag))
                    return FAIL_TOK(p, sp->tagkw, "unions are not supported");
                if (defined_later(p, "struct", tag))
                    return FAIL_TOK(p, sp->tag,
                                    "struct '%s' is used before it is defined: define it "
                                    "earlier in the header",
                                    tag);
                return FAIL_TOK(p, sp->tag,
                                "struct '%s' is not defined in this header: field types must "
                                "be defined in the input",
                                tag);
            }
            if (!s->complete)
                return FAIL_TOK(p, sp->tag,
                                "struct '%s' cannot contain itself (recursive types are not "
                                "supported)",
                                tag);
            t = new_type(AG_STRUCT, s->spell);
            t->st = s;
        } else {
            ag_enum *e = find_enum_tag(p, tag);
            if (e == NULL) {
                if (defined_later(p, "enum", tag))
                    return FAIL_TOK(p, sp->tag,
                                    "enum '%s' is used before it is defined: define it "
                                    "earlier in the header",
                                    tag);
                return FAIL_TOK(p, sp->tag,
                                "enum '%s' is not defined in this header: field types must be "
                                "defined in the input",
                                tag);
            }
            t = new_type(AG_ENUM, e->spell);
            t->en = e;
        }
    } else if (sp->tdname) {
        const char *n = sp->tdname->text;
        ag_struct *s;
        ag_enum *e;
        if (scalar_words)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        for (size_t i = 0; named_ints[i].name; i++)
            if (strcmp(named_ints[i].name, n) == 0)
                t = int_type(n, named_ints[i].min, named_ints[i].max);
        if (t == NULL && (s = find_struct_name(p, n)) != NULL) {
            if (!s->complete)
                return FAIL_TOK(p, sp->tdname,
                                "struct '%s' cannot contain itself (recursive types are not "
                                "supported)",
                                n);
            t = new_type(AG_STRUCT, s->spell);
            t->st = s;
        }
        if (t == NULL && (e = find_enum_name(p, n)) != NULL) {
            t = new_type(AG_ENUM, e->spell);
            t->en = e;
        }
        if (t == NULL) {
            for (size_t i = 0; i + 1 < p->naliases; i += 2)
                if (strcmp(p->aliases[i], n) == 0 && !find_struct_tag(p, p->aliases[i + 1]))
                    return FAIL_TOK(p, sp->tdname,
                                    "struct '%s' is used before it is defined: define it "
                                    "earlier in the header",
                                    n);
            if (is_union(p, n))
                return FAIL_TOK(p, sp->tdname, "unions are not supported");
            if (defined_later(p, NULL, n))
                return FAIL_TOK(p, sp->tdname,
                                "type '%s' is used before it is defined: define it earlier "
                                "in the header",
                                n);
            return FAIL_TOK(p, sp->tdname,
                            "unknown type '%s': fields must use bool, standard integer and "
                            "floating types, or structs and enums defined in this header",
                            n);
        }
    } else if (scalar_words == 0) {
        return FAIL_TOK(p, name ? name : at, "field has no type");
    } else if (sp->n_void) {
        if (scalar_words > 1)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        return FAIL_TOK(p, at,
                        stars ? "void pointers are not supported; annotate the field "
                                "with skip to leave it out"
                              : "void is not a field type");
    } else if (sp->n_bool) {
        if (scalar_words > 1)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        t = new_type(AG_BOOL, "bool");
    } else if (sp->n_float || sp->n_double) {
        if (sp->n_double == 1 && sp->n_long == 1 && scalar_words == 2)
            return FAIL_TOK(p, at, "long double is not supported");
        if (scalar_words > 1)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        t = new_type(sp->n_float ? AG_FLOAT : AG_DOUBLE, sp->n_float ? "float" : "double");
    } else if (sp->n_char) {
        if (sp->n_char > 1 || sp->n_short || sp->n_long || sp->n_int ||
            (sp->n_signed && sp->n_unsigned) || sp->n_signed > 1 || sp->n_unsigned > 1)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        if (sp->n_unsigned)
            t = int_type("unsigned char", NULL, "UCHAR_MAX");
        else if (sp->n_signed)
            t = int_type("signed char", "SCHAR_MIN", "SCHAR_MAX");
        else
            *is_char = 1;
    } else {
        int u = sp->n_unsigned, sg = sp->n_signed;
        if ((u && sg) || u > 1 || sg > 1 || sp->n_int > 1 || sp->n_long > 2 ||
            (sp->n_short && sp->n_long) || sp->n_short > 1)
            return FAIL_TOK(p, at, "invalid combination of type specifiers");
        if (sp->n_short)
            t = u ? int_type("unsigned short", NULL, "USHRT_MAX")
                  : int_type("short", "SHRT_MIN", "SHRT_MAX");
        else if (sp->n_long == 2)
            t = u ? int_type("unsigned long long", NULL, "ULLONG_MAX")
                  : int_type("long long", "LLONG_MIN", "LLONG_MAX");
        else if (sp->n_long == 1)
            t = u ? int_type("unsigned long", NULL, "ULONG_MAX")
                  : int_type("long", "LONG_MIN", "LONG_MAX");
        else
            t = u ? int_type("unsigned int", NULL, "UINT_MAX")
                  : int_type("int", "INT_MIN", "INT_MAX");
    }

    /* Apply the declarator. */
    if (*is_char) {
        if (stars == 0 && ndims == 0)
            return FAIL_TOK(p, at,
                            "plain char fields are not supported: use int8_t or uint8_t for a "
                            "number, char[N] or char * for text");
        if (stars == 0) {
            t = new_type(AG_CHARS, "char");
            ndims--; /* the innermost dimension makes the string */
        } else {
            t = new_type(AG_STRING, "char *");
            stars--;
        }
        *is_char = 0;
    }
    if (stars > 1)
        return FAIL_TOK(p, name,
                        "pointers to pointers are only supported as char ** (an array "
                        "of strings, with a count field)");
    if (stars == 1 && ndims > 0)
        return FAIL_TOK(p, name,
                        "arrays of pointers are only supported as arrays of char * strings");
    while (ndims-- > 0) {
        ag_type *a = new_type(AG_FIXED, t->spell);
        a->elem = t;
        t = a;
    }
    if (stars == 1) {
        ag_type *d = new_type(AG_DYN, t->spell);
        d->elem = t;
        t = d;
    }
    *out = t;
    return 0;
}

/* ---- structs and enums ----------------------------------------------------- */

static void add_field(ag_struct *s, const ag_field *f)
{
    ag_field *fs = actor__ag_alloc((s->n + 1) * sizeof(*fs));
    if (s->n)
        memcpy(fs, s->fields, s->n * sizeof(*fs));
    fs[s->n++] = *f;
    s->fields = fs;
}

/* One declarator of a field: stars, name, dimensions, bit-field width. */
typedef struct decl {
    int stars;
    token *name;
    int ndims;
    token *fnptr;
    token *bits;
    token *flex;
    token *ptrqual;
} decl;

static int read_declarator(parser *p, decl *d)
{
    memset(d, 0, sizeof(*d));
    while (is_punct(peek(p), '*')) {
        next(p);
        d->stars++;
        while (is_word(peek(p), "const") || is_word(peek(p), "volatile") ||
               is_word(peek(p), "restrict")) {
            if (!d->ptrqual)
                d->ptrqual = peek(p);
            next(p);
        }
    }
    if (is_punct(peek(p), '(')) {
        /* (*name)(...) or (*name)[N]: function pointers and the like. */
        d->fnptr = next(p);
        while (is_punct(peek(p), '*'))
            next(p);
        if (peek(p)->kind == TK_IDENT)
            d->name = next(p);
        if (expect_punct(p, ')') != 0)
            return -1;
        while (is_punct(peek(p), '(') || is_punct(peek(p), '['))
            if (skip_group(p) != 0)
                return -1;
        if (!d->name)
            return FAIL_TOK(p, d->fnptr, "expected a field name");
        return 0;
    }
    if (peek(p)->kind != TK_IDENT || is_keyword(peek(p)->text))
        return FAIL_TOK(p, peek(p), "expected a field name, found '%s'", describe(peek(p)));
    d->name = next(p);
    while (is_punct(peek(p), '[')) {
        if (is_punct(peek_at(p, 1), ']'))
            d->flex = peek(p);
        if (skip_group(p) != 0)
            return -1;
        d->ndims++;
    }
    if (is_punct(peek(p), ':')) {
        d->bits = next(p);
        while (!is_punct(peek(p), ',') && !is_punct(peek(p), ';') && peek(p)->kind != TK_EOF)
            next(p);
    }
    return 0;
}

/* The name declared by a skipped declaration, whatever its type: the last
 * identifier outside groups, or the one inside "(*name)". */
static int skipped_name(parser *p, size_t first, size_t last, ag_field *f)
{
    token *name = NULL;

    for (size_t i = first; i < last; i++) {
        token *t = &p->toks[i];
        if (is_punct(t, '{') || is_punct(t, '[') || is_punct(t, '(')) {
            char o = t->text[0], c = o == '{' ? '}' : o == '[' ? ']' : ')';
            int depth = 1;
            if (o == '(' && is_punct(&p->toks[i + 1], '*')) {
                size_t k = i + 1;
                while (k < last && is_punct(&p->toks[k], '*'))
                    k++;
                if (p->toks[k].kind == TK_IDENT)
                    name = &p->toks[k];
            }
            while (depth > 0 && ++i < last) {
                if (is_punct(&p->toks[i], o))
                    depth++;
                else if (is_punct(&p->toks[i], c))
                    depth--;
            }
            continue;
        }
        if (is_punct(t, ':')) {
            f->bitfield = 1;
            break;
        }
        if (is_punct(t, ','))
            return FAIL_TOK(p, t, "annotations need a declaration with a single field");
        if (t->kind == TK_IDENT && !is_keyword(t->text))
            name = t;
    }
    if (name == NULL)
        return FAIL_TOK(p, &p->toks[first], "cannot find the name of the skipped field");
    f->cname = name->text;
    f->line = name->line;
    f->col = name->col;
    return 0;
}

static int parse_field_decl(parser *p, ag_struct *s)
{
    size_t first = p->pos, last = p->pos;
    specs sp;
    decl ds[16];
    int nd = 0, depth = 0;
    notes n;

    /* Find the end first: annotations decide how the rest is read. */
    for (;; last++) {
        token *t = &p->toks[last];
        if (t->kind == TK_EOF)
            return FAIL_TOK(p, &p->toks[first], "unterminated field declaration");
        if (is_punct(t, '(') || is_punct(t, '[') || is_punct(t, '{'))
            depth++;
        else if (is_punct(t, ')') || is_punct(t, ']') || is_punct(t, '}'))
            depth--;
        else if (depth == 0 && is_punct(t, ';'))
            break;
        if (depth < 0)
            return FAIL_TOK(p, t, "expected ';' at the end of the field declaration");
    }
    if (bind_notes(p, first, last, &n) != 0)
        return -1;
    if (n.skip) {
        ag_field f;
        memset(&f, 0, sizeof(f));
        f.skip = 1;
        if (skipped_name(p, first, last, &f) != 0)
            return -1;
        for (size_t k = 0; k < s->n; k++)
            if (strcmp(s->fields[k].cname, f.cname) == 0)
                return fail_at(p, f.line, f.col, "duplicate field '%s'", f.cname);
        add_field(s, &f);
        p->pos = last + 1;
        return 0;
    }
    if (read_specs(p, &sp) != 0)
        return -1;
    for (;;) {
        if (nd == 16)
            return FAIL_TOK(p, peek(p), "too many declarators in one declaration");
        if (read_declarator(p, &ds[nd]) != 0)
            return -1;
        nd++;
        if (is_punct(peek(p), ',')) {
            next(p);
            continue;
        }
        if (!is_punct(peek(p), ';'))
            return FAIL_TOK(p, peek(p), "expected ';' after field '%s', found '%s'",
                            ds[nd - 1].name->text, describe(peek(p)));
        break;
    }
    next(p); /* ';' */
    if (n.any && nd > 1)
        return fail_at(p, n.line, n.col,
                       "annotations need a declaration with a single field (split '%s, %s')",
                       ds[0].name->text, ds[1].name->text);
    for (int i = 0; i < nd; i++) {
        decl *d = &ds[i];
        ag_field f;
        int is_char;

        memset(&f, 0, sizeof(f));
        f.cname = d->name->text;
        f.line = d->name->line;
        f.col = d->name->col;
        for (size_t k = 0; k < s->n; k++)
            if (strcmp(s->fields[k].cname, f.cname) == 0)
                return FAIL_TOK(p, d->name, "duplicate field '%s'", f.cname);
        if (d->fnptr)
            return FAIL_TOK(p, d->fnptr,
                            "function pointers are not supported; annotate the field with skip "
                            "to leave it out");
        if (d->bits)
            return FAIL_TOK(p, d->bits,
                            "bit-fields are not supported; annotate the field with skip to "
                            "leave it out");
        if (d->flex)
            return FAIL_TOK(p, d->flex,
                            "flexible array members are not supported: use a pointer and a "
                            "count field");
        if (d->ptrqual)
            return FAIL_TOK(p, d->ptrqual, "qualified pointers are not supported");
        if (resolve(p, &sp, d->stars, d->ndims, d->name, &f.type, &is_char) != 0)
            return -1;
        f.jname = n.json ? n.json : f.cname;
        add_field(s, &f);
    }
    return 0;
}

/* After the body: pair dynamic arrays with their count fields and check the
 * JSON names. */
static int finish_struct(parser *p, ag_struct *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ag_field *f = &s->fields[i];
        ag_field *c = NULL;
        const char *want;
        if (f->skip || f->type->kind != AG_DYN)
            continue;
        want = actor__ag_printf("%s_count", f->cname);
        for (size_t k = 0; k < s->n; k++)
            if (strcmp(s->fields[k].cname, want) == 0)
                c = &s->fields[k];
        if (c == NULL)
            return fail_at(p, f->line, f->col,
                           "pointer field '%s' needs a count field 'size_t %s;' in the same "
                           "struct (or annotate it with skip)",
                           f->cname, want);
        if (c->skip || c->type->kind != AG_UINT || strcmp(c->type->spell, "size_t") != 0)
            return fail_at(p, c->line, c->col, "count field '%s' of '%s' must be a size_t", want,
                           f->cname);
        if (c->jname != c->cname)
            return fail_at(p, c->line, c->col,
                           "count field '%s' is not written to JSON: annotate '%s' instead", want,
                           f->cname);
        c->is_count = 1;
        f->count = c->cname;
    }
    for (size_t i = 0; i < s->n; i++) {
        ag_field *f = &s->fields[i];
        if (f->skip || f->is_count)
            continue;
        for (size_t k = 0; k < i; k++) {
            ag_field *g = &s->fields[k];
            if (!g->skip && !g->is_count && strcmp(g->jname, f->jname) == 0)
                return fail_at(p, f->line, f->col,
                               "JSON name '%s' of field '%s' is already used by field '%s'",
                               f->jname, f->cname, g->cname);
        }
    }
    if (s->n == 0)
        return fail_at(p, s->line, 1, "struct '%s' has no fields", s->name);
    return 0;
}

static void register_struct(parser *p, ag_struct *s)
{
    ag_struct **v = actor__ag_alloc((p->file->nstructs + 1) * sizeof(*v));
    if (p->file->nstructs)
        memcpy(v, p->file->structs, p->file->nstructs * sizeof(*v));
    v[p->file->nstructs++] = s;
    p->file->structs = v;
}

static void register_enum(parser *p, ag_enum *e)
{
    ag_enum **v = actor__ag_alloc((p->file->nenums + 1) * sizeof(*v));
    if (p->file->nenums)
        memcpy(v, p->file->enums, p->file->nenums * sizeof(*v));
    v[p->file->nenums++] = e;
    p->file->enums = v;
}

/* At '{' of a struct body. tag may be NULL (typedef'd untagged struct). */
static int parse_struct_body(parser *p, token *kw, token *tag, ag_struct **out)
{
    ag_struct *s = actor__ag_alloc(sizeof(*s));

    if (tag && find_struct_tag(p, tag->text))
        return FAIL_TOK(p, tag, "struct '%s' is defined twice", tag->text);
    s->tag = tag ? tag->text : NULL;
    s->line = kw->line;
    /* A forward "typedef struct tag name;" names it. */
    for (size_t i = 0; tag && i + 1 < p->naliases; i += 2)
        if (strcmp(p->aliases[i + 1], tag->text) == 0)
            s->tdname = p->aliases[i];
    s->name = s->tdname ? s->tdname : s->tag;
    s->spell = s->tdname ? s->tdname : (s->tag ? actor__ag_printf("struct %s", s->tag) : NULL);
    register_struct(p, s);
    next(p); /* '{' */
    while (!is_punct(peek(p), '}')) {
        if (peek(p)->kind == TK_EOF)
            return FAIL_TOK(p, kw, "unterminated struct");
        if (is_punct(peek(p), ';')) {
            next(p);
            continue;
        }
        if (parse_field_decl(p, s) != 0)
            return -1;
    }
    next(p); /* '}' */
    *out = s;
    return 0;
}

static int parse_enum_body(parser *p, token *kw, token *tag, ag_enum **out)
{
    ag_enum *e = actor__ag_alloc(sizeof(*e));

    if (tag && find_enum_tag(p, tag->text))
        return FAIL_TOK(p, tag, "enum '%s' is defined twice", tag->text);
    e->tag = tag ? tag->text : NULL;
    e->name = e->tag;
    e->spell = e->tag ? actor__ag_printf("enum %s", e->tag) : NULL;
    next(p); /* '{' */
    while (!is_punct(peek(p), '}')) {
        size_t first = p->pos, last;
        token *name = peek(p);
        notes n;
        ag_enumerator *items;

        if (name->kind != TK_IDENT || is_keyword(name->text))
            return FAIL_TOK(p, name, "expected an enumerator, found '%s'", describe(name));
        next(p);
        if (is_punct(peek(p), '=')) {
            int depth = 0;
            next(p);
            while (peek(p)->kind != TK_EOF &&
                   !(depth == 0 && (is_punct(peek(p), ',') || is_punct(peek(p), '}')))) {
                if (is_punct(peek(p), '('))
                    depth++;
                else if (is_punct(peek(p), ')'))
                    depth--;
                next(p);
            }
        }
        if (is_punct(peek(p), ',')) {
            last = p->pos;
            next(p);
        } else if (is_punct(peek(p), '}')) {
            last = p->pos - 1;
        } else {
            return FAIL_TOK(p, kw, "unterminated enum");
        }
        if (bind_notes(p, first, last, &n) != 0)
            return -1;
        if (n.skip)
            return fail_at(p, n.line, n.col, "enumerators cannot be skipped");
        items = actor__ag_alloc((e->n + 1) * sizeof(*items));
        if (e->n)
            memcpy(items, e->items, e->n * sizeof(*items));
        items[e->n].cname = name->text;
        items[e->n].jname = n.json ? n.json : name->text;
        for (size_t k = 0; k < e->n; k++)
            if (strcmp(items[k].jname, items[e->n].jname) == 0)
                return FAIL_TOK(p, name,
                                "JSON name '%s' of enumerator '%s' is already used by '%s'",
                                items[e->n].jname, name->text, items[k].cname);
        e->items = items;
        e->n++;
    }
    if (e->n == 0)
        return FAIL_TOK(p, kw, "empty enum");
    next(p); /* '}' */
    register_enum(p, e);
    *out = e;
    return 0;
}

/* Skip one file-scope declaration we do not generate for. */
static int skip_declaration(parser *p)
{
    for (;;) {
        token *t = peek(p);
        if (t->kind == TK_EOF)
            return 0;
        if (is_punct(t, ';')) {
            next(p);
            return 0;
        }
        if (is_punct(t, '{')) {
            if (skip_group(p) != 0)
                return -1;
            /* A function body ends the declaration; an initializer does not. */
            if (!is_punct(peek(p), ';') && !is_punct(peek(p), ','))
                return 0;
            continue;
        }
        if (is_punct(t, '(') || is_punct(t, '[')) {
            if (skip_group(p) != 0)
                return -1;
            continue;
        }
        next(p);
    }
}

static int parse_top(parser *p)
{
    int extern_depth = 0;

    while (peek(p)->kind != TK_EOF) {
        token *t = peek(p);
        int is_typedef = 0;
        token *kw, *tag = NULL;

        if (is_punct(t, ';')) {
            next(p);
            continue;
        }
        if (is_word(t, "extern") && peek_at(p, 1)->kind == TK_STRING &&
            is_punct(peek_at(p, 2), '{')) {
            p->pos += 3;
            extern_depth++;
            continue;
        }
        if (is_punct(t, '}') && extern_depth > 0) {
            next(p);
            extern_depth--;
            continue;
        }
        if (is_word(t, "typedef")) {
            is_typedef = 1;
            next(p);
        }
        kw = peek(p);
        if (!(is_word(kw, "struct") || is_word(kw, "enum") || is_word(kw, "union"))) {
            if (skip_declaration(p) != 0)
                return -1;
            continue;
        }
        next(p);
        if (peek(p)->kind == TK_IDENT)
            tag = next(p);
        if (is_word(kw, "union")) {
            if (tag)
                add_union(p, tag->text);
            if (is_punct(peek(p), '{') && skip_group(p) != 0)
                return -1;
            if (is_typedef && peek(p)->kind == TK_IDENT)
                add_union(p, peek(p)->text);
            if (skip_declaration(p) != 0)
                return -1;
            continue;
        }
        if (!is_punct(peek(p), '{')) {
            /* A forward declaration or a declaration using the type. */
            if (is_typedef && tag && is_word(kw, "struct") && peek(p)->kind == TK_IDENT &&
                is_punct(peek_at(p, 1), ';')) {
                const char **a = actor__ag_alloc((p->naliases + 2) * sizeof(*a));
                ag_struct *s = find_struct_tag(p, tag->text);
                if (p->naliases)
                    memcpy(a, p->aliases, p->naliases * sizeof(*a));
                a[p->naliases++] = peek(p)->text;
                a[p->naliases++] = tag->text;
                p->aliases = a;
                if (s && !s->tdname) {
                    return FAIL_TOK(p, peek(p),
                                    "typedef '%s' names struct '%s' after its definition: put "
                                    "the typedef before the definition",
                                    peek(p)->text, tag->text);
                }
            }
            if (skip_declaration(p) != 0)
                return -1;
            continue;
        }
        if (is_word(kw, "struct")) {
            ag_struct *s = NULL;
            if (parse_struct_body(p, kw, tag, &s) != 0)
                return -1;
            if (is_typedef) {
                token *name = peek(p);
                if (name->kind != TK_IDENT || !is_punct(peek_at(p, 1), ';'))
                    return FAIL_TOK(p, name, "expected the typedef name and ';' after the struct");
                if (s->tdname && strcmp(s->tdname, name->text) != 0)
                    return FAIL_TOK(p, name, "struct '%s' already has the typedef name '%s'",
                                    s->tag, s->tdname);
                s->tdname = name->text;
                s->name = name->text;
                s->spell = name->text;
                p->pos += 2;
            } else {
                if (!tag)
                    return FAIL_TOK(p, kw,
                                    "anonymous structs are not supported: give the "
                                    "struct a tag or a typedef name");
                if (!is_punct(peek(p), ';'))
                    return FAIL_TOK(p, peek(p),
                                    "expected ';' after the definition of struct '%s' (declare "
                                    "variables separately)",
                                    tag->text);
                next(p);
            }
            s->complete = 1;
            if (finish_struct(p, s) != 0)
                return -1;
        } else {
            ag_enum *e = NULL;
            if (parse_enum_body(p, kw, tag, &e) != 0)
                return -1;
            if (is_typedef) {
                token *name = peek(p);
                if (name->kind != TK_IDENT || !is_punct(peek_at(p, 1), ';'))
                    return FAIL_TOK(p, name, "expected the typedef name and ';' after the enum");
                e->tdname = name->text;
                e->spell = name->text;
                if (!e->name)
                    e->name = name->text;
                p->pos += 2;
            } else {
                if (!tag)
                    return FAIL_TOK(p, kw,
                                    "anonymous enums are not supported: give the enum "
                                    "a tag or a typedef name");
                if (!is_punct(peek(p), ';'))
                    return FAIL_TOK(p, peek(p), "expected ';' after the definition of enum '%s'",
                                    tag->text);
                next(p);
            }
        }
    }
    return 0;
}

int actor__ag_parse(ag_file *file, const char *text, size_t len)
{
    parser p;

    memset(&p, 0, sizeof(p));
    p.file = file;
    if (lex(&p, text, len) != 0)
        return -1;
    if (parse_top(&p) != 0)
        return -1;
    if (check_unused_notes(&p) != 0)
        return -1;
    if (file->nstructs == 0)
        return fail_at(&p, 1, 1, "no struct definitions found");
    return 0;
}
