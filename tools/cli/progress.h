/* A progress line on stderr for long batches: done/total, images per second, time left. Only on a
 * terminal: a redirected stderr gets messages, never carriage returns. */
#ifndef DETC_CLI_PROGRESS_H
#define DETC_CLI_PROGRESS_H

#include <stdbool.h>

typedef struct {
    bool on;
    int total, skipped;
    double t0, last;
    bool shown; /* a line is on screen */
} cli_progress;

void cli_progress_start(cli_progress *p, int total, int skipped);
/* After image `done` (1-based, skipped ones included) finished; redraws at most 10 times a second. */
void cli_progress_update(cli_progress *p, int done, const char *name);
/* Erases the line, before a message is printed (the next update draws it again). */
void cli_progress_clear(cli_progress *p);

#endif
