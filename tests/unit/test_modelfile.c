/* test_modelfile.c — the model file container: round trip, half floats, and every
 * truncation and flipped byte rejected with an error instead of a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "model/modelfile.h"
#include "model/util.h"

static char dir[256];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bz-modelfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* Writes a small model with one tensor of each dtype to path. */
static void write_sample(const char *path) {
    ModelWriter *w = modelwriter_new("{\"kind\":\"test\",\"n\":3}");
    float f[6] = {1.5f, -2.25f, 0.0f, 3.0e-3f, 65504.0f, -1e-6f};
    int32_t i32[3] = {7, -8, 9};
    int64_t i64[2] = {1LL << 40, -5};
    uint8_t u8[5] = {'a', 0, 'b', 'c', 0};
    modelwriter_add(w, "w", MF_F32, 2, (int64_t[]){2, 3}, f);
    modelwriter_add(w, "w16", MF_F16, 1, (int64_t[]){6}, f);
    modelwriter_add(w, "ids", MF_I32, 1, (int64_t[]){3}, i32);
    modelwriter_add(w, "big", MF_I64, 1, (int64_t[]){2}, i64);
    modelwriter_add(w, "vocab", MF_U8, 1, (int64_t[]){5}, u8);
    char err[256];
    assert_int_equal(modelwriter_finish(w, path, err, sizeof err), 0);
}

static void round_trip(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/m.bin", dir);
    write_sample(path);
    ModelFile mf;
    assert_int_equal(modelfile_read(path, &mf, err, sizeof err), 0);
    assert_string_equal(mf.header_json, "{\"kind\":\"test\",\"n\":3}");
    assert_int_equal(mf.n_tensors, 5);
    const MfTensor *t = modelfile_find(&mf, "w");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->dims[0], 2);
    assert_int_equal(t->dims[1], 3);
    float f[6], h[6];
    assert_int_equal(modelfile_get_f32(&mf, "w", 6, f, err, sizeof err), 0);
    assert_true(f[0] == 1.5f && f[1] == -2.25f && f[4] == 65504.0f);
    assert_int_equal(modelfile_get_f32(&mf, "w16", 6, h, err, sizeof err), 0);
    for (int i = 0; i < 6; i++) assert_true(fabsf(h[i] - f[i]) <= 1e-3f * fabsf(f[i]) + 6e-8f);
    int32_t ids[3];
    assert_int_equal(modelfile_get_raw(&mf, "ids", MF_I32, 3, ids, err, sizeof err), 0);
    assert_int_equal(ids[1], -8);
    int64_t big[2];
    assert_int_equal(modelfile_get_raw(&mf, "big", MF_I64, 2, big, err, sizeof err), 0);
    assert_true(big[0] == (1LL << 40) && big[1] == -5);
    /* wrong expectations are errors with the tensor's name */
    assert_int_equal(modelfile_get_f32(&mf, "w", 5, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "'w'"));
    assert_int_equal(modelfile_get_f32(&mf, "nope", 1, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "lacks"));
    assert_int_equal(modelfile_get_raw(&mf, "ids", MF_I64, 3, big, err, sizeof err), -1);
    assert_null(modelfile_find(&mf, "missing"));
    modelfile_free(&mf);
}

static void half_floats_round_trip_exactly(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t x = (uint16_t)h;
        if ((x & 0x7c00u) == 0x7c00u && (x & 0x3ffu)) continue; /* NaN payloads */
        assert_int_equal(mf_f32_to_f16(mf_f16_to_f32(x)), x);
    }
    assert_true(mf_f16_to_f32(mf_f32_to_f16(1.0f / 3.0f)) - 1.0f / 3.0f < 2e-4f);
    assert_int_equal(mf_f32_to_f16(1e6f), 0x7c00);       /* overflow -> inf */
    assert_int_equal(mf_f32_to_f16(1e-9f), 0x0000);      /* underflow -> 0 */
    assert_int_equal(mf_f32_to_f16(5.9604645e-8f), 0x1); /* smallest subnormal */
}

static void every_truncation_and_flip_is_an_error(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/m2.bin", dir);
    write_sample(path);
    FILE *f = fopenCheck(path, "rb");
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fcloseCheck(f);
    assert_true(len > 100 && len < sizeof buf);
    ModelFile mf;
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(modelfile_parse(buf, cut, &mf, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    for (size_t pos = 0; pos < len; pos++) {
        buf[pos] ^= 0x10;
        assert_int_equal(modelfile_parse(buf, len, &mf, err, sizeof err), -1);
        buf[pos] ^= 0x10;
    }
    assert_int_equal(modelfile_parse(buf, len, &mf, err, sizeof err), 0);
    modelfile_free(&mf);
}

static void clear_errors_for_bad_files(void **state) {
    (void)state;
    char path[300], err[256];
    ModelFile mf;
    snprintf(path, sizeof path, "%s/absent.bin", dir);
    assert_int_equal(modelfile_read(path, &mf, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
    snprintf(path, sizeof path, "%s/text.bin", dir);
    FILE *f = fopenCheck(path, "w");
    fputs("label,text\n1,hello\n", f);
    fcloseCheck(f);
    assert_int_equal(modelfile_read(path, &mf, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a buzzradar model file"));
    /* a future version is refused by name, not as corruption */
    unsigned char v2[32] = "BZRMODEL";
    v2[8] = 2;
    assert_int_equal(modelfile_parse(v2, sizeof v2, &mf, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 2"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(half_floats_round_trip_exactly),
        cmocka_unit_test(every_truncation_and_flip_is_an_error),
        cmocka_unit_test(clear_errors_for_bad_files),
    };
    return cmocka_run_group_tests_name("modelfile", tests, setup, teardown);
}
