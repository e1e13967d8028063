/* Shared pieces of the detc command-line tool: a thin user of the public API in detc.h. */
#ifndef DETC_CLI_H
#define DETC_CLI_H

#include <stdbool.h>

#include "detc.h"

/* Exit codes, documented in README.md. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,   /* model invalid, input refused, computation failed */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_MISMATCH = 3  /* detc compare: outside tolerance */
};

int cmd_detect(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* Prints every error to stderr as "detc: MESSAGE", and a count when there are several. */
void cli_print_errors(const detc_errors *errs);
/* Loads a model; prints all problems and returns NULL when it is invalid. verify: check the data
 * checksum (detc_options.verify). */
detc_model *cli_load_model(const char *path, int threads, bool profile, bool verify);
/* Option parsing helpers: each prints a usage error and returns false on a bad value. */
bool cli_parse_int(const char *cmd, const char *opt, const char *val, int min, int max, int *out);
bool cli_parse_float(const char *cmd, const char *opt, const char *val, float min, float max, float *out);
/* Fetches the value of an option that takes one ("--threads 2" or "--threads=2"). */
bool cli_option_value(int argc, char **argv, int *i, const char *name, const char **val);
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
