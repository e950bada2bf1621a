/*
 * bench_secret.c — what sealing costs: CPU time per secret_seal and per secret_open of a
 * 24-byte password (XChaCha20-Poly1305 + base64, src/base/secret.c), beside the ceiling of
 * the bare libsodium AEAD on the same bytes. A mailbox is opened once per poll, per reply
 * and per GET; a webhook secret once per delivery. Usage: bench_secret [N] (default 200000).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/secret.h"

static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
    static const char pw[] = "Imap-Authorisation-Code1"; /* 24 bytes */
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    struct secret_key key;
    struct smile_err err;
    unsigned char nonce[24], ct[64], pt[64];
    unsigned long long clen = 0, mlen = 0;
    double loads[3], t0, seal_s, open_s, raw_s;
    char *sealed = NULL;

    if (n <= 0)
        n = 200000;
    smile_err_clear(&err);
    secret_key_generate(&key);
    t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        char *s = NULL;

        secret_seal(&key, "mailbox", i, pw, &s, &err);
        free(s);
    }
    seal_s = cpu_s() - t0;
    secret_seal(&key, "mailbox", 1, pw, &sealed, &err);
    t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        char *p = NULL;

        if (secret_open(&key, "mailbox", 1, sealed, &p, &err) != SMILE_OK)
            return 1;
        secret_free(p);
    }
    open_s = cpu_s() - t0;
    randombytes_buf(nonce, sizeof(nonce));
    t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, (const unsigned char *)pw, 24,
                                                   (const unsigned char *)"mailbox:1", 9, NULL,
                                                   nonce, key.k);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen, NULL, ct, clen,
                                                       (const unsigned char *)"mailbox:1", 9, nonce,
                                                       key.k) != 0)
            return 1;
    }
    raw_s = cpu_s() - t0;
    if (getloadavg(loads, 3) != 3)
        loads[0] = -1;
    printf("secret_seal  %8.2f us CPU each (%ld)\n", seal_s * 1e6 / (double)n, n);
    printf("secret_open  %8.2f us CPU each (%ld)\n", open_s * 1e6 / (double)n, n);
    printf("ceiling: bare AEAD encrypt+decrypt %8.2f us CPU per pair\n", raw_s * 1e6 / (double)n);
    printf("load average %.2f\n", loads[0]);
    free(sealed);
    return 0;
}
