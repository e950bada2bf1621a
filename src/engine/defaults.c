/*
 * defaults.c — the four built-in processes (phone hotline, customer email, counter
 * reception, complaint handling) as JSON documents, the same text as the seed corpus in
 * fuzz/corpus/process/default_*.json (generated from those files; keep them equal). The
 * API or `smile init` publishes them; the design of each is explained in docs/processes.md.
 */
#include "engine/engine.h"

static const char hotline_json[] =
    "{\n"
    "  \"name\": \"Phone hotline\",\n"
    "  \"version\": 1,\n"
    "  \"calendar\": \"default\",\n"
    "  \"description\": \"Every call offered to the hotline is answered within 3 rings; short "
    "abandons (5 s or less) are not counted. Each agent a call rings at picks it up within 3 "
    "rings.\",\n"
    "  \"trigger\": {\"type\": \"call.offered\"},\n"
    "  \"ownership\": [\n"
    "    {\"on\": {\"type\": \"call.offered\"}, \"team\": \"data.queue\"},\n"
    "    {\"on\": {\"type\": \"call.ringing\"}, \"actor\": \"data.agent\"},\n"
    "    {\"on\": {\"type\": \"call.answered\"}, \"actor\": \"actor\"}\n"
    "  ],\n"
    "  \"steps\": [\n"
    "    {\n"
    "      \"key\": \"answer\",\n"
    "      \"title\": {\"en\": \"Answer within 3 rings\", \"zh\": \"三声内接听\"},\n"
    "      \"function\": \"answer_call\",\n"
    "      \"done_on\": {\"type\": \"call.answered\"},\n"
    "      \"cancels_on\": {\"type\": [\"call.abandoned\", \"call.ended\"]},\n"
    "      \"standard\": {\"within\": \"3 rings\", \"time\": \"wall\"},\n"
    "      \"warn_at\": [\"1 ring left\"],\n"
    "      \"charge_to\": \"team\",\n"
    "      \"on_cancel\": {\"excluded_if_within\": \"5s\", \"else\": \"breached\"}\n"
    "    },\n"
    "    {\n"
    "      \"key\": \"ring_at_agent\",\n"
    "      \"title\": {\"en\": \"Pick up a call ringing at you within 3 rings\", \"zh\": "
    "\"振铃三声内摘机\"},\n"
    "      \"function\": \"answer_call\",\n"
    "      \"repeat\": {\"per\": \"data.agent\"},\n"
    "      \"starts_on\": {\"type\": \"call.ringing\"},\n"
    "      \"done_on\": {\"type\": \"call.answered\", \"per\": \"actor\"},\n"
    "      \"cancels_on\": [\n"
    "        {\"type\": \"call.ring_ended\", \"per\": \"data.agent\"},\n"
    "        {\"type\": [\"call.answered\", \"call.abandoned\", \"call.ended\"]}\n"
    "      ],\n"
    "      \"standard\": {\"within\": \"3 rings\", \"time\": \"wall\"},\n"
    "      \"warn_at\": [],\n"
    "      \"charge_to\": \"per\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *
engine_default_hotline_json(void)
{
    return hotline_json;
}

static const char email_json[] =
    "{\n"
    "  \"name\": \"Customer email\",\n"
    "  \"version\": 1,\n"
    "  \"calendar\": \"default\",\n"
    "  \"description\": \"Every email a customer sends is replied to within 24 hours; a reply "
    "answers all the customer's emails waiting in the thread.\",\n"
    "  \"trigger\": {\"type\": \"email.received\"},\n"
    "  \"steps\": [\n"
    "    {\n"
    "      \"key\": \"reply\",\n"
    "      \"title\": {\"en\": \"Reply to every customer email within 24 hours\", \"zh\": "
    "\"客户来信24小时内回复\"},\n"
    "      \"function\": \"reply\",\n"
    "      \"repeat\": true,\n"
    "      \"starts_on\": {\"type\": \"email.received\"},\n"
    "      \"done_on\": {\"type\": \"email.sent\"},\n"
    "      \"standard\": {\"within\": \"24h\", \"time\": \"wall\"},\n"
    "      \"warn_at\": [0.5, 0.75, 0.9],\n"
    "      \"charge_to\": \"actor\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *
engine_default_email_json(void)
{
    return email_json;
}

static const char counter_json[] =
    "{\n"
    "  \"name\": \"Counter reception\",\n"
    "  \"version\": 1,\n"
    "  \"calendar\": \"default\",\n"
    "  \"description\": \"A visitor arriving at the counter is greeted within 5 seconds by the "
    "staff on duty.\",\n"
    "  \"trigger\": {\"type\": \"visit.arrived\"},\n"
    "  \"ownership\": [\n"
    "    {\"on\": {\"type\": \"visit.arrived\"}, \"actor\": \"data.staff\", \"team\": "
    "\"data.desk\"}\n"
    "  ],\n"
    "  \"steps\": [\n"
    "    {\n"
    "      \"key\": \"greet\",\n"
    "      \"title\": {\"en\": \"React within 5 seconds\", \"zh\": \"5秒内响应\"},\n"
    "      \"function\": \"greet\",\n"
    "      \"done_on\": {\"type\": \"visit.greeted\"},\n"
    "      \"cancels_on\": {\"type\": \"visit.left\"},\n"
    "      \"standard\": {\"within\": \"5s\", \"time\": \"wall\"},\n"
    "      \"warn_at\": [\"2s left\"],\n"
    "      \"charge_to\": \"actor\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *
