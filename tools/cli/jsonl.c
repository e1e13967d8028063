/* JSON Lines output: see jsonl.h. */
#define _DEFAULT_SOURCE /* flock */
#include "jsonl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_io.h"

#define MAX_JSONL_BYTES ((size_t)1 << 31)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the "file" of every complete record in buf. */
static int read_records(cli_jsonl *j, char *buf, size_t len)
{
    int cap = 0;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        buf[end] = '\0';
        cJSON *rec = end > pos ? cJSON_ParseWithLength(buf + pos, end - pos) : NULL;
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(rec, "file");
        if (cJSON_IsString(file)) {
            if (j->n_done == cap) {
                cap = cap ? cap * 2 : 64;
                char **d = realloc(j->done, (size_t)cap * sizeof *d);
                if (!d) {
                    cJSON_Delete(rec);
                    return -1;
                }
                j->done = d;
            }
            if (!(j->done[j->n_done] = strdup(file->valuestring))) {
                cJSON_Delete(rec);
                return -1;
            }
            j->n_done++;
        } else if (end > pos) {
            j->n_bad++;
        }
        cJSON_Delete(rec);
        pos = end + 1;
    }
    if (j->n_done)
        qsort(j->done, (size_t)j->n_done, sizeof *j->done, cmp_str);
    return 0;
}

int cli_jsonl_open(cli_jsonl *j, const char *path, bool resume, char *err, size_t err_len)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    /* O_NONBLOCK: a FIFO must not block the open; it is refused below */
    /* read-write: appending checks the last byte (pread) */
    j->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        snprintf(err, err_len, "%s: cannot open for appending: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: --jsonl needs a regular file", path);
        cli_jsonl_close(j);
        return -1;
    }
    int flags = fcntl(j->fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(j->fd, F_SETFL, flags & ~O_NONBLOCK);
    if (!resume || st.st_size == 0)
        return 0;
    uint8_t *buf;
    size_t len;
    if (detc_read_regular_file(path, MAX_JSONL_BYTES, &buf, &len, err, err_len) != 0) {
        cli_jsonl_close(j);
        return -1;
    }
    int rc = read_records(j, (char *)buf, len);
    free(buf);
    if (rc) {
        snprintf(err, err_len, "%s: out of memory reading the records", path);
        cli_jsonl_close(j);
        return -1;
    }
    return 0;
}

bool cli_jsonl_has(const cli_jsonl *j, const char *file)
{
    return j->n_done && bsearch(&file, j->done, (size_t)j->n_done, sizeof *j->done, cmp_str) != NULL;
}

int cli_jsonl_append(cli_jsonl *j, const char *record, char *err, size_t err_len)
{
    size_t n = strlen(record);
    char *line = malloc(n + 2);
    if (!line) {
        snprintf(err, err_len, "%s: out of memory", j->path);
        return -1;
    }
    int e = 0;
    while (flock(j->fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            e = errno;
            break;
        }
    struct stat st;
    if (!e && fstat(j->fd, &st) != 0)
        e = errno;
    /* a line cut off by an earlier crash or full disk: start the record on a line of its own */
    size_t at = 0;
    char last = '\n';
    if (!e && st.st_size > 0 && pread(j->fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
        line[at++] = '\n';
    memcpy(line + at, record, n);
    line[at + n] = '\n';
    size_t total = at + n + 1;
    if (!e) {
        ssize_t w;
        do
            w = write(j->fd, line, total); /* one write: O_APPEND places it whole at the end */
        while (w < 0 && errno == EINTR);
        if (w < 0 || (size_t)w != total) {
            e = w < 0 ? errno : ENOSPC;
            if (w > 0 && ftruncate(j->fd, st.st_size) != 0) /* no half record left behind */
                e = errno;
        }
    }
    flock(j->fd, LOCK_UN);
    free(line);
    if (e) {
        snprintf(err, err_len, "%s: cannot append a record: %s", j->path, strerror(e));
        return -1;
    }
    return 0;
}

void cli_jsonl_close(cli_jsonl *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    for (int i = 0; i < j->n_done; i++)
        free(j->done[i]);
    free(j->done);
    j->done = NULL;
    j->n_done = 0;
}
