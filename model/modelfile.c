/* modelfile.c — reading, validating and writing the model file container
 * (see modelfile.h for the layout). */
#include "model/modelfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "modelfile.c stores tensors in host order and supports little-endian hosts only"
#endif

#define MF_MAX_FILE ((size_t)1 << 31) /* 2 GiB: anything larger is not ours */

static size_t dtype_size(int dtype) {
    switch (dtype) {
    case MF_F32:
        return 4;
    case MF_F16:
        return 2;
    case MF_I32:
        return 4;
    case MF_U8:
        return 1;
    case MF_I64:
        return 8;
    default:
        return 0;
    }
}

static const char *dtype_name(int dtype) {
    switch (dtype) {
    case MF_F32:
        return "f32";
    case MF_F16:
        return "f16";
    case MF_I32:
        return "i32";
    case MF_U8:
        return "u8";
    case MF_I64:
        return "i64";
    default:
        return "?";
    }
}

/* ---- bounded little-endian cursor over the file buffer ---- */
typedef struct {
    const unsigned char *p;
    size_t left;
} Cursor;

static int cur_take(Cursor *c, void *out, size_t n) {
    if (c->left < n) return -1;
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

int modelfile_parse(const void *data, size_t len, ModelFile *mf, char *err, size_t errlen) {
    memset(mf, 0, sizeof *mf);
    const size_t min_len = 8 + 4 + 4 + 4 + 4;
    if (len < 8 || memcmp(data, MODELFILE_MAGIC, 8) != 0)
        return util_err(err, errlen, "not a buzzradar model file (bad magic)");
    if (len < min_len) return util_err(err, errlen, "model file truncated (%zu bytes)", len);
    uint32_t stored_crc;
    memcpy(&stored_crc, (const unsigned char *)data + len - 4, 4);
    uint32_t version;
    memcpy(&version, (const unsigned char *)data + 8, 4);
    if (version != MODELFILE_VERSION)
        return util_err(err, errlen, "unsupported model file version %u (this build reads %d)", version,
                        MODELFILE_VERSION);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < len - 4;) { /* zlib takes uInt lengths */
        size_t chunk = len - 4 - done > (1u << 30) ? (1u << 30) : len - 4 - done;
        crc = crc32(crc, (const Bytef *)data + done, (uInt)chunk);
        done += chunk;
    }
    if ((uint32_t)crc != stored_crc)
        return util_err(err, errlen, "model file corrupted or truncated (checksum mismatch)");

    mf->buf = mallocCheck(len);
    memcpy(mf->buf, data, len);
    mf->len = len;
    mf->version = version;
    Cursor c = {mf->buf + 12, len - 12 - 4};
    uint32_t header_len, n_tensors;
    if (cur_take(&c, &header_len, 4) || header_len > c.left) goto truncated;
    mf->header_json = mallocCheck((size_t)header_len + 1);
    memcpy(mf->header_json, c.p, header_len);
    mf->header_json[header_len] = '\0';
    if (memchr(mf->header_json, '\0', header_len)) {
        util_err(err, errlen, "model file header contains a NUL byte");
        goto fail;
    }
    c.p += header_len;
    c.left -= header_len;
    if (cur_take(&c, &n_tensors, 4)) goto truncated;
    if (n_tensors > c.left / 12) { /* each tensor needs at least 12 bytes */
        util_err(err, errlen, "model file declares %u tensors, more than it can hold", n_tensors);
        goto fail;
    }
    mf->tensors = callocCheck(n_tensors ? n_tensors : 1, sizeof(MfTensor));
    for (uint32_t i = 0; i < n_tensors; i++) {
        MfTensor *t = &mf->tensors[i];
        uint16_t name_len;
        uint8_t dtype, ndim;
        if (cur_take(&c, &name_len, 2)) goto truncated;
        if (name_len == 0 || name_len >= MF_MAX_NAME || name_len > c.left) {
            util_err(err, errlen, "tensor %u: bad name length %u", i, name_len);
            goto fail;
        }
        cur_take(&c, t->name, name_len);
        t->name[name_len] = '\0';
        if (cur_take(&c, &dtype, 1) || cur_take(&c, &ndim, 1)) goto truncated;
        if (dtype_size(dtype) == 0 || ndim < 1 || ndim > MF_MAX_DIMS) {
            util_err(err, errlen, "tensor '%s': bad dtype %u or rank %u", t->name, dtype, ndim);
            goto fail;
        }
        t->dtype = (MfDtype)dtype;
        t->ndim = ndim;
        int64_t count = 1;
        for (int d = 0; d < ndim; d++) {
            uint64_t dim;
            if (cur_take(&c, &dim, 8)) goto truncated;
            if (dim > (uint64_t)1 << 40 || (dim && (uint64_t)count > ((uint64_t)1 << 40) / dim)) {
                util_err(err, errlen, "tensor '%s': dimension %d too large", t->name, d);
                goto fail;
            }
            t->dims[d] = (int64_t)dim;
            count *= (int64_t)dim;
        }
        uint64_t nbytes;
        if (cur_take(&c, &nbytes, 8)) goto truncated;
        if (nbytes != (uint64_t)count * dtype_size(dtype)) {
            util_err(err, errlen, "tensor '%s': %llu bytes for %lld elements of %s", t->name,
                     (unsigned long long)nbytes, (long long)count, dtype_name(dtype));
            goto fail;
        }
        if (nbytes > c.left) goto truncated;
        t->count = count;
        t->nbytes = (size_t)nbytes;
        t->data = c.p;
        c.p += nbytes;
        c.left -= nbytes;
        mf->n_tensors = (int)i + 1;
    }
    if (c.left != 0) {
        util_err(err, errlen, "model file has %zu unexpected bytes after its tensors", c.left);
        goto fail;
    }
    return 0;
truncated:
    util_err(err, errlen, "model file truncated inside its contents");
fail:
    modelfile_free(mf);
    return -1;
}

