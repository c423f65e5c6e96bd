/* NumPy .npy files of float32 (latents, test data), so Python users can open them.
 *
 *   int64_t shape[1] = {n};
 *   gc_npy_write_f32("z.npy", z, 1, shape);          // z.npy.tmp, then renamed
 *   float *d; int nd; int64_t sh[8];
 *   if (gc_npy_read_f32("z.npy", &d, &nd, sh) < 0) ...;   // logs why; free(d) after
 *
 * Reads format versions 1-3, little-endian float32 ('<f4') in C order only;
 * anything else is an error naming the file.
 */
#ifndef GC_NPY_H
#define GC_NPY_H

#include <stdint.h>

int gc_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape);
/* *data is malloc'd (the caller frees it); ndim <= 8. */
int gc_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[8]);

#endif
