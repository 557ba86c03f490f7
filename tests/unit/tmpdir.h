/* A scratch directory for unit tests that need files (SQLite databases): made under $TMPDIR
 * (or /tmp) from a name prefix, removed with its files at the end. */
#ifndef OA_TEST_TMPDIR_H
#define OA_TEST_TMPDIR_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fills dir (n bytes) with a new directory's path; 0, or -1 after printing why. */
__attribute__((unused)) static int tmpdir_make(char *dir, size_t n, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/%s-XXXXXX", t && *t ? t : "/tmp", prefix);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes the files in dir (no subdirectories are made), then dir. */
__attribute__((unused)) static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

#endif
