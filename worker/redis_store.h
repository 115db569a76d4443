/* redis_store.h — the worker's Redis prediction store and score cache: batch
 * operations, each ONE pipelined round trip, that never block scoring.
 *
 * Keys (prefix configurable, default "bz:"; DESIGN.md "Redis keys"):
 *   bz:pred:<tweet id>      hash  label, p_positive, model_version, scored_at, text   TTL 24 h
 *   bz:cache:<sha1 hex>     string "<p_positive> <model_version>"             TTL 1 h
 * where <sha1 hex> is the SHA-1 of the tweet's normalised text (the classifier's
 * classifier_batch_key()), so retweets and copies of a text share one entry. The
 * cached value carries the model version: an entry written by another model version
 * is a miss (counted as stale), so a new model never serves an old model's scores.
 * p_positive is written with 9 significant digits, so a float read back from the
 * cache or the store is bit-identical to the one the model produced.
 *
 * The prediction keeps the tweet's raw text (as the pipeline decoded it: repaired
 * UTF-8, not normalised) so that a correction sent later without its text can still be
 * exported for `train`, which normalises texts itself. The text is cut to at most
 * STORE_TEXT_MAX bytes, on a UTF-8 character boundary: a tweet (280 characters) always
 * fits, and a malicious giant text cannot blow up Redis' memory for 24 h. A prediction
 * written without a text (older workers, or a record with text NULL) reads back with an
 * empty text: the field is optional.
 *
 * Use, once per batch:
 *
 *     store_cache_get(s, texts, lens, n, p, hit);   // before inference: skip hits
 *     ... score the misses ...
 *     store_put(s, records, n);                     // after scoring
 *
 * or, to hash each text once per batch instead of twice: make its key with
 * store_cache_key(), look up with store_cache_get_keys() and hand the same key to
 * store_put() in StoreRecord.cache_key. The pipeline also overlaps both round trips
 * with its own work: see "one exchange in flight" below.
 *
 * Failure contract: when Redis is unavailable every call returns
 * STORE_UNAVAILABLE quickly — at once while the connection backs off, otherwise within
 * about one connect timeout plus two command timeouts (see redis_conn.h) — a cache
 * lookup then reports a miss for every text and a write drops its records; both are
 * counted. The connection is retried on later calls and used again when Redis is back.
 * A reply error for one command (e.g. WRONGTYPE on a key someone else wrote) is
 * counted and does not fail the rest of the batch.
 *
 * Memory: keys, argument vectors and the encoded writes live in buffers preallocated
 * for max_batch (the writes' buffer grows, once, for a batch of longer texts than it
 * has seen); a call allocates nothing else itself beyond hiredis' own command buffer
 * and reply objects.
 * Batches larger than max_batch are accepted and still sent in one round trip.
 *
 * Threads: a RedisStore (and its connection) belongs to one thread at a time; give each
 * inference thread its own. store_stats() and store_state() may be called from any
 * thread. */
#ifndef BUZZRADAR_REDIS_STORE_H
#define BUZZRADAR_REDIS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/redis_conn.h"

#define STORE_OK          0
#define STORE_UNAVAILABLE (-1)

typedef struct {
    const char *url;           /* redis://host:port/db or unix:///path (required) */
    const char *key_prefix;    /* default "bz:" (NULL or unset); at most 64 bytes */
    const char *model_version; /* written with each prediction and cache entry (required) */
    int max_batch;             /* preallocated capacity, >= 1 (default 256) */
    int pred_ttl_s;            /* TTL of bz:pred:* (default 86400) */
    int cache_ttl_ms;          /* TTL of bz:cache:* (default 3600000) */
    RedisConnOptions conn;     /* timeouts and back-off (default: redis_conn_options_default) */
} StoreOptions;

/* Fills o with the defaults above (url and model_version NULL: set them). */
void store_options_default(StoreOptions *o);

/* Longest cache key store_cache_key() makes, in bytes without the NUL: a prefix of
 * at most 64 bytes + "cache:" + 40 hex digits. A buffer of STORE_CACHE_KEY_MAX + 1
 * bytes always fits one. */
#define STORE_CACHE_KEY_MAX (64 + 6 + 40)

/* Longest text stored in bz:pred:<id>, in bytes: 280 characters of 4 bytes. */
#define STORE_TEXT_MAX 1120

/* One scored tweet to write. */
typedef struct {
    const char *id; /* tweet id, id_len bytes (any bytes) */
    size_t id_len;
    const char *norm_text; /* normalised text keying the cache, or NULL: no cache write */
    size_t norm_len;       /* (pass NULL for texts that were cache hits: no need to rewrite) */
    const char *cache_key; /* or NULL: store_cache_key() of norm_text, made by the caller */
    size_t cache_key_len;  /* (when set, norm_text is not hashed again; NULL norm_text: unused) */
    float p_positive;
    uint8_t positive;     /* the label: 1 positive, 0 negative */
    int64_t scored_at_ms; /* wall clock, ms since the epoch; written as RFC 3339 */
    const char *text;     /* the raw tweet text (UTF-8), or NULL: no text field written */
    size_t text_len;      /* bytes; at most STORE_TEXT_MAX of them are stored */
} StoreRecord;

/* A prediction read back from bz:pred:<id>. */
typedef struct {
    uint8_t positive;
    float p_positive;
    char model_version[64];
    char scored_at[32];
    char text[STORE_TEXT_MAX + 1]; /* the stored text, NUL-terminated ("" when none was stored) */
    size_t text_len;
} StorePrediction;

