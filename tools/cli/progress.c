/* Progress line: see progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p, int total, int skipped)
{
    *p = (cli_progress){.on = total - skipped > 1 && isatty(STDERR_FILENO), .total = total, .skipped = skipped};
    p->t0 = p->last = now_s();
}

static void format_duration(double s, char *out, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, n, "%lds", t);
}

void cli_progress_update(cli_progress *p, int done, const char *name)
{
    if (!p->on)
        return;
    double t = now_s();
    if (done < p->total && t - p->last < 0.1 && p->shown)
        return;
    p->last = t;
    int ran = done - p->skipped;
    double rate = ran > 0 && t > p->t0 ? ran / (t - p->t0) : 0.0;
    char eta[32] = "?";
    if (rate > 0)
        format_duration((p->total - done) / rate, eta, sizeof eta);
    fprintf(stderr, "\r[%d/%d] %.1f images/s, ETA %s  %s\033[K", done, p->total, rate, eta, name ? name : "");
    if (done == p->total)
        fputc('\n', stderr);
    fflush(stderr);
    p->shown = done < p->total;
}

void cli_progress_clear(cli_progress *p)
{
    if (p->on && p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = false;
    }
}