int modelfile_read(const char *path, ModelFile *mf, char *err, size_t errlen) {
    memset(mf, 0, sizeof *mf);
    FILE *f = fopen(path, "rb");
    if (!f) return util_err(err, errlen, "cannot open model file %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : (1 << 20);
            if (cap > MF_MAX_FILE) {
                fclose(f);
                free(buf);
                return util_err(err, errlen, "%s: larger than any model file (> 2 GiB)", path);
            }
            buf = reallocCheck(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(buf);
        return util_err(err, errlen, "cannot read model file %s", path);
    }
    char inner[256];
    int rc = modelfile_parse(buf, len, mf, inner, sizeof inner);
    free(buf);
    if (rc) return util_err(err, errlen, "%s: %s", path, inner);
    return 0;
}

void modelfile_free(ModelFile *mf) {
    free(mf->buf);
    free(mf->header_json);
    free(mf->tensors);
    memset(mf, 0, sizeof *mf);
}

const MfTensor *modelfile_find(const ModelFile *mf, const char *name) {
    for (int i = 0; i < mf->n_tensors; i++)
        if (!strcmp(mf->tensors[i].name, name)) return &mf->tensors[i];
    return NULL;
}

int modelfile_get_f32(const ModelFile *mf, const char *name, int64_t count, float *out, char *err,
                      size_t errlen) {
    const MfTensor *t = modelfile_find(mf, name);
    if (!t) return util_err(err, errlen, "model file lacks tensor '%s'", name);
    if (t->count != count)
        return util_err(err, errlen, "tensor '%s' has %lld elements, expected %lld", name,
                        (long long)t->count, (long long)count);
    if (t->dtype == MF_F32) {
        memcpy(out, t->data, t->nbytes);
    } else if (t->dtype == MF_F16) {
        const unsigned char *p = t->data;
        for (int64_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = mf_f16_to_f32(h);
        }
    } else {
        return util_err(err, errlen, "tensor '%s' is %s, expected floats", name, dtype_name(t->dtype));
    }
    return 0;
}

int modelfile_get_raw(const ModelFile *mf, const char *name, MfDtype dtype, int64_t count, void *out,
                      char *err, size_t errlen) {
    const MfTensor *t = modelfile_find(mf, name);
    if (!t) return util_err(err, errlen, "model file lacks tensor '%s'", name);
    if (t->dtype != dtype || t->count != count)
        return util_err(err, errlen, "tensor '%s' is %lld x %s, expected %lld x %s", name,
                        (long long)t->count, dtype_name(t->dtype), (long long)count, dtype_name(dtype));
    memcpy(out, t->data, t->nbytes);
    return 0;
}

/* ---- writing ---- */
struct ModelWriter {
    unsigned char *buf;
    size_t len, cap;
    uint32_t n_tensors;
    size_t n_tensors_at; /* offset of the n_tensors field */
};

static void mw_put(ModelWriter *w, const void *p, size_t n) {
    if (w->len + n > w->cap) {
        while (w->len + n > w->cap) w->cap = w->cap ? w->cap * 2 : 4096;
        w->buf = reallocCheck(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

ModelWriter *modelwriter_new(const char *header_json) {
    ModelWriter *w = callocCheck(1, sizeof *w);
    uint32_t version = MODELFILE_VERSION, header_len = (uint32_t)strlen(header_json), zero = 0;
    mw_put(w, MODELFILE_MAGIC, 8);
    mw_put(w, &version, 4);
    mw_put(w, &header_len, 4);
    mw_put(w, header_json, header_len);
    w->n_tensors_at = w->len;
    mw_put(w, &zero, 4);
    return w;
}

void modelwriter_add(ModelWriter *w, const char *name, MfDtype dtype, int ndim, const int64_t *dims,
                     const void *data) {
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len >= MF_MAX_NAME || ndim < 1 || ndim > MF_MAX_DIMS || !dtype_size(dtype))
        util_die("modelwriter_add: bad tensor '%s' (rank %d, dtype %d)", name, ndim, (int)dtype);
    uint16_t nl = (uint16_t)name_len;
    uint8_t dt = (uint8_t)dtype, nd = (uint8_t)ndim;
    mw_put(w, &nl, 2);
    mw_put(w, name, name_len);
    mw_put(w, &dt, 1);
    mw_put(w, &nd, 1);
    int64_t count = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t dim = (uint64_t)dims[d];
        mw_put(w, &dim, 8);
        count *= dims[d];
    }
    uint64_t nbytes = (uint64_t)count * dtype_size(dtype);
    mw_put(w, &nbytes, 8);
    if (dtype == MF_F16) {
        const float *f = data;
        for (int64_t i = 0; i < count; i++) {
            uint16_t h = mf_f32_to_f16(f[i]);
            mw_put(w, &h, 2);
        }
    } else {
        mw_put(w, data, (size_t)nbytes);
    }
    w->n_tensors++;
}

void modelwriter_append(ModelWriter *w, ModelWriter *from) {
    size_t start = from->n_tensors_at + 4;
    mw_put(w, from->buf + start, from->len - start);
    w->n_tensors += from->n_tensors;
    modelwriter_discard(from);
}

void modelwriter_discard(ModelWriter *w) {
    if (!w) return;
    free(w->buf);
    free(w);
}

int modelwriter_finish(ModelWriter *w, const char *path, char *err, size_t errlen) {
    memcpy(w->buf + w->n_tensors_at, &w->n_tensors, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), w->buf, (uInt)w->len);
    mw_put(w, &crc, 4);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = util_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        int bad = fwrite(w->buf, 1, w->len, f) != w->len;
        bad |= fflush(f) != 0;
        bad |= fsync(fileno(f)) != 0;
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, path) != 0) {
            rc = util_err(err, errlen, "cannot write model file %s: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    free(w->buf);
    free(w);
    return rc;
}

uint16_t mf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0)); /* inf / nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    if (e <= 0) {                                   /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++; /* may carry into exp: correct */
    return (uint16_t)half;
}

float mf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}
