/*
 * bench_search.c — how fast the CRM search is over 200,000 customers. Generates customers
 * with realistic Chinese names (50 common surnames by frequency × common given-name
 * characters, one or two of them), 11-digit mobiles, e-mails and, for three in ten, a note
 * mixing Chinese and English; indexes them with search_index_put (the ceiling: the same
 * prepared rows inserted into a bare FTS5 table) and measures search_query latency p50/p99
 * for 1-, 2- and 3-character Chinese queries, last-four digits and English prefixes. The
 * ceiling of each query class is a bare FTS5 MATCH of a single token on the same index in
 * the same run, ranked (ORDER BY rank) and unranked (first rows).
 *
 * Usage: bench_search [CUSTOMERS] [QUERIES_PER_CLASS]   (defaults 200000 and 300)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crm/search.h"
#include "store/store.h"

static const struct {
    const char *han, *pinyin;
    int weight; /* per mille of the population, roughly */
} surnames[] = {
    {"王", "wang", 71}, {"李", "li", 70},   {"张", "zhang", 68}, {"刘", "liu", 54},
    {"陈", "chen", 45}, {"杨", "yang", 31}, {"黄", "huang", 22}, {"赵", "zhao", 21},
    {"吴", "wu", 20},   {"周", "zhou", 19}, {"徐", "xu", 15},    {"孙", "sun", 15},
    {"马", "ma", 14},   {"朱", "zhu", 13},  {"胡", "hu", 13},    {"郭", "guo", 12},
    {"何", "he", 12},   {"高", "gao", 11},  {"林", "lin", 11},   {"罗", "luo", 9},
    {"郑", "zheng", 9}, {"梁", "liang", 9}, {"谢", "xie", 8},    {"宋", "song", 8},
    {"唐", "tang", 8},  {"许", "xu", 7},    {"韩", "han", 7},    {"冯", "feng", 7},
    {"邓", "deng", 7},  {"曹", "cao", 6},   {"彭", "peng", 6},   {"曾", "zeng", 6},
    {"肖", "xiao", 6},  {"田", "tian", 5},  {"董", "dong", 5},   {"袁", "yuan", 5},
    {"潘", "pan", 5},   {"于", "yu", 5},    {"蒋", "jiang", 5},  {"蔡", "cai", 5},
    {"余", "yu", 4},    {"杜", "du", 4},    {"叶", "ye", 4},     {"程", "cheng", 4},
    {"苏", "su", 4},    {"魏", "wei", 4},   {"吕", "lv", 4},     {"丁", "ding", 4},
    {"任", "ren", 4},   {"沈", "shen", 3},
};

static const char *given[] = {
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
    "娟", "涛", "明", "超", "霞", "平", "刚", "桂", "华", "建", "国", "文", "辉", "玲", "红",
    "新", "飞", "鹏", "波", "斌", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙",
    "林", "欣", "晨", "雪", "婷", "琳", "颖", "倩", "佳", "慧", "子", "梓", "涵", "轩", "睿",
    "博", "思", "雨", "嘉", "怡", "萱", "瑞", "鑫", "昊", "然", "一", "诺", "泽", "阳", "晓",
    "春", "梅", "兰", "凤", "云", "峰", "海", "亮", "成", "志", "荣", "德", "福", "生", "金",
    "玉", "珍", "丹", "萍", "燕", "琴", "晶", "莉", "秋", "婉",
};

static const char *notes[] = {
    "交房 handover 预约周六上午",    "报修 repair request 厨房漏水",
    "VIP owner 投诉 complaint",      "follow-up call 回访 满意",
    "contract renewal 续约 已签",    "parking space 车位 咨询",
    "装修 decoration permit 办理中", "物业费 property fee 已缴",
    "钥匙 key handover 已领取",      "inquiry about 学区 school district",
};

static const char *prefixes[] = {"130", "131", "132", "133", "135", "136", "137", "138",
                                 "139", "150", "151", "152", "155", "157", "158", "159",
                                 "166", "176", "177", "180", "181", "186", "187", "189"};

static const char *domains[] = {"qq.com", "163.com", "126.com", "example.com", "gmail.com"};

static const char *english[] = {"hand", "rep", "comp", "con",  "par",
                                "own",  "fol", "deco", "prop", "inq"};

