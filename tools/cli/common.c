#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_print_errors(const detc_errors *errs)
{
    for (int i = 0; i < errs->count; i++)
        fprintf(stderr, "detc: %s\n", errs->items[i].message);
    if (errs->dropped)
        fprintf(stderr, "detc: ... and %d more problems not shown\n", errs->dropped);
    if (errs->count > 1)
        fprintf(stderr, "detc: %d problems\n", errs->count + errs->dropped);
}

detc_model *cli_load_model(const char *path, int threads, bool profile, bool verify)
{
    detc_errors errs;
    detc_errors_init(&errs);
    detc_options opts = {.threads = threads, .profile = profile, .verify = verify};
    detc_model *m = detc_model_load(path, &opts, &errs);
    if (!m)
        cli_print_errors(&errs);
    detc_errors_free(&errs);
    return m;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "detc %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'detc %s --help')\n", cmd);
    return EXIT_USAGE;
}

bool cli_parse_int(const char *cmd, const char *opt, const char *val, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < min || v > max) {
        cli_usage_error(cmd, "%s needs an integer in %d..%d, got '%s'", opt, min, max, val);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cli_parse_float(const char *cmd, const char *opt, const char *val, float min, float max, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(val, &end);
    if (errno || end == val || *end || !isfinite(v) || v < min || v > max) {
        cli_usage_error(cmd, "%s needs a number in %g..%g, got '%s'", opt, min, max, val);
        return false;
    }
    *out = v;
    return true;
}

bool cli_option_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        *val = NULL; /* caller reports the missing value */
        return true;
    }
    *val = argv[++*i];
    return true;
}
