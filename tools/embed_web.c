/*
 * embed_web.c — build tool: embeds the built web UI (web/dist, made by `npm run build`)
 * into the smile binary. It walks the dist directory (dot files and folders such as
 * .vite/ are left out), and for every file writes a C array of its bytes, a gzip
 * (RFC 1952) copy when that is smaller, its content type, a strong ETag computed from
 * the content, and whether its name is content-hashed (assets/…: cached for a year).
 * The table it writes, api_assets[], is served by src/api/assets.c. It also writes a
 * Ninja depfile naming every input, so a rebuilt UI is picked up by the next ninja run.
 * A dist without index.html is an error: the build fails rather than ship no UI.
 *
 * Usage: embed_web OUT.c DEPFILE DIST_DIR
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MAX_FILES 4096
#define MAX_PATH 1024

struct file {
    char rel[MAX_PATH]; /* path below the dist directory, '/' separated */
    unsigned char *data;
    size_t size;
    unsigned char *gz;
    size_t gz_size;
};

static struct file files[MAX_FILES];
static int nfiles;

static void die(const char *fmt, const char *arg) __attribute__((noreturn));

static void
die(const char *fmt, const char *arg)
{
    fprintf(stderr, "embed_web: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static void *
xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        die("out of memory%s", "");
    return p;
}

/* Collects the regular files below dir (rel is dir's path below the root, "" at the top). */
static void
walk(const char *root, const char *rel)
{
    char path[MAX_PATH * 2];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    d = opendir(path);
    if (d == NULL)
        die("cannot open %s (build the UI first: npm ci && npm run build in web/, or run make)",
            path);
    while ((e = readdir(d)) != NULL) {
        char sub[MAX_PATH], full[MAX_PATH * 3];
        struct stat st;
        int n;

        if (e->d_name[0] == '.')
            continue;
        n = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof(sub))
            die("path too long: %s", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        if (stat(full, &st) != 0)
            die("cannot stat %s", full);
        if (S_ISDIR(st.st_mode)) {
            walk(root, sub);
        } else if (S_ISREG(st.st_mode)) {
            if (nfiles == MAX_FILES)
                die("more than 4096 files in %s", root);
            memcpy(files[nfiles].rel, sub, (size_t)n + 1);
            nfiles++;
        }
    }
    closedir(d);
}

static int
by_rel(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->rel, ((const struct file *)b)->rel);
}

static void
load(const char *root, struct file *f)
{
    char full[MAX_PATH * 2];
    FILE *in;
    long size = 0;

    if (snprintf(full, sizeof(full), "%s/%s", root, f->rel) >= (int)sizeof(full))
        die("path too long: %s", f->rel);
    in = fopen(full, "rb");
    if (in == NULL || fseek(in, 0, SEEK_END) != 0 || (size = ftell(in)) < 0 ||
        fseek(in, 0, SEEK_SET) != 0)
        die("cannot read %s", full);
    f->size = (size_t)size;
    f->data = xalloc(f->size);
    if (f->size && fread(f->data, 1, f->size, in) != f->size)
        die("short read on %s", full);
    fclose(in);
}

/* gzip at level 9; keeps the copy only if it saves at least 5 % (images rarely shrink). */
static void
compress_gzip(struct file *f)
{
    z_stream z;
    size_t cap = deflateBound(NULL, (uLong)f->size) + 64;
    unsigned char *out = xalloc(cap);

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2 failed for %s", f->rel);
    z.next_in = f->data;
    z.avail_in = (uInt)f->size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate failed for %s", f->rel);
    if (z.total_out + f->size / 20 < f->size) {
        f->gz = out;
        f->gz_size = z.total_out;
    } else {
        free(out);
    }
    deflateEnd(&z);
}

static const char *
content_type(const char *rel)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(rel, '.');

    if (dot)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* 64-bit FNV-1a: with the CRC-32 beside it, 96 bits of content hash for the ETag. */
static uint64_t
fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void
put_array(FILE *out, const char *name, int idx, const unsigned char *p, size_t n)
{
    fprintf(out, "static const unsigned char %s%d[] = {", name, idx);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%u,", i % 40 ? "" : "\n", p[i]);
    fprintf(out, "0};\n");
}

