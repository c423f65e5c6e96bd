/* Write-to-temporary-then-rename, shared by every writer of whole files. */
#include "common/gc_file.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gc.h"

int gc_file_create(const char *path, char **tmp, FILE **f)
{
    *f = NULL;
    *tmp = malloc(strlen(path) + 5);
    if (!*tmp)
        return -ENOMEM;
    sprintf(*tmp, "%s.tmp", path);
    *f = fopen(*tmp, "wb");
    if (!*f) {
        int e = -errno;
        gc_log(GC_LOG_ERROR, "%s: cannot create: %s", *tmp, gc_strerror(e));
        free(*tmp);
        *tmp = NULL;
        return e;
    }
    return 0;
}

int gc_file_commit(const char *path, char **tmp, FILE **f, int ok)
{
    int ret = 0;
    ok = (fclose(*f) == 0) && ok; /* buffered data may only fail to reach the disk here */
    *f = NULL;
    if (!ok || rename(*tmp, path) != 0) {
        gc_log(GC_LOG_ERROR, "%s: write failed", path);
        unlink(*tmp);
        ret = -EIO;
    }
    free(*tmp);
    *tmp = NULL;
    return ret;
}

int gc_file_same(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
