/*
 * bench_codec.c: generated JSON encode/decode (actorgen, bench_doc.h)
 * against jansson's generic json_dumps/json_loadb of the same document (a
 * state with strings, numbers and 50 line structs), side by side in one
 * run: five interleaved rounds of each, the best round of each counted (the
 * machine may be shared). Prints stable lines:
 *   bench codec <encode|decode> <generated|jansson> docs_per_s=N mb_per_s=N
 *   bench codec <encode|decode> ratio=R   (generated / jansson, >1 = faster)
 * Never fails on time. Usage: bench_codec [documents, spread over the rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench_doc.gen.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_doc(bench_doc *d, bench_line *lines, char skus[][16])
{
    bench_doc_init(d);
    d->customer = "Ada Lovelace";
    d->email = "ada@example.org";
    d->created_ms = 1717171717171;
    d->version = 42;
    d->discount = 0.15;
    for (int i = 0; i < 50; i++) {
        bench_line_init(&lines[i]);
        snprintf(skus[i], 16, "SKU-%05d", i * 37);
        lines[i].sku = skus[i];
        snprintf(lines[i].title, sizeof(lines[i].title), "Item number %d, \"deluxe\"", i);
        lines[i].quantity = 1 + i % 7;
        lines[i].price = 3.99 + i * 1.25;
        lines[i].gift = i % 5 == 0;
    }
    d->lines = lines;
    d->lines_count = 50;
}

#define ROUNDS 5

static void report(const char *op, const char *who, size_t bytes, double docs_per_s)
{
    printf("bench codec %s %s docs_per_s=%.0f mb_per_s=%.1f\n", op, who, docs_per_s,
           (double)bytes * docs_per_s / 1e6);
}

int main(int argc, char **argv)
{
    long docs = argc > 1 ? atol(argv[1]) : 20000;
    static bench_line lines[50];
    static char skus[50][16];
    bench_doc doc, back;
    actor_buf buf = ACTOR_BUF_INIT, tmp = ACTOR_BUF_INIT;
    json_t *tree;
    size_t size;
    double t, gen_enc, jan_enc, gen_dec, jan_dec;
    int failures = 0;

    docs /= ROUNDS;
    if (docs < 1)
        docs = 1;
    make_doc(&doc, lines, skus);
    if (bench_doc_encode(&buf, &doc) != 0) {
        fprintf(stderr, "encode: %s\n", actor_error_last());
        return 1;
    }
    size = buf.size;
    tree = json_loadb(buf.ptr, buf.size, 0, NULL);
    if (tree == NULL)
        return 1;
    printf("bench codec document bytes=%zu lines=50 docs=%ld\n", size, docs * ROUNDS);

    /* Interleaved rounds, the best of each: the machine may be shared, and
     * a burst of other work should not land on one side only. */
    gen_enc = jan_enc = gen_dec = jan_dec = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double r;

        t = now_s();
        for (long i = 0; i < docs; i++) {
            actor_buf_clear(&tmp);
            failures += bench_doc_encode(&tmp, &doc) != 0;
        }
        r = docs / (now_s() - t);
        gen_enc = r > gen_enc ? r : gen_enc;

        t = now_s();
        for (long i = 0; i < docs; i++) {
            char *s = json_dumps(tree, JSON_COMPACT);
            failures += s == NULL;
            free(s);
        }
        r = docs / (now_s() - t);
        jan_enc = r > jan_enc ? r : jan_enc;

        t = now_s();
        for (long i = 0; i < docs; i++) {
            failures += bench_doc_decode(&back, buf.ptr, buf.size, NULL) != 0;
            bench_doc_free(&back);
        }
        r = docs / (now_s() - t);
        gen_dec = r > gen_dec ? r : gen_dec;

        t = now_s();
        for (long i = 0; i < docs; i++) {
            json_t *v = json_loadb(buf.ptr, buf.size, JSON_REJECT_DUPLICATES, NULL);
            failures += v == NULL;
            json_decref(v);
        }
        r = docs / (now_s() - t);
        jan_dec = r > jan_dec ? r : jan_dec;
    }
    report("encode", "generated", size, gen_enc);
    report("encode", "jansson", size, jan_enc);
    report("decode", "generated", size, gen_dec);
    report("decode", "jansson", size, jan_dec);

    printf("bench codec encode ratio=%.2f\n", gen_enc / jan_enc);
    printf("bench codec decode ratio=%.2f\n", gen_dec / jan_dec);

    /* The decoded document is the one encoded. */
    if (bench_doc_decode(&back, buf.ptr, buf.size, NULL) != 0 || !bench_doc_equal(&doc, &back))
        failures++;
    bench_doc_free(&back);
    json_decref(tree);
    actor_buf_dispose(&buf);
    actor_buf_dispose(&tmp);
    if (failures)
        fprintf(stderr, "bench codec: %d failures\n", failures);
    return failures ? 1 : 0;
}