engine_default_counter_json(void)
{
    return counter_json;
}

static const char complaint_json[] =
    "{\n"
    "  \"name\": \"Complaint handling\",\n"
    "  \"version\": 1,\n"
    "  \"calendar\": \"default\",\n"
    "  \"description\": \"A complaint is assigned within 30 business minutes, first answered "
    "within 24 hours, resolved within 3 business days (not counting the time it waits on the "
    "customer), and the customer is called back within 48 hours of the resolution.\",\n"
    "  \"trigger\": {\"type\": \"case.opened\", \"where\": {\"data.type\": \"complaint\"}},\n"
    "  \"ownership\": [\n"
    "    {\"on\": {\"type\": \"case.assigned\"}, \"actor\": \"data.assignee\", \"team\": "
    "\"data.team\"}\n"
    "  ],\n"
    "  \"steps\": [\n"
    "    {\n"
    "      \"key\": \"assign\",\n"
    "      \"title\": {\"en\": \"Assign within 30 minutes\", \"zh\": \"30分钟内分派\"},\n"
    "      \"function\": \"assign\",\n"
    "      \"done_on\": {\"type\": \"case.assigned\", \"where\": {\"data.assignee\": {\"exists\": "
    "true}}},\n"
    "      \"cancels_on\": {\"type\": [\"case.resolved\", \"case.closed\"]},\n"
    "      \"standard\": {\"within\": \"30m\", \"time\": \"business\"},\n"
    "      \"charge_to\": \"team\",\n"
    "      \"escalate\": [\n"
    "        {\"on\": \"warning\", \"do\": \"notify_supervisor\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_supervisor\"},\n"
    "        {\"on\": \"breach\", \"do\": \"raise_priority\"}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"key\": \"first_reply\",\n"
    "      \"title\": {\"en\": \"First reply within 24 hours\", \"zh\": \"24小时内首次答复\"},\n"
    "      \"function\": \"reply\",\n"
    "      \"done_on\": {\"type\": \"case.replied\", \"where\": {\"data.by\": \"staff\"}},\n"
    "      \"cancels_on\": {\"type\": \"case.closed\"},\n"
    "      \"standard\": {\"within\": \"24h\", \"time\": \"wall\"},\n"
    "      \"warn_at\": [0.5, 0.8],\n"
    "      \"charge_to\": \"actor\",\n"
    "      \"escalate\": [\n"
    "        {\"on\": \"warning\", \"do\": \"notify_assignee\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_assignee\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_supervisor\"},\n"
    "        {\"on\": \"breach\", \"do\": \"raise_priority\"}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"key\": \"resolve\",\n"
    "      \"title\": {\"en\": \"Resolve within 3 business days\", \"zh\": \"3个工作日内解决\"},\n"
    "      \"function\": \"resolve\",\n"
    "      \"done_on\": {\"type\": \"case.resolved\"},\n"
    "      \"pauses_on\": {\"type\": \"case.pending\"},\n"
    "      \"resumes_on\": [\n"
    "        {\"type\": \"case.replied\", \"where\": {\"data.by\": \"customer\"}},\n"
    "        {\"type\": [\"case.reopened\", \"case.assigned\"]}\n"
    "      ],\n"
    "      \"cancels_on\": {\"type\": \"case.closed\"},\n"
    "      \"standard\": {\"within\": \"3 business days\"},\n"
    "      \"warn_at\": [0.5, 0.8],\n"
    "      \"charge_to\": \"segments\",\n"
    "      \"escalate\": [\n"
    "        {\"on\": \"warning\", \"do\": \"notify_assignee\"},\n"
    "        {\"on\": \"warning\", \"at\": 1, \"do\": \"notify_supervisor\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_assignee\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_supervisor\"},\n"
    "        {\"on\": \"breach\", \"do\": \"raise_priority\"}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"key\": \"callback\",\n"
    "      \"title\": {\"en\": \"Satisfaction call-back within 48 hours of resolution\", \"zh\": "
    "\"解决后48小时内回访\"},\n"
    "      \"function\": \"call_back\",\n"
    "      \"starts_on\": {\"step_done\": \"resolve\"},\n"
    "      \"done_on\": {\"type\": \"survey.answered\"},\n"
    "      \"cancels_on\": {\"type\": \"case.reopened\"},\n"
    "      \"standard\": {\"within\": \"48h\", \"time\": \"wall\"},\n"
    "      \"charge_to\": \"actor\",\n"
    "      \"escalate\": [\n"
    "        {\"on\": \"warning\", \"do\": \"notify_assignee\"},\n"
    "        {\"on\": \"breach\", \"do\": \"notify_supervisor\"}\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *
engine_default_complaint_json(void)
{
    return complaint_json;
}
