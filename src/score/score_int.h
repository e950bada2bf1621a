/*
 * score_int.h — helpers shared by the score part's own files (template.c, evaluation.c,
 * digest.c, export.c) and nobody else's.
 */
#ifndef SMILE_SCORE_INT_H
#define SMILE_SCORE_INT_H

#include "score/score.h"
#include "store/store.h"

/* The time zone periods are cut in (the kpi part's days are in the same zone). */
#define SCORE_TIME_ZONE "Asia/Shanghai"

/* Copies src (NULL = "") into dst of cap bytes, truncating. */
void score_copy(char *dst, size_t cap, const char *src);
/* Opens a transaction unless the caller holds one; score_tx_end commits or rolls back ours. */
int score_tx_begin(struct store *db, bool *own, struct smile_err *err);
int score_tx_end(struct store *db, bool own, int rc, struct smile_err *err);
/* A template from its stored row (document re-read without re-validation). */
int score_template_from_doc(const char *doc, struct score_template *t, struct smile_err *err);
/* Rounds to 2 decimals for display. */
double score_round2(double v);

#endif