/* Writes s as a C string literal body (the names come from Vite; escape anyway). */
static void
put_cstr(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* Depfile paths escape spaces and '$' (Ninja's depfile syntax follows Make's). */
static void
put_dep(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ' || *s == '\\' || *s == '#')
            fputc('\\', out);
        if (*s == '$')
            fputc('$', out);
        fputc(*s, out);
    }
}

int
main(int argc, char **argv)
{
    const char *out_path, *dep_path, *root;
    char tmp[MAX_PATH * 2], idx_path[MAX_PATH * 2];
    struct stat st;
    FILE *out, *dep;
    size_t raw_total = 0, gz_total = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: embed_web OUT.c DEPFILE DIST_DIR\n");
        return 2;
    }
    out_path = argv[1];
    dep_path = argv[2];
    root = argv[3];
    snprintf(idx_path, sizeof(idx_path), "%s/index.html", root);
    if (stat(idx_path, &st) != 0)
        die("%s is missing: the web UI has not been built. Run `make` (it runs npm ci and "
            "npm run build in web/), or install nodejs and npm.",
            idx_path);
    walk(root, "");
    qsort(files, (size_t)nfiles, sizeof(files[0]), by_rel);

    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    out = fopen(tmp, "w");
    if (out == NULL)
        die("cannot write %s", tmp);
    fprintf(out, "/* generated by tools/embed_web.c from the built web UI; do not edit */\n"
                 "#include \"api/assets.h\"\n\n");
    for (int i = 0; i < nfiles; i++) {
        load(root, &files[i]);
        compress_gzip(&files[i]);
        put_array(out, "r", i, files[i].data, files[i].size);
        if (files[i].gz)
            put_array(out, "g", i, files[i].gz, files[i].gz_size);
        raw_total += files[i].size;
        gz_total += files[i].gz ? files[i].gz_size : files[i].size;
    }
    fprintf(out, "\nconst struct api_asset api_assets[] = {\n");
    for (int i = 0; i < nfiles; i++) {
        struct file *f = &files[i];
        uint64_t h = fnv1a64(f->data, f->size);
        unsigned long crc = crc32(0L, f->data, (uInt)f->size);
        char etag[64];

        snprintf(etag, sizeof(etag), "%016llx%08lx", (unsigned long long)h, crc & 0xffffffffUL);
        fprintf(out, "    {\"");
        put_cstr(out, f->rel);
        fprintf(out, "\", \"%s\", \"\\\"%s\\\"\", \"\\\"%s-gz\\\"\", r%d, %zu, ",
                content_type(f->rel), etag, etag, i, f->size);
        if (f->gz)
            fprintf(out, "g%d, %zu, ", i, f->gz_size);
        else
            fprintf(out, "NULL, 0, ");
        fprintf(out, "%s},\n", strncmp(f->rel, "assets/", 7) == 0 ? "true" : "false");
    }
    fprintf(out, "};\nconst int api_asset_count = %d;\n", nfiles);
    if (fclose(out) != 0)
        die("cannot write %s", tmp);

    dep = fopen(dep_path, "w");
    if (dep == NULL)
        die("cannot write %s", dep_path);
    put_dep(dep, out_path);
    fprintf(dep, ":");
    fprintf(dep, " \\\n ");
    put_dep(dep, root);
    for (int i = 0; i < nfiles; i++) {
        char full[MAX_PATH * 2];

        if (snprintf(full, sizeof(full), "%s/%s", root, files[i].rel) >= (int)sizeof(full))
            die("path too long: %s", files[i].rel);
        fprintf(dep, " \\\n ");
        put_dep(dep, full);
    }
    fprintf(dep, "\n");
    if (fclose(dep) != 0)
        die("cannot write %s", dep_path);
    if (rename(tmp, out_path) != 0)
        die("cannot rename to %s", out_path);
    fprintf(stderr, "embed_web: %d files, %zu bytes, %zu served gzip-or-raw\n", nfiles, raw_total,
            gz_total);
    return 0;
}
