/* Writing a file so that no half-written one is ever left under its name:
 * the data goes to "path.tmp", renamed to path only once it is complete.
 *
 *   char *tmp; FILE *f;
 *   int r = gc_file_create(path, &tmp, &f);          // opens path.tmp; logs why not
 *   if (r < 0) return r;
 *   int ok = fwrite(buf, 1, n, f) == n;
 *   return gc_file_commit(path, &tmp, &f, ok);       // renames if ok, else removes path.tmp
 *
 * gc_file_commit always closes f and frees tmp (both set to NULL).
 */
#ifndef GC_FILE_H
#define GC_FILE_H

#include <stdio.h>

/* 0, or -ENOMEM / -errno of fopen (logged, naming path.tmp); on error *tmp and *f are NULL. */
int gc_file_create(const char *path, char **tmp, FILE **f);
/* 0, or -EIO (logged, naming path) when !ok, fclose fails or the rename fails. */
int gc_file_commit(const char *path, char **tmp, FILE **f, int ok);
/* 1 if a and b name the same existing file (through links or other spellings), else 0: the
 * commands refuse an output that would replace the file they read, as ffmpeg does. */
int gc_file_same(const char *a, const char *b);

#endif
