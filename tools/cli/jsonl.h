/* `detc detect --jsonl FILE`: one JSON object per image, one line each, appended as each image finishes,
 * so a killed run keeps every finished image. Several processes may append to one file: each record is
 * one write() under an exclusive lock (flock), so records never interleave, and a record that could not
 * be written whole (full disk) is cut off again before the lock is released. */
#ifndef DETC_CLI_JSONL_H
#define DETC_CLI_JSONL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int fd;
    const char *path;
    char **done; /* with resume: the "file" of every record already there, sorted */
    int n_done;
    int n_bad;   /* lines that are not a record (a cut-off last line), ignored */
} cli_jsonl;

/* Opens (creates) FILE for appending; with resume, reads the records already there. */
int cli_jsonl_open(cli_jsonl *j, const char *path, bool resume, char *err, size_t err_len);
/* Whether an image (its path as given) already has a record (resume). */
bool cli_jsonl_has(const cli_jsonl *j, const char *file);
/* Appends one record (a JSON text without newline). */
int cli_jsonl_append(cli_jsonl *j, const char *record, char *err, size_t err_len);
void cli_jsonl_close(cli_jsonl *j);

#endif
