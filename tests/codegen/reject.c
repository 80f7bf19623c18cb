/*
 * reject.c: data-driven rejection tests of actorgen. Each case is a pair in
 * reject/: <case>.h, an input actorgen must refuse, and <case>.expected, the
 * exact "file:line:column: message" it must print. For every case the tool
 * must exit non-zero, print that line, and write no output file.
 * Usage: codegen_reject ACTORGEN CASES_DIR
 */
#include "test.h"

#include <dirent.h>

static const char *tool, *cases;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    while (buf && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

static int run_case(const char *name)
{
    char cmd[4096], out[600], expected_path[1024], line[1024] = "";
    char *expected;
    FILE *p;
    int status;
    size_t n;

    snprintf(expected_path, sizeof(expected_path), "%s/%s", cases, name);
    n = strlen(expected_path);
    memcpy(expected_path + n - 2, ".expected", 10);
    expected = slurp(expected_path);
    if (expected == NULL) {
        T_FAIL("%s: missing %s", name, expected_path);
        return 0;
    }
    t_tmp_path(out, sizeof(out), name);
    mkdir(out, 0700);
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -o '%s' '%s' 2>&1", cases, tool, out, name);
    p = popen(cmd, "r");
    T_ASSERT(p != NULL);
    if (fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    while (fgetc(p) != EOF) {
    }
    status = pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (status == 0)
        T_FAIL("%s: actorgen accepted it", name);
    if (strcmp(line, expected) != 0)
        T_FAIL("%s:\n    got      %s\n    expected %s", name, line, expected);
    if (!dir_is_empty(out))
        T_FAIL("%s: actorgen wrote output", name);
    free(expected);
    return 1;
}

static void test_rejections(void)
{
    DIR *d = opendir(cases);
    struct dirent *e;
    int count = 0;

    T_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 2 && strcmp(e->d_name + n - 2, ".h") == 0)
            count += run_case(e->d_name);
    }
    closedir(d);
    fprintf(stderr, "  %d cases\n", count);
    T_CHECK(count >= 20);
}

static void test_usage(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' >/dev/null 2>&1", tool);
    T_CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof(cmd), "'%s' /nonexistent/x.h >/dev/null 2>&1", tool);
    T_CHECK(system(cmd) != 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ACTORGEN CASES_DIR\n", argv[0]);
        return 2;
    }
    tool = argv[1];
    cases = argv[2];
    T_RUN(test_rejections);
    T_RUN(test_usage);
    return t_done();
}
