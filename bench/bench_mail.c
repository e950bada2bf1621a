/*
 * bench_mail.c — the mail parsing path against its ceiling. For each message of the seed
 * corpus (the .eml files of fuzz/corpus/mail, or the files given), measures mail_parse (GMime, the
 * part walk, charset conversion to UTF-8, threading ids) plus mail_event_data (the
 * email.received data, canonicalised as the ledger stores it), beside the ceiling: the
 * same bytes through the bare dependency, g_mime_parser_construct_message alone. Prints
 * messages/s and MB/s (CPU time) for both and the ratio. Network and database time are
 * not included (an IMAP fetch and one transaction per message dominate a real poll).
 *
 * usage: bench_mail [FILE.eml …]   (default: the corpus, run from the source root)
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/ledger.h"
#include "mail/mail.h"

static double
cpu_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[1 << 16];
    size_t k;

    if (f == NULL)
        return NULL;
    buf_init(&b, 0);
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, k);
    fclose(f);
    *n = b.len;
    return b.data ? buf_steal(&b) : xstrdup("");
}

int
main(int argc, char **argv)
{
    static const char *const def[] = {
        "fuzz/corpus/mail/plain.eml", "fuzz/corpus/mail/reply.eml", "fuzz/corpus/mail/gb18030.eml",
        "fuzz/corpus/mail/multipart_alt.eml", "fuzz/corpus/mail/html_only.eml"};
    const char *const *files = argc > 1 ? (const char *const *)argv + 1 : def;
    int nfiles = argc > 1 ? argc - 1 : (int)ARRAY_LEN(def);
    const int rounds = 20000;

    mail_init();
    for (int f = 0; f < nfiles; f++) {
        size_t n = 0;
        char *data = slurp(files[f], &n);
        double t0, ours, bare;

        if (data == NULL) {
            fprintf(stderr, "bench_mail: cannot read %s\n", files[f]);
            return 1;
        }
        t0 = cpu_s();
        for (int i = 0; i < rounds; i++) {
            struct mail_parsed m;
            struct smile_err err;
            json_t *d;
            char *c;

            smile_err_clear(&err);
            mail_parse(data, n, &m, &err);
            d = mail_event_data(&m);
            c = ledger_data_canonical(d);
            free(c);
            json_decref(d);
            mail_parsed_free(&m);
        }
        ours = cpu_s() - t0;
        t0 = cpu_s();
        for (int i = 0; i < rounds; i++) {
            GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, n);
            GMimeParser *p = g_mime_parser_new_with_stream(s);
            GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);

            if (msg)
                g_object_unref(msg);
            g_object_unref(p);
            g_object_unref(s);
        }
        bare = cpu_s() - t0;
        printf("%-36s %6zu B  smile %9.0f msg/s %7.1f MB/s   ceiling (bare GMime parse) %9.0f "
               "msg/s   %3.0f%%\n",
               files[f], n, rounds / ours, rounds * (double)n / ours / 1e6, rounds / bare,
               100.0 * bare / ours);
        free(data);
    }
    return 0;
}
