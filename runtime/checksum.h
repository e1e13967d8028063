/* The optional checksum of a .detc file's data section (weights/FORMAT.md, "data_crc32"): CRC-32 as zlib
 * computes it (polynomial 0xEDB88320, reflected, initial and final XOR 0xFFFFFFFF), so the converter gets
 * it from Python's zlib.crc32. It catches every single-bit flip and every burst up to 32 bits. */
#ifndef DETC_CHECKSUM_H
#define DETC_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Continues a CRC-32 (start with 0) over len more bytes. */
uint32_t detc_crc32(uint32_t crc, const void *data, size_t len);

/* Reads the header's "data_crc32" (absent: files from older converters, accepted) and, when
 * m->opts.verify is set, checks it against the data section. Sets m->checksum; reports and returns -1
 * for a malformed field or a mismatch. */
int detc_data_checksum_check(detc_model *m, const char *file, detc_errors *errs);

#endif
