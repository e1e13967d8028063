/* Safe output (temporary file + rename) and input (regular files only): see file_io.h. */
#define _XOPEN_SOURCE 700
#include "file_io.h"
#include "pixels.h" /* detc_set_err */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The file a write to `path` really replaces: a symlink's target (renaming over the link would turn it
 * into a plain file), else the path itself. Returns a malloc'd string, NULL when out of memory. */
static char *resolve_target(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (real)
            return real;
    }
    return strdup(path);
}

/* 0 when the target is absent or a regular file; else a message. *mode receives its permissions. */
static int check_target(const char *display, const char *target, mode_t *mode, char *err, size_t err_len)
{
    struct stat st;
    *mode = 0;
    if (stat(target, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        detc_set_err(err, err_len, "%s: cannot write: %s", display, strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) {
        detc_set_err(err, err_len, "%s: cannot write: it is %s, not a regular file (detc writes only regular files)",
                display, S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" :
                S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file");
        return 1;
    }
    *mode = st.st_mode & 07777;
    return 0;
}

void detc_atomic_abort(detc_atomic_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (f->temp)
        unlink(f->temp);
    free(f->temp);
    free(f->target);
    f->fd = -1;
    f->temp = f->target = NULL;
}

int detc_atomic_begin(detc_atomic_file *f, const char *path, char *err, size_t err_len)
{
    static atomic_uint counter;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->display = path ? path : "(null)";
    if (!path || !*path) {
        detc_set_err(err, err_len, "output: no file name given");
        return 1;
    }
    f->target = resolve_target(path);
    if (!f->target) {
        detc_set_err(err, err_len, "%s: out of memory", path);
        return 1;
    }
    mode_t mode;
    if (check_target(path, f->target, &mode, err, err_len)) {
        detc_atomic_abort(f);
        return 1;
    }
    /* ".NAME.tmp-PID-N" in the target's directory: same filesystem (rename is atomic), hidden from
     * directory scans such as `detc detect DIR`. */
    const char *slash = strrchr(f->target, '/');
    size_t dir_len = slash ? (size_t)(slash - f->target) + 1 : 0;
    const char *base = f->target + dir_len;
    size_t n = strlen(f->target) + 64;
    f->temp = malloc(n);
    if (!f->temp) {
        detc_set_err(err, err_len, "%s: out of memory", path);
        detc_atomic_abort(f);
        return 1;
    }
    int e = 0;
    for (int tries = 0; tries < 100; tries++) {
        unsigned k = atomic_fetch_add(&counter, 1u) ^ (unsigned)(clock() & 0xffff);
        snprintf(f->temp, n, "%.*s.%s.tmp-%ld-%u", (int)dir_len, f->target, base, (long)getpid(), k);
        f->fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : 0666);
        if (f->fd >= 0 || (e = errno) != EEXIST)
            break;
    }
    if (f->fd < 0) {
        detc_set_err(err, err_len, "%s: cannot write: cannot create a file in %s%.*s: %s", path, dir_len ? "" : ".",
                (int)dir_len, f->target, strerror(e));
        free(f->temp); /* nothing was created: do not unlink someone else's file */
        f->temp = NULL;
        detc_atomic_abort(f);
        return 1;
    }
    if (mode)
        (void)fchmod(f->fd, mode); /* open's mode went through the umask; an existing file keeps its own */
    return 0;
}

void detc_atomic_write(detc_atomic_file *f, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0 && f->fd >= 0 && !f->error) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->error = w < 0 ? errno : ENOSPC;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
}

int detc_atomic_commit(detc_atomic_file *f, char *err, size_t err_len)
{
    int e = f->fd < 0 ? EBADF : f->error;
    /* EINVAL: the filesystem cannot sync (some special ones); the data is written all the same */
    if (!e && fsync(f->fd) != 0 && errno != EINVAL)
        e = errno;
    if (f->fd >= 0 && close(f->fd) != 0 && !e)
        e = errno;
    f->fd = -1;
    if (!e && rename(f->temp, f->target) != 0)
        e = errno;
    if (e) {
        detc_set_err(err, err_len, "%s: cannot write: %s (the previous file, if any, is unchanged)", f->display,
                strerror(e));
        detc_atomic_abort(f);
        return 1;
    }
    free(f->temp);
    f->temp = NULL; /* renamed: nothing to remove */
    detc_atomic_abort(f);
    return 0;
}

int detc_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len)
{
    detc_atomic_file f;
    if (detc_atomic_begin(&f, path, err, err_len))
        return 1;
    detc_atomic_write(&f, data, len);
    return detc_atomic_commit(&f, err, err_len);
}

int detc_output_check(const char *path, char *err, size_t err_len)
{
    detc_atomic_file f;
    if (detc_atomic_begin(&f, path, err, err_len))
        return 1;
    detc_atomic_abort(&f); /* the probe showed the directory takes a new file */
    return 0;
}

/* ---------------------------------------------------------------- reading */

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO (named pipe)" : S_ISCHR(m) || S_ISBLK(m) ? "a device"
           : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int detc_open_regular(const char *path, uint64_t *size, char *err, size_t err_len)
{
    if (!path) {
        detc_set_err(err, err_len, "no path given");
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        detc_set_err(err, err_len, "%s: cannot open for reading: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        detc_set_err(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        detc_set_err(err, err_len, "%s: is %s; detc reads only regular files", path, kind_of(st.st_mode));
        close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (uint64_t)st.st_size;
    return fd;
}

int detc_read_regular_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len, char *err,
                           size_t err_len)
{
    *out = NULL;
    *len = 0;
    uint64_t size;
    int fd = detc_open_regular(path, &size, err, err_len);
    if (fd < 0)
        return 1;
    if (size > max_bytes) {
        detc_set_err(err, err_len, "%s: file is %llu bytes; at most %zu are accepted", path, (unsigned long long)size,
                max_bytes);
        close(fd);
        return 1;
    }
    /* One byte more than the size: a file that grows while read is noticed, not cut short silently. */
    size_t cap = (size_t)size + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        detc_set_err(err, err_len, "%s: out of memory for %zu bytes", path, cap);
        close(fd);
        return 1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            detc_set_err(err, err_len, "%s: read error: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return 1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            detc_set_err(err, err_len, "%s: the file grew while it was read", path);
            free(buf);
            close(fd);
            return 1;
        }
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}
