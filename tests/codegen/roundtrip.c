/*
 * roundtrip.c: property tests of the generated codecs. Thousands of random
 * values per type from a fixed seed (every integer type's extremes, every
 * class of finite double and float, strings with escapes and multi-byte
 * UTF-8, NULLs, empty and long arrays) must decode back equal to what was
 * encoded, re-encode to the same bytes, and copy into an equal value. Also
 * pins a few exact encodings (field order, JSON names, numbers).
 */
#include "test.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "types.gen.h"

/* ---- a fixed-seed generator ------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* An integer of `bits` bits, biased towards the extremes and small values. */
static uint64_t rnd_bits(int bits)
{
    uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    switch (below(6)) {
    case 0:
        return 0;
    case 1:
        return mask; /* all ones: -1 or the unsigned max */
    case 2:
        return mask >> 1; /* signed max */
    case 3:
        return (mask >> 1) + 1; /* signed min */
    case 4:
        return below(10);
    default:
        return rnd() & mask;
    }
}

static int64_t rnd_signed(int bits)
{
    uint64_t u = rnd_bits(bits);
    if (bits < 64 && (u >> (bits - 1)) & 1)
        u |= ~(((uint64_t)1 << bits) - 1); /* sign-extend */
    return (int64_t)u;
}

static double rnd_double(void)
{
    static const double special[] = {0.0,
                                     -0.0,
                                     1.0,
                                     -1.0,
                                     0.1,
                                     1e-300,
                                     1e300,
                                     DBL_MAX,
                                     -DBL_MAX,
                                     DBL_MIN,
                                     4.9406564584124654e-324,
                                     9007199254740993.0,
                                     123456789012345678.0,
                                     0.30000000000000004,
                                     5e-324,
                                     2.5};
    double d;
    switch (below(4)) {
    case 0:
        return special[below(sizeof(special) / sizeof(special[0]))];
    case 1:
        return (double)(int64_t)rnd() / (double)(1 + below(1000));
    case 2:
        return (double)(int64_t)below(2000000) / 100.0;
    default:
        do {
            uint64_t bits = rnd();
            memcpy(&d, &bits, sizeof(d));
        } while (!isfinite(d));
        return d;
    }
}

static float rnd_float(void)
{
    static const float special[] = {0.0f,        -0.0f,         1.0f,    0.1f,
                                    FLT_MAX,     -FLT_MAX,      FLT_MIN, 1.4e-45f,
                                    16777217.0f, 3.4028234e38f, 1e-38f};
    float f;
    switch (below(3)) {
    case 0:
        return special[below(sizeof(special) / sizeof(special[0]))];
    case 1:
        return (float)(int32_t)rnd() / 1000.0f;
    default:
        do {
            uint32_t bits = (uint32_t)rnd();
            memcpy(&f, &bits, sizeof(f));
        } while (!isfinite(f));
        return f;
    }
}

