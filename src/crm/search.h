/*
 * search.h — full-text search over the CRM's customers, cases and interactions. The CRM
 * calls search_index_put / search_index_delete in the same transaction as every change of
 * a record, so the index never disagrees with the records; GET /api/v1/search calls
 * search_query. The index is SQLite FTS5 (unicode61) over text prepared here so that
 * Chinese matches by substring (every CJK character is its own token and a CJK query is a
 * phrase of its characters), phone numbers match by prefix and by their last digits (the
 * reversed number is indexed too), and Latin words match by prefix. See docs/search.md.
 *
 * The preparation functions are pure (no I/O, no globals) and are unit-tested and fuzzed.
 */
#ifndef SMILE_SEARCH_H
#define SMILE_SEARCH_H

#include "base/base.h"

struct store;

/* A query longer than this many bytes is refused (SMILE_EINVAL). */
#define SEARCH_QUERY_MAX_BYTES 256
/* A query of more than this many whitespace-separated terms is refused. */
#define SEARCH_QUERY_MAX_TERMS 16
/* Digit terms at least this long also match the end of a phone number ("5678"). */
#define SEARCH_TAIL_MIN 3
/* The whole-title key (exact matches) is kept only up to this many bytes. */
#define SEARCH_KEY_MAX 128
/* Prepared body text is cut (at a character boundary) beyond this many bytes. */
#define SEARCH_BODY_MAX (256 * 1024)
/* Phone numbers keep at most this many digits. */
#define SEARCH_PHONE_MAX_DIGITS 32

/*
 * Appends to out the indexable form of len bytes of UTF-8 text: full-width digits and
 * Latin letters (U+FF10–U+FF19, U+FF21–U+FF3A, U+FF41–U+FF5A) are folded to ASCII, a
 * ZERO WIDTH SPACE (U+200B)
 * is put between a CJK character (Han, kana, Hangul syllables) and any neighbouring
 * letter, digit or CJK character so that FTS5's unicode61 tokenizer makes each CJK
 * character its own token, ZERO WIDTH SPACEs of the input are dropped (so removing every
 * U+200B gives the displayed text back), and invalid UTF-8 bytes and control characters
 * other than tab and newline become spaces. Never fails.
 */
void search_prepare_text(const char *text, size_t len, struct buf *out);

/*
 * Appends to out the exact-match key of a title or a query: the folded text (full-width
 * folded, ASCII lower-cased) with every character that is not a letter, digit or CJK
 * character removed — "张伟" → "张伟", "Acme Ltd." → "acmeltd". Appends nothing if the key
 * would exceed SEARCH_KEY_MAX bytes.
 */
void search_prepare_key(const char *text, size_t len, struct buf *out);

/*
 * Writes the ASCII digits of a phone number (full-width digits folded; everything else
 * dropped; at most SEARCH_PHONE_MAX_DIGITS) into out, NUL-terminated; out must hold
 * SEARCH_PHONE_MAX_DIGITS + 1 bytes. Returns the number of digits (0: no number).
 */
size_t search_prepare_phone(const char *phone, char *out);

/*
 * A prepared query. match is an FTS5 MATCH expression in which every token the user typed
 * is inside a double-quoted string (quotes doubled), so no input can inject FTS5 syntax:
 * whitespace-separated terms are ANDed; a term is the phrase of its tokens (each CJK
 * character one token, the last Latin/digit token a prefix); an all-digit term of at
 * least SEARCH_TAIL_MIN digits also matches the end of a phone number; the whole query's
 * key, when there is one, is ORed in against the whole-title column, which ranks exact
 * titles first.
 */
struct search_plan {
    /* owned: the MATCH expression */
    char *match;
    /* search_prepare_key of the whole query ("" if none) */
    char key[SEARCH_KEY_MAX + 1];
    /* the query's digits when it is one all-digit term, else "" */
    char digits[SEARCH_PHONE_MAX_DIGITS + 1];
    /* terms kept (terms without a letter or digit are dropped) */
    int nterms;
    /* owned: each term's first word or run of CJK characters, folded, each ended by a NUL,
     * the list by an empty string — what a snippet looks for in the text */
    char *needles;
};

/*
 * Prepares len bytes of a user's query. SMILE_EINVAL with a message (for the caller to
 * attach to its field) when the query is not valid UTF-8, is longer than
 * SEARCH_QUERY_MAX_BYTES, has more than SEARCH_QUERY_MAX_TERMS terms, or has no letter or
 * digit at all. On success the caller frees the plan with search_plan_free().
 */
int search_prepare_query(const char *q, size_t len, struct search_plan *out, struct smile_err *err);
void search_plan_free(struct search_plan *p);

/* True for the kinds of indexed record: "customer", "case", "interaction". */
bool search_kind_valid(const char *kind);

/*
 * Indexes (or re-indexes) one record: kind is "customer", "case" or "interaction", id its
 * positive id (at most INT64_MAX / 4). title is shown in results and matched with the
 * highest weight (customer name, case or interaction subject; NULL = ""); texts are the
 * other searchable strings (e-mails, description, body; NULL entries skipped); phones are
 * matched by prefix and by their last digits. Runs in the caller's transaction when there
 * is one, else in its own. SMILE_EINVAL for a bad kind or id, SMILE_EDB on storage failure.
 *
 * The CRM must call this on create and update and search_index_delete on soft delete and
 * anonymisation: the index holds only what may be found.
 */
int search_index_put(struct store *s, const char *kind, int64_t id, const char *title,
                     const char *const *texts, size_t ntexts, const char *const *phones,
                     size_t nphones, struct smile_err *err);

/* Removes a record from the index; SMILE_OK also when it was not indexed. */
int search_index_delete(struct store *s, const char *kind, int64_t id, struct smile_err *err);

/* One search result. Strings are owned by the result set. */
struct search_hit {
    const char *kind; /* static string: "customer", "case" or "interaction" */
    int64_t id;
    char *title;
    char *snippet; /* NULL when the record has no text beyond its title */
    double score;  /* relevance, higher is better; comparable within one result set */
    bool exact;    /* the title equals the query, or a phone ends with the query's digits */
};

struct search_result {
    struct search_hit *hits;
    size_t n;
};

/*
 * Runs a query: at most limit (1–500) hits, exact matches first, then by score (bm25 over
 * title, phones and texts, weighted by kind: customers before cases before interactions).
 * kind (NULL = all) restricts the kind. Errors: SMILE_EINVAL as search_prepare_query
 * (message for the caller's field) or for a bad kind or limit; SMILE_EDB. On success the
 * caller frees out with search_result_free().
 */
int search_query(struct store *s, const char *q, const char *kind, int limit,
                 struct search_result *out, struct smile_err *err);
void search_result_free(struct search_result *r);

#endif
