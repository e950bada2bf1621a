/*
 * demo.h — shared between the demo generator (demo.c) and its data tables (demo_names.c)
 * and nobody else: the shapes of the tables. The generator's public face is in cli.h
 * (cli_demo, cli_demo_fill).
 */
#ifndef SMILE_CLI_DEMO_H
#define SMILE_CLI_DEMO_H

#include <stdbool.h>

#include "base/base.h"

struct demo_weighted {
    const char *text;
    int weight;
};

struct demo_staff {
    const char *username;
    const char *display_name;
    int team;        /* index into demo_team_names */
    bool supervisor; /* the team's supervisor (role supervisor) */
    double speed;    /* multiplies every delay they cause: 0.5 excellent, 2 slow */
};

struct demo_project {
    const char *name;
    const char *code; /* contract number prefix */
    int buildings, floors, units_per_floor;
    int price_per_m2; /* yuan */
    int area_min, area_max;
    const char *delivery_date;
    bool delivered; /* handed over before the demo period (else: handover during it) */
};

extern const struct demo_weighted demo_surnames[];
extern const int demo_nsurnames;
extern const char *const demo_given_m[];
extern const int demo_ngiven_m;
extern const char *const demo_given_f[];
extern const int demo_ngiven_f;
extern const struct demo_staff demo_staff[];
extern const int demo_nstaff;
extern const char *const demo_team_names[3];
extern const char *const demo_team_display[3];
extern const struct demo_project demo_projects[2];
extern const char *const demo_complaints[];
extern const int demo_ncomplaints;
extern const char *const demo_repairs[];
extern const int demo_nrepairs;
extern const char *const demo_inquiries[];
extern const int demo_ninquiries;
extern const char *const demo_email_domains[];
extern const int demo_nemail_domains;

#endif
