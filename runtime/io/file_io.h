/* File I/O that fails safely.
 *
 * Input: only regular files are read. A FIFO would block forever and a device such as /dev/zero never
 * ends, so both are refused before a byte is read, and a file's size is checked before it is read.
 *
 * Output: files are written whole or not at all. The bytes go to a temporary file beside the target, which is
 * renamed over it only once everything was written and flushed. A failure (full disk, I/O error, a
 * signal) leaves the previous target untouched and removes the temporary file.
 *
 * Every function that can fail returns 0 on success and non-zero on failure, with a message in err
 * that names the target file and the system's reason ("No space left on device"). */
#ifndef DETC_FILE_IO_H
#define DETC_FILE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;              /* the temporary file, -1 when closed */
    int error;           /* first errno seen by detc_atomic_write, 0 if none */
    char *target;        /* where the file goes (symlinks resolved) */
    char *temp;          /* the temporary file's path */
    const char *display; /* the path as given, for messages */
} detc_atomic_file;

/* Checks, without writing the target, that `path` can be written: its directory exists and accepts a
 * new file (a probe file is created and removed), and the target is absent or a regular file (devices,
 * FIFOs and directories are refused: renaming over them would replace them). Meant for the command line
 * to refuse a bad output before any work. */
int detc_output_check(const char *path, char *err, size_t err_len);

/* Creates the temporary file (same permissions as an existing target, else 0666 minus the umask). */
int detc_atomic_begin(detc_atomic_file *f, const char *path, char *err, size_t err_len);
/* Appends bytes; errors are remembered and reported by detc_atomic_commit. */
void detc_atomic_write(detc_atomic_file *f, const void *data, size_t len);
/* Flushes to disk and renames over the target; on any failure removes the temporary file and leaves the
 * target as it was. Always releases f. */
int detc_atomic_commit(detc_atomic_file *f, char *err, size_t err_len);
/* Removes the temporary file and releases f (the target is untouched). */
void detc_atomic_abort(detc_atomic_file *f);

/* begin + one write + commit. */
int detc_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len);

/* Opens path for reading (close-on-exec) if it is a regular file; returns the descriptor and its size in
 * *size, or -1 with a message naming the file and the reason. Never blocks on a FIFO. */
int detc_open_regular(const char *path, uint64_t *size, char *err, size_t err_len);

/* Reads a whole regular file of at most max_bytes into a malloc'd buffer (*out, *len; free it). */
int detc_read_regular_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len, char *err,
                           size_t err_len);

#endif