/* Append the UTF-8 form of code point cp. */
static size_t put_utf8(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t rnd_code_point(void)
{
    static const uint32_t specials[] = {'"',  '\\', '/',    '\n',   '\t',     1,
                                        0x1F, 0x7F, 0x2028, 0xFFFF, 0x10FFFF, 0xE9};
    uint32_t cp;
    switch (below(5)) {
    case 0:
        return specials[below(sizeof(specials) / sizeof(specials[0]))];
    case 1:
    case 2:
        return 0x20 + (uint32_t)below(0x5F);
    case 3:
        return 0x80 + (uint32_t)below(0x780);
    default:
        do {
            cp = 1 + (uint32_t)below(0x10FFFF);
        } while (cp >= 0xD800 && cp <= 0xDFFF);
        return cp;
    }
}

/* Fill buf (size bytes) with a random valid UTF-8 string of at most
 * size-1 bytes. */
static void rnd_text(char *buf, size_t size)
{
    size_t n = 0, want = below(size);
    while (n < want) {
        char tmp[4];
        size_t k = put_utf8(tmp, rnd_code_point());
        if (n + k > size - 1)
            break;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    buf[n] = '\0';
}

static char *rnd_string(void)
{
    char tmp[200];
    char *s;
    if (below(8) == 0)
        return NULL;
    rnd_text(tmp, 1 + below(sizeof(tmp)));
    s = malloc(strlen(tmp) + 1);
    T_ASSERT(s != NULL);
    strcpy(s, tmp);
    return s;
}

static color rnd_color(void)
{
    static const color all[] = {COLOR_RED, COLOR_GREEN, COLOR_BLUE};
    return all[below(3)];
}

static void rnd_scalars(scalars *s)
{
    s->b = below(2);
    s->i8 = (int8_t)rnd_signed(8);
    s->i16 = (int16_t)rnd_signed(16);
    s->i32 = (int32_t)rnd_signed(32);
    s->i64 = rnd_signed(64);
    s->u8 = (uint8_t)rnd_bits(8);
    s->u16 = (uint16_t)rnd_bits(16);
    s->u32 = (uint32_t)rnd_bits(32);
    s->u64 = rnd_bits(64);
    s->i = (int)rnd_signed(32);
    s->u = (unsigned)rnd_bits(32);
    s->ui = (unsigned)rnd_bits(32);
    s->l = (long)rnd_signed(64);
    s->ul = (unsigned long)rnd_bits(64);
    s->ll = (long long)rnd_signed(64);
    s->ull = (unsigned long long)rnd_bits(64);
    s->sz = (size_t)rnd_bits(64);
    s->sh = (short)rnd_signed(16);
    s->ush = (unsigned short)rnd_bits(16);
    s->sc = (signed char)rnd_signed(8);
    s->uc = (unsigned char)rnd_bits(8);
    s->f = rnd_float();
    s->d = rnd_double();
}

static void rnd_item(item *it)
{
    it->name = rnd_string();
    it->qty = (int32_t)rnd_signed(32);
    it->price = rnd_double();
    it->tint = rnd_color();
}

static void rnd_everything(everything *e)
{
    everything_init(e);
    rnd_scalars(&e->s);
    e->text = rnd_string();
    rnd_text(e->code, sizeof(e->code));
    e->shape = (enum shape)below(3);
    e->origin.x = (int32_t)rnd_signed(32);
    e->origin.y = (int32_t)rnd_signed(32);
    e->items_count = below(4) == 0 ? 0 : below(60);
    e->items = e->items_count ? calloc(e->items_count, sizeof(item)) : NULL;
    for (size_t i = 0; i < e->items_count; i++)
        rnd_item(&e->items[i]);
    e->tags_count = below(5);
    e->tags = e->tags_count ? calloc(e->tags_count, sizeof(char *)) : NULL;
    for (size_t i = 0; i < e->tags_count; i++)
        e->tags[i] = rnd_string();
    e->numbers_count = below(6);
    e->numbers = e->numbers_count ? calloc(e->numbers_count, sizeof(int64_t)) : NULL;
    for (size_t i = 0; i < e->numbers_count; i++)
        e->numbers[i] = rnd_signed(64);
    e->colors_count = below(4);
    e->colors = e->colors_count ? calloc(e->colors_count, sizeof(color)) : NULL;
    for (size_t i = 0; i < e->colors_count; i++)
        e->colors[i] = rnd_color();
    e->path_count = below(4);
    e->path = e->path_count ? calloc(e->path_count, sizeof(struct point)) : NULL;
    for (size_t i = 0; i < e->path_count; i++) {
        e->path[i].x = (int32_t)rnd_signed(32);
        e->path[i].y = (int32_t)rnd_signed(32);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            e->grid[i][j] = (int32_t)rnd_signed(32);
    rnd_text(e->names[0], sizeof(e->names[0]));
    rnd_text(e->names[1], sizeof(e->names[1]));
    e->labels[0] = rnd_string();
    e->labels[1] = rnd_string();
    rnd_item(&e->best[0]);
    rnd_item(&e->best[1]);
    for (int i = 0; i < 3; i++)
        e->weights[i] = rnd_double();
    e->done = below(2);
}

/* ---- checks ---------------------------------------------------------------- */

#define ROUND_TRIP(T, value)                                                                       \
    do {                                                                                           \
        actor_buf b1_ = ACTOR_BUF_INIT, b2_ = ACTOR_BUF_INIT;                                      \
        actor_json_error err_;                                                                     \
        T back_, copy_;                                                                            \
        T_OK(T##_encode(&b1_, (value)));                                                           \
        if (T##_decode(&back_, b1_.ptr, b1_.size, &err_) != 0) {                                   \
            T_FAIL("decode of %s failed: %s", b1_.ptr, actor_error_last());                        \
            actor_buf_dispose(&b1_);                                                               \
            longjmp(t_abort, 1);                                                                   \
        }                                                                                          \
        if (!T##_equal((value), &back_))                                                           \
            T_FAIL("round trip changed the value: %s", b1_.ptr);                                   \
        T_OK(T##_encode(&b2_, &back_));                                                            \
        if (b1_.size != b2_.size || memcmp(b1_.ptr, b2_.ptr, b1_.size) != 0)                       \
            T_FAIL("re-encoding differs:\n%s\n%s", b1_.ptr, b2_.ptr);                              \
        T_OK(T##_copy(&copy_, (value)));                                                           \
        T_CHECK(T##_equal(&copy_, (value)));                                                       \
        T##_free(&copy_);                                                                          \
        T##_free(&back_);                                                                          \
        actor_buf_dispose(&b1_);                                                                   \
        actor_buf_dispose(&b2_);                                                                   \
    } while (0)

static void test_scalars_random(void)
{
    for (int n = 0; n < 5000 && !t_current_failed; n++) {
        scalars s;
        scalars_init(&s);
        rnd_scalars(&s);
        ROUND_TRIP(scalars, &s);
    }
}

static void test_scalars_extremes(void)
{
    scalars lo, hi;
    scalars_init(&lo);
    scalars_init(&hi);
    lo.i8 = INT8_MIN, hi.i8 = INT8_MAX;
    lo.i16 = INT16_MIN, hi.i16 = INT16_MAX;
    lo.i32 = INT32_MIN, hi.i32 = INT32_MAX;
    lo.i64 = INT64_MIN, hi.i64 = INT64_MAX;
    hi.u8 = UINT8_MAX, hi.u16 = UINT16_MAX, hi.u32 = UINT32_MAX, hi.u64 = UINT64_MAX;
    lo.i = INT_MIN, hi.i = INT_MAX, hi.u = UINT_MAX, hi.ui = UINT_MAX;
    lo.l = LONG_MIN, hi.l = LONG_MAX, hi.ul = ULONG_MAX;
    lo.ll = LLONG_MIN, hi.ll = LLONG_MAX, hi.ull = ULLONG_MAX, hi.sz = SIZE_MAX;
    lo.sh = SHRT_MIN, hi.sh = SHRT_MAX, hi.ush = USHRT_MAX;
    lo.sc = SCHAR_MIN, hi.sc = SCHAR_MAX, hi.uc = UCHAR_MAX;
    lo.f = -FLT_MAX, hi.f = FLT_MAX;
    lo.d = -DBL_MAX, hi.d = DBL_MAX;
    ROUND_TRIP(scalars, &lo);
    ROUND_TRIP(scalars, &hi);
    lo.f = 1.4e-45f; /* smallest subnormal */
    lo.d = 4.9406564584124654e-324;
    hi.f = -0.0f;
    hi.d = -0.0;
    ROUND_TRIP(scalars, &lo);
    ROUND_TRIP(scalars, &hi);
}

static void test_everything_random(void)
{
    for (int n = 0; n < 2000 && !t_current_failed; n++) {
        everything e;
        rnd_everything(&e);
        ROUND_TRIP(everything, &e);
        everything_free(&e);
    }
}

static void test_wrapper_random(void)
{
    for (int n = 0; n < 1000 && !t_current_failed; n++) {
        wrapper w;
        wrapper_init(&w);
        everything_free(&w.inner);
        rnd_everything(&w.inner);
        w.big = rnd_bits(64);
        ROUND_TRIP(wrapper, &w);
        wrapper_free(&w);
    }
}

/* Every finite double class, checked one by one through the item codec. */
static void test_doubles_exact(void)
{
    for (int n = 0; n < 20000 && !t_current_failed; n++) {
        item it;
        item_init(&it);
        it.price = rnd_double();
        ROUND_TRIP(item, &it);
    }
}

/* The reference the encoder's number text must equal byte for byte: the
 * first of printf's %.15g, %.16g, %.17g (floats: %.6g to %.9g, then %.17g)
 * that strtod reads back exactly; subnormals from 1 digit. */
static void ref_double(char *buf, size_t size, double d)
{
    if (d == 0) {
        snprintf(buf, size, signbit(d) ? "-0.0" : "0");
        return;
    }
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void ref_float(char *buf, size_t size, float f)
{
    if (f == 0) {
        snprintf(buf, size, signbit(f) ? "-0.0" : "0");
        return;
    }
    for (int prec = fabsf(f) < FLT_MIN ? 1 : 6; prec <= 10; prec++) {
        snprintf(buf, size, "%.*g", prec <= 9 ? prec : 17, (double)f);
        if (prec == 10 || (float)strtod(buf, NULL) == f)
            return;
    }
}

/* 10^e, near enough for making test values (no libm here). */
static double ten_to(int e)
{
    double p = 1;
    for (int i = 0; i < (e < 0 ? -e : e); i++)
        p = e < 0 ? p / 10 : p * 10;
    return p;
}

/* Doubles of every magnitude and of few digits (where the encoder's fast
 * paths apply), and random bit patterns. */
static double rnd_text_double(void)
{
    double d;
    uint64_t u;
    switch (below(5)) {
    case 0:
        u = rnd();
        memcpy(&d, &u, sizeof(d));
        return isfinite(d) ? d : 1.5;
    case 1: /* a few decimal digits at a random scale */
        return (double)(int64_t)below(100000) * ten_to((int)below(60) - 30);
    case 2: /* prices and the like */
        return (double)(int64_t)below(10000000) / 100.0 + (double)below(3) * 1.25;
    case 3: /* integers, also past 2^53 */
        return (double)(int64_t)(rnd() >> below(64)) * (below(2) ? 1 : -1);
    default: /* 15-17 digit values near powers of ten */
        return ten_to((int)below(40) - 20) * (1 - (double)below(1000) * 1e-16);
    }
}

static void test_number_text_matches_printf(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    actor_json_error e;
    char want[64];

    for (int n = 0; n < 300000 && !t_current_failed; n++) {
        double d = rnd_text_double() * (below(2) ? 1 : -1);
        float f = (float)d;
        actor_buf_clear(&b);
        T_OK(actor_json_put_double(&b, d, &e));
        T_OK(actor_json_encode_end(&b, 0, 0, "number", &e));
        ref_double(want, sizeof(want), d);
        if (strcmp(b.ptr, want) != 0)
            T_FAIL("double %a: wrote %s, printf/strtod give %s", d, b.ptr, want);
        if (!isfinite(f))
            continue;
        actor_buf_clear(&b);
        T_OK(actor_json_put_float(&b, f, &e));
        T_OK(actor_json_encode_end(&b, 0, 0, "number", &e));
        ref_float(want, sizeof(want), f);
        if (strcmp(b.ptr, want) != 0)
            T_FAIL("float %a: wrote %s, printf/strtod give %s", (double)f, b.ptr, want);
    }
    actor_buf_dispose(&b);
}

static void expect_encoding(actor_buf *b, const char *want)
{
    T_STREQ(b->ptr, want);
    actor_buf_clear(b);
}

static void test_exact_encodings(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    item it;
    struct point pt = {-3, 4};
    untagged u = {NULL};
    wrapper w;

    item_init(&it);
    it.name = (char *)"caf\xc3\xa9 \"x\"\n\x01";
    it.qty = 3;
    it.price = 0.1;
    it.tint = COLOR_BLUE;
    T_OK(item_encode(&b, &it));
    expect_encoding(&b, "{\"name\":\"caf\xc3\xa9 \\\"x\\\"\\n\\u0001\",\"quantity\":3,"
                        "\"price\":0.1,\"tint\":\"blue\"}");
    it.name = NULL;
    it.price = -0.0;
    it.tint = COLOR_GREEN;
    T_OK(item_encode(&b, &it));
    expect_encoding(&b, "{\"name\":null,\"quantity\":3,\"price\":-0.0,\"tint\":\"COLOR_GREEN\"}");
    it.price = 1e300;
    T_OK(item_encode(&b, &it));
    T_CONTAINS(b.ptr, "\"price\":1e+300,");
    actor_buf_clear(&b);
    it.price = 5e-324;
    T_OK(item_encode(&b, &it));
    T_CONTAINS(b.ptr, "\"price\":5e-324,");
    actor_buf_clear(&b);
    T_OK(point_encode(&b, &pt));
    expect_encoding(&b, "{\"x\":-3,\"y\":4}");
    T_OK(untagged_encode(&b, &u));
    expect_encoding(&b, "{\"only_string\":null}");

    wrapper_init(&w);
    w.big = UINT64_MAX;
    T_OK(wrapper_encode(&b, &w));
    T_CONTAINS(b.ptr, "\"big\":\"18446744073709551615\"}");
    /* Skipped fields never appear; the count fields neither. */
    T_CHECK(strstr(b.ptr, "scratch") == NULL && strstr(b.ptr, "callback") == NULL);
    T_CHECK(strstr(b.ptr, "items_count") == NULL && strstr(b.ptr, "flags") == NULL);
    T_CONTAINS(b.ptr, "\"is_done\":false");
    T_CONTAINS(b.ptr, "\"grid\":[[0,0,0],[0,0,0]],\"names\":[\"\",\"\"],\"labels\":[null,null]");
    actor_buf_dispose(&b);
}

/* Encoding appends to what the buffer holds, and a failure leaves it as it
 * was. */
static void test_encode_appends_and_rolls_back(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    item it;

    item_init(&it);
    T_OK(actor_buf_puts(&b, "prefix:"));
    T_OK(item_encode(&b, &it));
    T_CONTAINS(b.ptr, "prefix:{\"name\":null");
    actor_buf_clear(&b);
    T_OK(actor_buf_puts(&b, "keep"));
    it.price = NAN;
    T_EQ(item_encode(&b, &it), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/price");
    T_CONTAINS(actor_error_last(), "NaN");
    T_STREQ(b.ptr, "keep");
    it.price = INFINITY;
    T_EQ(item_encode(&b, &it), ACTOR_EINVAL);
    it.price = 0;
    it.name = (char *)"bad \xff utf8";
    T_EQ(item_encode(&b, &it), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/name: invalid UTF-8");
    it.name = (char *)"surrogate \xed\xa0\x80";
    T_EQ(item_encode(&b, &it), ACTOR_EINVAL);
    it.name = NULL;
    it.tint = (color)77;
    T_EQ(item_encode(&b, &it), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/tint: 77 is not a value of enum color");
    T_STREQ(b.ptr, "keep");
    actor_buf_dispose(&b);
}

static void test_encode_errors_name_the_path(void)
{
    actor_buf b = ACTOR_BUF_INIT;
    everything e;
    item items[3];

    everything_init(&e);
    memset(items, 0, sizeof(items));
    e.items = items;
    e.items_count = 3;
    items[2].price = NAN;
    T_EQ(everything_encode(&b, &e), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "cannot encode everything: /items/2/price");
    items[2].price = 0;
    /* A char[N] with no NUL is a value too long for its field. */
    memset(e.code, 'x', sizeof(e.code));
    T_EQ(everything_encode(&b, &e), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/code: char[8] holds no NUL");
    memset(e.code, 0, sizeof(e.code));
    memset(e.names[1], 'y', sizeof(e.names[1]));
    T_EQ(everything_encode(&b, &e), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/names/1:");
    memset(e.names[1], 0, sizeof(e.names[1]));
    /* A count with a NULL pointer. */
    e.tags_count = 2;
    T_EQ(everything_encode(&b, &e), ACTOR_EINVAL);
    T_CONTAINS(actor_error_last(), "/tags: the count is 2 but the pointer is NULL");
    T_EQ(b.size, 0);
    actor_buf_dispose(&b);
}

int main(void)
{
    T_RUN(test_exact_encodings);
    T_RUN(test_encode_appends_and_rolls_back);
    T_RUN(test_encode_errors_name_the_path);
    T_RUN(test_scalars_extremes);
    T_RUN(test_scalars_random);
    T_RUN(test_doubles_exact);
    T_RUN(test_number_text_matches_printf);
    T_RUN(test_everything_random);
    T_RUN(test_wrapper_random);
    return t_done();
}
