/* modelfile.h — the binary model file container: magic, format version, a JSON
 * header, named little-endian tensors, and a CRC-32 checksum.
 *
 * Layout (all integers little-endian):
 *
 *     "BZRMODEL"                     8 bytes magic
 *     u32 format_version             MODELFILE_VERSION
 *     u32 header_len, header bytes   JSON object (model kind, hyper-parameters, ...)
 *     u32 n_tensors
 *     n_tensors times:
 *         u16 name_len, name bytes   e.g. "lstm_fwd.w_hh"
 *         u8  dtype                  MfDtype
 *         u8  ndim                   1..MF_MAX_DIMS
 *         u64 dims[ndim]
 *         u64 nbytes                 == product(dims) * dtype size
 *         nbytes of data
 *     u32 crc32                      zlib CRC-32 of every byte before it
 *
 * Reading validates the magic, the version, the checksum and every size before any
 * tensor is handed out: a truncated or corrupted file is a clear error, never a
 * crash. The model kinds (bilstm, tfidf-lr, w2v-dense) define which tensors they
 * write; this module only knows the container. */
#ifndef BUZZRADAR_MODELFILE_H
#define BUZZRADAR_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#define MODELFILE_MAGIC   "BZRMODEL"
#define MODELFILE_VERSION 1
#define MF_MAX_DIMS       4
#define MF_MAX_NAME       128

typedef enum { MF_F32 = 1, MF_F16 = 2, MF_I32 = 3, MF_U8 = 4, MF_I64 = 5 } MfDtype;

typedef struct {
    char name[MF_MAX_NAME];
    MfDtype dtype;
    int ndim;
    int64_t dims[MF_MAX_DIMS];
    int64_t count; /* product of dims */
    size_t nbytes;
    const void *data; /* points into the file buffer; not aligned: copy before use */
} MfTensor;

typedef struct {
    unsigned char *buf; /* the whole file */
    size_t len;
    uint32_t version;
    char *header_json; /* NUL-terminated copy of the header */
    int n_tensors;
    MfTensor *tensors;
} ModelFile;

/* Reads and validates a model file. Returns 0, or -1 with a one-line reason in err
 * (missing file, not a model file, unsupported version, checksum mismatch, bad
 * size...). On failure *mf holds nothing to free. */
int modelfile_read(const char *path, ModelFile *mf, char *err, size_t errlen);

/* The same from a buffer in memory (copied). */
int modelfile_parse(const void *data, size_t len, ModelFile *mf, char *err, size_t errlen);

void modelfile_free(ModelFile *mf);

/* The tensor called name, or NULL. */
const MfTensor *modelfile_find(const ModelFile *mf, const char *name);

/* Copies tensor `name` into out as float32 (converting from f16 when stored so),
 * after checking that it exists, is f32 or f16 and has exactly `count` elements.
 * Returns 0, or -1 with a reason in err. */
int modelfile_get_f32(const ModelFile *mf, const char *name, int64_t count, float *out, char *err,
                      size_t errlen);

/* Copies an integer or byte tensor (i32, i64 or u8, as stored) of exactly `count`
 * elements into out (count * element size bytes). Returns 0 or -1 with err. */
int modelfile_get_raw(const ModelFile *mf, const char *name, MfDtype dtype, int64_t count, void *out,
                      char *err, size_t errlen);

/* ---- writing ---- */
typedef struct ModelWriter ModelWriter;

/* Starts a model file in memory with the given JSON header. Exits on OOM. */
ModelWriter *modelwriter_new(const char *header_json);

/* Appends a tensor. For MF_F16, data is float32 and is converted (round to nearest
 * even) on the way in; every other dtype is copied as is. */
void modelwriter_add(ModelWriter *w, const char *name, MfDtype dtype, int ndim, const int64_t *dims,
                     const void *data);

/* Moves every tensor of `from` (a writer used only to stage tensors; its header is
 * dropped) to the end of w, in order, and frees `from`. */
void modelwriter_append(ModelWriter *w, ModelWriter *from);

/* Frees a writer without writing anything. */
void modelwriter_discard(ModelWriter *w);

/* Writes the file atomically (temporary file + rename) and frees the writer.
 * Returns 0, or -1 with a reason in err (the writer is freed either way). */
int modelwriter_finish(ModelWriter *w, const char *path, char *err, size_t errlen);

/* IEEE half precision conversions (round to nearest even; inf/nan kept). */
uint16_t mf_f32_to_f16(float f);
float mf_f16_to_f32(uint16_t h);

#endif
