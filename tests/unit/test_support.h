/* test_support.h — helpers for unit tests that work on files: a temporary
 * directory removed with everything in it, and writing a whole file (plain or
 * gzip) in one call that fails the test on any error.
 *
 * Header-only: each unit test is one program built from one .c file, so the
 * helpers are static inline (no warning where one is unused). Include it after
 * <cmocka.h>. */
#ifndef BUZZRADAR_TEST_SUPPORT_H
#define BUZZRADAR_TEST_SUPPORT_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

/* Creates a new directory "/tmp/<prefix>.XXXXXX" and writes its path into dir (cap
 * bytes). Returns 0, or -1 when the path does not fit or mkdtemp fails (errno says
 * why): setup functions return it as their status. */
static inline int test_tmpdir_make(char *dir, size_t cap, const char *prefix) {
    int n = snprintf(dir, cap, "/tmp/%s.XXXXXX", prefix);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static inline int test_tmpdir_remove_entry(const char *path, const struct stat *sb, int flag,
                                           struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it, without following symbolic links. Returns
 * 0, or -1 when something could not be removed. */
static inline int test_tmpdir_remove(const char *dir) {
    return nftw(dir, test_tmpdir_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes len bytes of data to path (replacing the file), gzip-compressed when gz is
 * not 0. Fails the running test when the file cannot be written. */
static inline void test_write_file(const char *path, const void *data, size_t len, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        if (len) assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        if (len) assert_int_equal(fwrite(data, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
    }
}

#endif
