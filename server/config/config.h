/* config.h - the daemon's settings: one table describes every option (name, type, range,
 * default, help), and the command line, the NCLREC_* environment, --help and the start-up log
 * line are all driven by it, so they cannot disagree.
 *
 * Precedence: built-in default < caller default (cmd_run's embedded profile) < environment
 * (NCLREC_LISTEN, NCLREC_DATA_DIR, ...) < command line (--listen, --data-dir or --data_dir,
 * "--name value" or "--name=value"). Training hyper-parameters from core/hparams.h are accepted
 * the same way (--epochs 40, NCLREC_EPOCHS=40). Anything unknown or out of range is refused
 * with a message naming the setting, where it came from, and the value.
 *
 * Ownership: srv_config is a plain value (fixed-size strings, no pointers): copy it freely.
 * Threading: none of its own; cfg_* functions work on the caller's srv_config only. */
#ifndef NCLREC_CONFIG_H
#define NCLREC_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common.h"
#include "feedback.h"
#include "hparams.h"

#define CFG_STR_MAX 512

/* What the process does in a deployment of several (server/replica/feed.h, server/replica/replica.h):
 * standalone serves, ingests and retrains alone; a primary does the same and also serves the
 * feeds replicas follow; a replica serves reads only, from the primary's models and
 * changefeed. */
typedef enum { SRV_ROLE_STANDALONE = 0, SRV_ROLE_PRIMARY, SRV_ROLE_REPLICA } srv_role;

typedef struct srv_config {
    /* network */
    char listen[CFG_STR_MAX];   /* HOST:PORT or [V6]:PORT; port 0 = any free port */
    char host[CFG_STR_MAX];     /* derived from listen by cfg_validate */
    int port;                   /* derived from listen */
    int http_threads;           /* 0 = one per core */
    int max_connections;
    int conn_timeout;           /* seconds a connection may sit idle or trickle */
    int header_timeout;         /* seconds to send a request's headers (slowloris cut-off) */
    int64_t max_body;           /* bytes */
    int64_t max_header;         /* bytes of request line + headers per connection */
    /* security */
    char api_key[CFG_STR_MAX];      /* secret: never logged */
    char api_key_file[CFG_STR_MAX]; /* read at start when set (preferred over a flag) */
    int auth_reads;                 /* 1 = reads also need the key */
    /* API limits */
    int k_default, k_max;
    int batch_max;                  /* interactions per POST */
    int max_exclude;                /* ids in exclude= */
    int64_t idempotency_window;     /* seconds an Idempotency-Key is remembered */
    /* feedback types (core/feedback.h) */
    char feedback_types[CFG_STR_MAX]; /* "view=1,click=1,purchase=3" */
    char exclude_types[CFG_STR_MAX];  /* "purchase,...": /recommend excludes the items a user has
                                       through these types; empty = every type */
    nc_feedback_types ft;           /* derived from feedback_types; always holds "view" */
    /* storage and model */
    char data_dir[CFG_STR_MAX];
    char sync[16];                  /* "full" | "normal" */
    int keep_checkpoints;
    char foldin[16];                /* "ials" | "mean" */
    double foldin_reg;              /* ridge lambda for ials fold-in */
    double foldin_alpha;            /* confidence of the user's items for ials fold-in */
    int popular_n;                  /* size of the popularity fallback list */
    int rec_cache_mb;               /* MiB per model of known users' ranked candidates; 0 = off */
    /* retraining */
    double retrain_interval;        /* seconds between checks; 0 = only on request */
    int64_t retrain_min_new;        /* new interactions needed for a timed retrain */
    int retrain_threads;            /* 0 = all cores but one */
    int retrain_nice;               /* added niceness of the training thread */
    double retrain_margin;          /* allowed drop of held-out Recall@20, absolute */
    int retrain_on_start;           /* train at start when there is data but no checkpoint */
    double eval_fraction;           /* share of each user's rows held out (valid + test) */
    /* embedded default */
    int seed_synthetic;             /* seed an empty store with generated data */
    int64_t synth_users, synth_items;
    double synth_per_user;
    int64_t synth_seed;
    /* scale-out (server/replica/feed.h, server/replica/replica.h) */
    char role[16];                  /* "standalone" | "primary" | "replica" */
    srv_role role_id;               /* derived from role by cfg_validate */
    char primary[CFG_STR_MAX];      /* replica: base URL of the primary, http://HOST:PORT */
    double replica_poll;            /* replica: seconds between polls of the primary's feeds */
    double replica_timeout;         /* replica: seconds of silence before a poll fails */
    int replica_page;               /* replica: changefeed events asked for per request */
    /* process */
    double shutdown_deadline;       /* seconds from SIGTERM to exit */
    char log_level[16];
    int access_log;
    nc_hparams hp;                  /* training hyper-parameters */
} srv_config;

/* Fills c with the built-in defaults (the `serve` profile). */
void cfg_defaults(srv_config *c);

/* Applies "name=value" as a default before the environment and flags are read (used by
 * cmd_run for its embedded profile). Errors name the setting. */
int cfg_set_default(srv_config *c, const char *name, const char *value, nc_err *e);

/* Applies the environment then argv (argv[0] is the subcommand and is skipped), then
 * validates. *help is set to 1 (and nothing else is done) when --help/-h is given.
 * Returns NC_OK or NC_EINVAL with a message naming the setting and the value. */
int cfg_load(srv_config *c, int argc, char **argv, int *help, nc_err *e);

/* Checks ranges and cross-field rules, derives host/port, reads api_key_file. */
int cfg_validate(srv_config *c, nc_err *e);

/* Parses a --feedback-types value into *ft with "view" in it (added with weight 1 when the
 * spec does not name it: "view" is the type of an event that names none). Errors name the
 * setting and the entry. */
int cfg_parse_types(const char *spec, nc_feedback_types *ft, nc_err *e);

/* Prints usage with every option, its environment name, default and help. */
void cfg_print_help(FILE *f, const char *cmd, const srv_config *defaults);

/* Every training hyper-parameter with its exact value, as a new JSON object (caller owns it):
 * floats as numbers, integers as integers, the 64-bit seed as an integer or, beyond JSON's
 * int64 range, a decimal string. */
json_t *cfg_hparams_json(const nc_hparams *hp);

/* The effective configuration as a new JSON object, with the API key replaced by whether
 * one is set. Caller owns the reference. */
json_t *cfg_to_json(const srv_config *c);

#endif
