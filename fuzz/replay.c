/*
 * replay.c — runs a fuzz target over every file of its seed corpus, so the corpus is an
 * ordinary test under the sanitizers. Prints TAP: one "ok" line per corpus file (a crash
 * or sanitizer report aborts the run, which the harness counts as a failure).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    char *names[4096];
    size_t n = 0;
    DIR *d;
    struct dirent *e;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    d = opendir(argv[1]);
    if (d == NULL) {
        printf("1..1\nnot ok 1 - cannot open corpus %s\n", argv[1]);
        return 1;
    }
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp);
    printf("1..%zu\n", n ? n : 1);
    if (n == 0)
        printf("not ok 1 - empty corpus\n");
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        FILE *f;
        long size;
        uint8_t *buf;

        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
        f = fopen(path, "rb");
        if (f == NULL) {
            printf("not ok %zu - %s unreadable\n", i + 1, names[i]);
            continue;
        }
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(size > 0 ? (size_t)size : 1);
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            printf("not ok %zu - %s short read\n", i + 1, names[i]);
        } else {
            LLVMFuzzerTestOneInput(buf, (size_t)size);
            printf("ok %zu - %s\n", i + 1, names[i]);
        }
        fflush(stdout);
        free(buf);
        fclose(f);
        free(names[i]);
    }
    return n ? 0 : 1;
}
