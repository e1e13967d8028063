/* NumPy .npy files: read (format versions 1.0, 2.0, 3.0) and write (1.0, byte-identical to
 * numpy.save of a C-order array). Little-endian, C order, dtypes:
 *   |u1 |i1 <i2 <i4 <i8 <f2 <f4 <f8 |b1
 * Functions that can fail return 0 on success, non-zero with a message in err.
 */
#ifndef DETC_NPY_H
#define DETC_NPY_H

#include <stddef.h>
#include <stdint.h>

#define DETC_NPY_MAX_RANK 8
/* Longest header accepted when reading (the dict text, not counting the preamble). */
#define DETC_NPY_MAX_HEADER 65536

typedef struct {
    char descr[8];   /* canonical dtype string, e.g. "<f4", "|u1" */
    int rank;        /* 0..8 */
    int64_t shape[DETC_NPY_MAX_RANK];
    size_t nbytes;   /* product(shape) * itemsize */
    void *data;      /* owned; never NULL after a successful read, even when nbytes is 0 */
} detc_npy;

int detc_npy_read(const char *path, detc_npy *out, char *err, size_t err_len);
/* The same from a buffer (copies the data); name is for messages only and may be NULL. */
int detc_npy_read_memory(const uint8_t *bytes, size_t len, const char *name, detc_npy *out, char *err,
                         size_t err_len);
void detc_npy_free(detc_npy *a);

/* Bytes per element of a supported dtype, 0 otherwise. Accepts numpy's equivalent spellings
 * ("<u1" for "|u1"); big-endian is not supported. */
size_t detc_npy_itemsize(const char *descr);

/* data holds product(shape) elements of descr, C order, little-endian. */
int detc_npy_write(const char *path, const char *descr, int rank, const int64_t *shape, const void *data,
                   char *err, size_t err_len);

/* Dump-file name for a tensor: every byte outside [A-Za-z0-9._-] becomes '_', then ".npy" is
 * appended. A name too long for out_len is cut before the ".npy". */
void detc_npy_filename(const char *tensor_name, char *out, size_t out_len);

#endif