struct customer {
    char name[16];
    char phone[12];
};

static uint64_t rng_state = 0x5EED5EED12345678ull;

/* splitmix64: deterministic, so every run indexes the same customers. */
static uint64_t
rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t
pick_surname(void)
{
    static int total;
    int r;

    if (total == 0)
        for (size_t i = 0; i < ARRAY_LEN(surnames); i++)
            total += surnames[i].weight;
    r = (int)(rng() % (uint64_t)total);
    for (size_t i = 0; i < ARRAY_LEN(surnames); i++) {
        if (r < surnames[i].weight)
            return i;
        r -= surnames[i].weight;
    }
    return 0;
}

/* CPU time of this process: the machine may be shared, so wall time is shown beside it. */
static int64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static double
pct(int64_t *v, size_t n, double p)
{
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);

    qsort(v, n, sizeof(*v), cmp_i64);
    return (double)v[k] / 1e6;
}

static void
die(const struct smile_err *err)
{
    fprintf(stderr, "bench_search: %s\n", err->msg);
    exit(1);
}

/* Runs the bare single-token MATCH; ranked orders by FTS5's bm25 rank, else takes the first. */
static size_t
bare(struct store *s, const char *match, bool ranked, struct smile_err *err)
{
    static const char sql_ranked[] =
        "SELECT rowid FROM search_fts WHERE search_fts MATCH $1 ORDER BY rank LIMIT 20";
    static const char sql_first[] = "SELECT rowid FROM search_fts WHERE search_fts MATCH $1 "
                                    "LIMIT 20";
    struct store_stmt *st;
    size_t n = 0;
    int rc;

    if (store_prepare(s, ranked ? sql_ranked : sql_first, &st, err) != SMILE_OK)
        die(err);
    store_stmt_bind_text(st, 1, match, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        n++;
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        die(err);
    return n;
}

struct klass {
    const char *name;
    char (*q)[64];   /* the queries */
    char (*tok)[64]; /* the single token of the ceiling, as an FTS5 expression */
};

int
main(int argc, char **argv)
{
    size_t ncust = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    size_t nq = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
    char dir[] = "/tmp/smile-bench-search-XXXXXX", path[64], wal[80];
    struct customer *cs;
    struct store *s;
    struct smile_err err;
    struct klass classes[5] = {
        {"1-char Chinese", NULL, NULL}, {"2-char Chinese", NULL, NULL},
        {"3-char Chinese", NULL, NULL}, {"last 4 digits", NULL, NULL},
        {"English prefix", NULL, NULL},
    };
    int64_t *lat, *lat_cpu, *lat_rank, *lat_first, t0, c0, t_index, t_bare, c_index, c_bare;
    struct stat sb;
    double db_mb = 0;
    size_t hits_total = 0;

    if (ncust == 0 || nq == 0) {
        fprintf(stderr, "usage: bench_search [CUSTOMERS] [QUERIES_PER_CLASS]\n");
        return 2;
    }
    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    if (store_open(path, STORE_CREATE, &s, &err) != SMILE_OK || store_migrate(s, &err) != SMILE_OK)
        die(&err);

    /* Generate. */
    cs = xcalloc(ncust, sizeof(*cs));
    for (size_t i = 0; i < ncust; i++) {
        size_t sn = pick_surname(), ng = rng() % 10 < 3 ? 1 : 2;

        snprintf(cs[i].name, sizeof(cs[i].name), "%s%s%s", surnames[sn].han,
                 given[rng() % ARRAY_LEN(given)], ng == 2 ? given[rng() % ARRAY_LEN(given)] : "");
        snprintf(cs[i].phone, sizeof(cs[i].phone), "%s%08llu",
                 prefixes[rng() % ARRAY_LEN(prefixes)], (unsigned long long)(rng() % 100000000));
    }

    /* Index: 1,000 customers per transaction, as a bulk import would. */
    rng_state = 42;
    t0 = time_mono_ns();
    c0 = cpu_ns();
    for (size_t i = 0; i < ncust; i++) {
        char email[64];
        const char *texts[2], *phones[1] = {cs[i].phone};
        size_t nt = 0;
        size_t sn = 0;

        for (size_t k = 0; k < ARRAY_LEN(surnames); k++)
            if (strncmp(cs[i].name, surnames[k].han, strlen(surnames[k].han)) == 0)
                sn = k;
        snprintf(email, sizeof(email), "%s%zu@%s", surnames[sn].pinyin, i + 1,
                 domains[rng() % ARRAY_LEN(domains)]);
        texts[nt++] = email;
        if (rng() % 10 < 3)
            texts[nt++] = notes[rng() % ARRAY_LEN(notes)];
        if (i % 1000 == 0 && store_begin(s, &err) != SMILE_OK)
            die(&err);
        if (search_index_put(s, "customer", (int64_t)i + 1, cs[i].name, texts, nt, phones, 1,
                             &err) != SMILE_OK)
            die(&err);
        if ((i % 1000 == 999 || i == ncust - 1) && store_commit(s, &err) != SMILE_OK)
            die(&err);
    }
    t_index = time_mono_ns() - t0;
    c_index = cpu_ns() - c0;
    if (stat(path, &sb) == 0)
        db_mb += (double)sb.st_size / 1e6;
    if (stat(wal, &sb) == 0)
        db_mb += (double)sb.st_size / 1e6;

    /* Ceiling of the build: the same prepared columns straight into a bare FTS5 table. */
    {
        static const char sql[] = "INSERT INTO bench_bare (rowid, name, whole, phone, tail, body) "
                                  "VALUES ($1, $2, $3, $4, $5, $6)";
        static const char sql_read[] =
            "SELECT id, name, whole, phone, tail, body FROM search_docs ORDER BY id";
        struct store_stmt *rd, *wr;
        char *(*cols)[5] = xcalloc(ncust, sizeof(*cols));
        int64_t *ids = xcalloc(ncust, sizeof(int64_t));
        size_t n = 0;
        int rc;

        if (store_exec(
                s,
                "CREATE VIRTUAL TABLE bench_bare USING fts5 (name, whole, phone, tail, body, "
                "tokenize = 'unicode61 remove_diacritics 2')",
                &err) != SMILE_OK ||
            store_prepare(s, sql_read, &rd, &err) != SMILE_OK)
            die(&err);
        while ((rc = store_stmt_step(rd, &err)) == STORE_ROW && n < ncust) {
            ids[n] = store_stmt_int64(rd, 0);
            for (int k = 0; k < 5; k++)
                cols[n][k] = xstrdup(store_stmt_text(rd, k + 1));
            n++;
        }
        store_stmt_reset(rd);
        t0 = time_mono_ns();
        c0 = cpu_ns();
        for (size_t i = 0; i < n; i++) {
            if (i % 1000 == 0 && store_begin(s, &err) != SMILE_OK)
                die(&err);
            if (store_prepare(s, sql, &wr, &err) != SMILE_OK)
                die(&err);
            store_stmt_bind_int64(wr, 1, ids[i]);
            for (int k = 0; k < 5; k++)
                store_stmt_bind_text(wr, k + 2, cols[i][k], -1);
            if (store_stmt_step(wr, &err) != STORE_DONE)
                die(&err);
            store_stmt_reset(wr);
            if ((i % 1000 == 999 || i == n - 1) && store_commit(s, &err) != SMILE_OK)
                die(&err);
        }
        t_bare = time_mono_ns() - t0;
        c_bare = cpu_ns() - c0;
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < 5; k++)
                free(cols[i][k]);
        free(cols);
        free(ids);
        store_exec(s, "DROP TABLE bench_bare", &err);
    }

    /* Queries, drawn from the customers so that they find someone. */
    for (size_t c = 0; c < ARRAY_LEN(classes); c++) {
        classes[c].q = xcalloc(nq, sizeof(*classes[c].q));
        classes[c].tok = xcalloc(nq, sizeof(*classes[c].tok));
    }
    for (size_t i = 0; i < nq; i++) {
        const struct customer *a = &cs[rng() % ncust];
        const struct customer *b;
        size_t k = rng() % (strlen(a->name) / 3);

        /* One character of a name (so common characters come up as often as in names). */
        snprintf(classes[0].q[i], 64, "%.3s", a->name + 3 * k);
        snprintf(classes[0].tok[i], 64, "\"%.3s\"", a->name + 3 * k);
        /* Surname and first given character. */
        snprintf(classes[1].q[i], 64, "%.6s", a->name);
        snprintf(classes[1].tok[i], 64, "\"%.3s\"", a->name);
        /* A whole three-character name. */
        do
            b = &cs[rng() % ncust];
        while (strlen(b->name) != 9);
        snprintf(classes[2].q[i], 64, "%s", b->name);
        snprintf(classes[2].tok[i], 64, "\"%.3s\"", b->name);
        /* The last four digits of a phone; the ceiling is the reversed prefix alone. */
        snprintf(classes[3].q[i], 64, "%s", a->phone + 7);
        snprintf(classes[3].tok[i], 64, "{tail} : \"%c%c%c%c\" *", a->phone[10], a->phone[9],
                 a->phone[8], a->phone[7]);
        snprintf(classes[4].q[i], 64, "%s", english[i % ARRAY_LEN(english)]);
        snprintf(classes[4].tok[i], 64, "\"%s\" *", english[i % ARRAY_LEN(english)]);
    }

    printf("bench_search: %zu customers, %zu queries per class, limit 20, SQLite %s\n", ncust, nq,
           store_driver_version());
    printf("index build: %.2f s wall, %.2f s CPU (%.0f customers/s of CPU), database %.1f MB\n"
           "  ceiling, bare FTS5 insert of the same prepared columns: %.2f s wall, %.2f s CPU; "
           "CPU ratio %.2f\n",
           (double)t_index / 1e9, (double)c_index / 1e9, (double)ncust / ((double)c_index / 1e9),
           db_mb, (double)t_bare / 1e9, (double)c_bare / 1e9, (double)c_index / (double)c_bare);
    printf("%-16s %9s %9s %9s | %13s %9s | %14s %9s | %6s\n", "query (limit 20)", "p50 ms",
           "p99 ms", "CPU p50", "bare rank p50", "p99", "bare first p50", "p99", "hits");
    lat = xcalloc(nq, sizeof(int64_t));
    lat_cpu = xcalloc(nq, sizeof(int64_t));
    lat_rank = xcalloc(nq, sizeof(int64_t));
    lat_first = xcalloc(nq, sizeof(int64_t));
    for (size_t c = 0; c < ARRAY_LEN(classes); c++) {
        hits_total = 0;
        /* Warm the cache with a few queries of the class first. */
        for (size_t i = 0; i < nq && i < 10; i++) {
            struct search_result r;

            if (search_query(s, classes[c].q[i], NULL, 20, &r, &err) != SMILE_OK)
                die(&err);
            search_result_free(&r);
        }
        for (size_t i = 0; i < nq; i++) {
            struct search_result r;

            t0 = time_mono_ns();
            c0 = cpu_ns();
            if (search_query(s, classes[c].q[i], NULL, 20, &r, &err) != SMILE_OK)
                die(&err);
            lat[i] = time_mono_ns() - t0;
            lat_cpu[i] = cpu_ns() - c0;
            hits_total += r.n;
            search_result_free(&r);
            t0 = time_mono_ns();
            bare(s, classes[c].tok[i], true, &err);
            lat_rank[i] = time_mono_ns() - t0;
            t0 = time_mono_ns();
            bare(s, classes[c].tok[i], false, &err);
            lat_first[i] = time_mono_ns() - t0;
        }
        printf("%-16s %9.3f %9.3f %9.3f | %13.3f %9.3f | %14.3f %9.3f | %6.1f\n", classes[c].name,
               pct(lat, nq, 0.5), pct(lat, nq, 0.99), pct(lat_cpu, nq, 0.5), pct(lat_rank, nq, 0.5),
               pct(lat_rank, nq, 0.99), pct(lat_first, nq, 0.5), pct(lat_first, nq, 0.99),
               (double)hits_total / (double)nq);
    }
    printf("e.g. queries: %s | %s | %s | %s | %s\n", classes[0].q[0], classes[1].q[0],
           classes[2].q[0], classes[3].q[0], classes[4].q[0]);

    for (size_t c = 0; c < ARRAY_LEN(classes); c++) {
        free(classes[c].q);
        free(classes[c].tok);
    }
    free(lat);
    free(lat_cpu);
    free(lat_rank);
    free(lat_first);
    free(cs);
    store_close(s);
    unlink(path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    return 0;
}