typedef struct {
    uint64_t cache_lookups;  /* texts looked up */
    uint64_t cache_hits;     /* ... found with this model version */
    uint64_t cache_stale;    /* ... found, but written by another model version (a miss) */
    uint64_t cache_skipped;  /* ... answered "miss" because Redis was unavailable */
    uint64_t preds_written;  /* records whose writes all succeeded */
    uint64_t preds_dropped;  /* records not written: Redis unavailable or a command failed */
    uint64_t cache_writes;   /* bz:cache entries written */
    uint64_t pred_lookups;   /* ids looked up by store_pred_get */
    uint64_t reply_errors;   /* error replies (WRONGTYPE, OOM, ...) and malformed values */
    uint64_t batches_failed; /* calls that returned STORE_UNAVAILABLE */
    RedisConnStats conn;     /* the connection's counters */
} StoreStats;

typedef struct RedisStore RedisStore;

/* Creates the store and tries to connect once (a server that cannot be reached is not
 * an error: calls answer "unavailable" until it can). Returns NULL with a one-line
 * reason in err for a bad URL or bad options. */
RedisStore *store_new(const StoreOptions *opt, char *err, size_t errlen);
void store_free(RedisStore *s); /* NULL is fine */

/* Looks up the cache for n normalised texts (texts[i], lens[i] bytes) in one round trip.
 * For each i, hit_out[i] = 1 and p_out[i] = the cached P(positive) on a hit, else
 * hit_out[i] = 0 and p_out[i] untouched. Returns the number of hits (>= 0), or
 * STORE_UNAVAILABLE with every hit_out[i] = 0. */
int store_cache_get(RedisStore *s, const char *const *texts, const size_t *lens, int n, float *p_out,
                    uint8_t *hit_out);

/* The same lookup for n keys made by store_cache_key() (keys[i], key_lens[i] bytes),
 * so that a caller that writes the entries later hashes each text only once. Same
 * results and failure contract as store_cache_get. */
int store_cache_get_keys(RedisStore *s, const char *const *keys, const size_t *key_lens, int n, float *p_out,
                         uint8_t *hit_out);

/* store_cache_get_keys in two halves, so the caller can work while Redis looks up:
 * store_cache_get_start sends the MGET without waiting (with hit_out[i] = 0 for all
 * i at once), store_cache_get_finish returns what store_cache_get_keys would have,
 * once hit_out and p_out are filled. keys, key_lens, p_out and hit_out must stay
 * valid until then. See "one exchange in flight" below. */
void store_cache_get_start(RedisStore *s, const char *const *keys, const size_t *key_lens, int n,
                           float *p_out, uint8_t *hit_out);
int store_cache_get_finish(RedisStore *s);

/* Writes n records in one round trip: for each, HSET bz:pred:<id> (label, p_positive,
 * model_version, scored_at, and text when set, cut by store_text_len) + EXPIRE, and
 * when norm_text is set SET bz:cache:<sha1> PX (the key is cache_key when set, which
 * must then be store_cache_key() of norm_text on this store). Returns STORE_OK when Redis answered (reply
 * errors are counted, their records dropped), or STORE_UNAVAILABLE when nothing could be written (all counted
 * dropped). */
int store_put(RedisStore *s, const StoreRecord *recs, int n);

/* store_put in two halves, so the caller can work while Redis runs the writes:
 * store_put_start sends them without waiting for the replies, store_put_finish reads
 * the replies (a connection lost on the way: the batch is sent once more and waited
 * for) and returns what store_put would have. The records are encoded at once: the
 * strings they name may be reused when store_put_start returns (a retry sends the
 * same bytes again), but the recs[] array itself must stay valid until the replies
 * are read. store_put_start returns STORE_UNAVAILABLE when nothing could be sent
 * (the records are counted dropped when the exchange is finished), else STORE_OK.
 *
 * One exchange in flight: a started write or look-up is finished (its replies read,
 * its counters added) by the next call on s of any kind — another start,
 * store_cache_get*, store_pred_get, store_flush, store_free — so replies are always
 * read in the order the commands were sent. A _finish whose exchange was already
 * finished that way just returns its result (STORE_OK or 0 when nothing was
 * started). A pipelined caller thus writes batch k while batch k+1's look-up runs:
 *
 *     store_cache_get_start(s, keys(k+1), ...);   // finishes the write of k-1
 *     ... score batch k ...
 *     store_put_start(s, records(k), n);           // reads k+1's look-up first
 *     ... produce batch k; then for batch k+1: store_cache_get_finish(s) ... */
int store_put_start(RedisStore *s, const StoreRecord *recs, int n);
int store_put_finish(RedisStore *s);

/* Finishes the exchange in flight, if any (waits for its replies, counts them). An
 * idle caller calls it so that counters are current and no reply waits unread. */
void store_flush(RedisStore *s);

/* Reads bz:pred:<id> for n ids in one round trip (for feedback matching). found_out[i]
 * is 1 when the hash exists and parses, with out[i] filled; 0 otherwise. Returns the
 * number found, or STORE_UNAVAILABLE with every found_out[i] = 0. */
int store_pred_get(RedisStore *s, const char *const *ids, const size_t *id_lens, int n, StorePrediction *out,
                   uint8_t *found_out);

/* How many bytes of a text bz:pred:<id> keeps: len when len <= STORE_TEXT_MAX, else
 * the longest prefix of at most STORE_TEXT_MAX bytes that does not end inside a UTF-8
 * sequence. Never fails. */
size_t store_text_len(const char *text, size_t len);

/* The cache key of a normalised text: prefix + "cache:" + 40 hex digits, into buf.
 * Returns the key length, or -1 when buf is too small. */
int store_cache_key(const RedisStore *s, const char *text, size_t len, char *buf, size_t buflen);

RedisConnState store_state(const RedisStore *s);
void store_stats(const RedisStore *s, StoreStats *out);

/* The connection (for its URL or state in logs and health checks). */
RedisConn *store_conn(RedisStore *s);

#endif
