/*
 * api_score.h — handlers of the scorecard routes (api/scorecards.c): templates, evaluations
 * (compute, list, read, publish, freeze, comment, drill-down, export) and digests. Thin:
 * parse → score/ → render.
 */
#ifndef SMILE_API_SCORE_H
#define SMILE_API_SCORE_H

#include "http/http.h"

void api_score_indicators(struct http_request *req);
void api_score_templates_list(struct http_request *req);
void api_score_templates_get(struct http_request *req);
void api_score_templates_create(struct http_request *req);
void api_score_templates_replace(struct http_request *req);
void api_score_templates_delete(struct http_request *req);
void api_evaluations_list(struct http_request *req);
void api_evaluations_compute(struct http_request *req);
void api_evaluations_export(struct http_request *req);
void api_evaluations_get(struct http_request *req);
void api_evaluations_publish(struct http_request *req);
void api_evaluations_freeze(struct http_request *req);
void api_evaluations_publish_all(struct http_request *req);
void api_evaluations_freeze_all(struct http_request *req);
void api_evaluations_comment(struct http_request *req);
void api_evaluations_measurements(struct http_request *req);
void api_digests_list(struct http_request *req);

#endif
