/* feedback.c — feedback matching, the misclassification window, corrections kept for
 * retraining and their CSV export (see feedback.h). */
#include "worker/feedback.h"

#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/log.h"

_Static_assert(FEEDBACK_OUTCOMES == 5, "MonitorStats.feedback has one counter per outcome");

#define KEY_CAP (64 + 32 + FEEDBACK_ID_MAX)

static const char *const outcome_names[FEEDBACK_OUTCOMES] = {"confirmed", "misclassified", "unknown",
                                                             "replayed", "unavailable"};
/* The counter each outcome adds to in the minute's feedback hash. */
static const char *const outcome_fields[3] = {"ok", "bad", "unk"};

const char *feedback_outcome_name(FeedbackOutcome o) {
    return (unsigned)o < FEEDBACK_OUTCOMES ? outcome_names[o] : "invalid";
}

/* The commands of one chunk of feedback and the memory their arguments point to. */
typedef struct {
    char window[KEY_CAP], seen[KEY_CAP], counters[KEY_CAP], index[KEY_CAP];
    char now[24], window_ms[24], dedupe_ms[24], counters_ttl[24], max_ids[8], fb_ttl[24], cutoff[24];
    char record[FEEDBACK_CHUNK][KEY_CAP];
    char p[FEEDBACK_CHUNK][24];
    const char *argv[FEEDBACK_CHUNK * 4 + 2][16];
    size_t len[FEEDBACK_CHUNK * 4 + 2][16];
    MonitorCall calls[FEEDBACK_CHUNK * 4 + 2];
    redisReply *replies[FEEDBACK_CHUNK * 4 + 2];
    int n;
} Chunk;

/* Appends a command of argc strings (lengths from strlen unless given in lens). */
static void chunk_add(Chunk *c, int script, int nkeys, int argc, const char *const *argv,
                      const size_t *lens) {
    int i = c->n++;
    for (int a = 0; a < argc; a++) {
        c->argv[i][a] = argv[a];
        c->len[i][a] = lens && lens[a] != (size_t)-1 ? lens[a] : strlen(argv[a]);
    }
    c->calls[i] = (MonitorCall){script, nkeys, argc, c->argv[i], c->len[i]};
}

#define NOLEN ((size_t)-1)

/* Records one chunk of items whose outcome is known (CONFIRMED, MISCLASSIFIED or
 * UNKNOWN), and raises the burst alert when it fires. */
static int record_chunk(Monitor *m, const FeedbackItem *items, const StorePrediction *pred,
                        const uint8_t *found, int n, int64_t now_ms, FeedbackOutcome *out) {
    const MonitorConfig *cfg = monitor_config(m);
    const char *pfx = monitor_prefix(m);
    Chunk *c = callocCheck(1, sizeof *c);
    snprintf(c->window, KEY_CAP, "%swin:{misclassified}", pfx);
    snprintf(c->seen, KEY_CAP, "%swin:{misclassified}:seen", pfx);
    snprintf(c->counters, KEY_CAP, "%swin:{misclassified}:m:%lld", pfx, (long long)(now_ms / 60000));
    snprintf(c->index, KEY_CAP, "%sfb:index", pfx);
    snprintf(c->now, sizeof c->now, "%lld", (long long)now_ms);
    snprintf(c->window_ms, sizeof c->window_ms, "%lld", (long long)cfg->rules.miscls_window_ms);
    snprintf(c->dedupe_ms, sizeof c->dedupe_ms, "%lld", (long long)cfg->feedback_dedupe_ms);
    snprintf(c->counters_ttl, sizeof c->counters_ttl, "%lld", (long long)cfg->minute_ttl_ms);
    snprintf(c->max_ids, sizeof c->max_ids, "%d", ALERT_MAX_EXAMPLES);
    snprintf(c->fb_ttl, sizeof c->fb_ttl, "%lld", (long long)cfg->feedback_ttl_ms);
    snprintf(c->cutoff, sizeof c->cutoff, "%lld", (long long)(now_ms - cfg->feedback_ttl_ms));

    int first_of[FEEDBACK_CHUNK]; /* index of each item's FEEDBACK call, -1: not sent */
    for (int i = 0; i < n; i++) {
        first_of[i] = -1;
        const FeedbackItem *it = &items[i];
        if (it->id_len == 0 || it->id_len > FEEDBACK_ID_MAX) {
            out[i] = FEEDBACK_UNKNOWN;
            continue;
        }
        out[i] = !found[i]                          ? FEEDBACK_UNKNOWN
                 : pred[i].positive == it->positive ? FEEDBACK_CONFIRMED
                                                    : FEEDBACK_MISCLASSIFIED;
        first_of[i] = c->n;
        const char *fb[] = {c->window,       c->seen,      c->counters,
                            c->now,          c->window_ms, c->dedupe_ms,
                            c->counters_ttl, it->id,       outcome_fields[out[i]],
                            c->max_ids};
        const size_t fbl[] = {NOLEN, NOLEN, NOLEN, NOLEN, NOLEN, NOLEN, NOLEN, it->id_len, NOLEN, NOLEN};
        chunk_add(c, MLUA_FEEDBACK, 3, 10, fb, fbl);

        snprintf(c->record[i], KEY_CAP, "%sfb:", pfx);
        size_t kl = strlen(c->record[i]);
        memcpy(c->record[i] + kl, it->id, it->id_len);
        kl += it->id_len;
        const char *hs[16] = {"HSET", c->record[i], "label", it->positive ? "1" : "0", "at", c->now};
        size_t hl[16] = {NOLEN, kl, NOLEN, NOLEN, NOLEN, NOLEN};
        int h = 6;
        if (found[i]) {
            snprintf(c->p[i], sizeof c->p[i], "%.6f", pred[i].p_positive);
            hs[h] = "pred", hl[h++] = NOLEN;
            hs[h] = pred[i].positive ? "1" : "0", hl[h++] = NOLEN;
            hs[h] = "p_positive", hl[h++] = NOLEN;
            hs[h] = c->p[i], hl[h++] = NOLEN;
            hs[h] = "model_version", hl[h++] = NOLEN;
            hs[h] = pred[i].model_version, hl[h++] = NOLEN;
        }
        /* The message's own text, else the text scored with the prediction. */
        const char *text = it->text;
        size_t text_len = it->text_len;
        if (!text && found[i] && pred[i].text_len > 0) text = pred[i].text, text_len = pred[i].text_len;
        if (text) {
            hs[h] = "text", hl[h++] = NOLEN;
            hs[h] = text, hl[h++] = text_len;
        }
        chunk_add(c, MLUA_PLAIN, 0, h, hs, hl);
        const char *ex[] = {"PEXPIRE", c->record[i], c->fb_ttl};
        const size_t exl[] = {NOLEN, kl, NOLEN};
        chunk_add(c, MLUA_PLAIN, 0, 3, ex, exl);
        const char *ix[] = {"ZADD", c->index, "NX", c->now, it->id};
        const size_t ixl[] = {NOLEN, NOLEN, NOLEN, NOLEN, it->id_len};
        chunk_add(c, MLUA_PLAIN, 0, 5, ix, ixl);
    }
    if (c->n == 0) {
        free(c);
        return 0;
    }
    const char *trim[] = {"ZREMRANGEBYSCORE", c->index, "-inf", c->cutoff};
    chunk_add(c, MLUA_PLAIN, 0, 4, trim, NULL);
    const char *ttl[] = {"PEXPIRE", c->index, c->fb_ttl};
    chunk_add(c, MLUA_PLAIN, 0, 3, ttl, NULL);

    if (monitor_run(m, now_ms, c->calls, c->n, c->replies) != MONITOR_OK) {
        for (int i = 0; i < n; i++)
            if (first_of[i] >= 0) out[i] = FEEDBACK_UNAVAILABLE;
        free(c);
        return MONITOR_UNAVAILABLE;
    }

    /* The window as seen by the last misclassification counted now. */
    const redisReply *burst = NULL;
    for (int i = 0; i < n; i++) {
        if (first_of[i] < 0) continue;
        const redisReply *r = c->replies[first_of[i]];
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER) {
            log_warn("feedback_redis_error", "unexpected reply to the feedback script: %.200s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "(not an array of 3)");
            continue;
        }
        if (r->element[0]->integer == 0)
            out[i] = FEEDBACK_REPLAYED;
        else if (out[i] == FEEDBACK_MISCLASSIFIED)
            burst = r;
    }
    for (int i = 0; i < c->n; i++)
        if (c->calls[i].script == MLUA_PLAIN && c->replies[i]->type == REDIS_REPLY_ERROR)
            log_warn("feedback_redis_error", "Redis refused a correction write: %.200s", c->replies[i]->str);

    int raised = 0;
    if (burst && burst->element[1]->type == REDIS_REPLY_INTEGER) {
        const redisReply *ids = burst->element[2];
        const char *idv[ALERT_MAX_EXAMPLES];
        int nid = 0;
        for (size_t k = 0; ids->type == REDIS_REPLY_ARRAY && k < ids->elements && nid < ALERT_MAX_EXAMPLES;
             k++)
            if (ids->element[k]->type == REDIS_REPLY_STRING) idv[nid++] = ids->element[k]->str;
        Alert a;
        if (alerts_misclassification(&cfg->rules, now_ms, burst->element[1]->integer, idv, nid, &a)) {
            int rc = monitor_raise(m, &a);
            raised = rc == MONITOR_UNAVAILABLE ? 0 : rc;
        }
    }
    monitor_replies_free(c->replies, c->n);
    free(c);
    return raised;
}

int feedback_handle(Monitor *m, RedisStore *store, const FeedbackItem *items, int n, int64_t now_ms,
                    FeedbackOutcome *out) {
    int raised = 0, rc = 0;
    for (int base = 0; base < n; base += FEEDBACK_CHUNK) {
        int k = n - base < FEEDBACK_CHUNK ? n - base : FEEDBACK_CHUNK;
        const char *ids[FEEDBACK_CHUNK];
        size_t lens[FEEDBACK_CHUNK];
        StorePrediction pred[FEEDBACK_CHUNK];
        uint8_t found[FEEDBACK_CHUNK];
        for (int i = 0; i < k; i++) {
            ids[i] = items[base + i].id;
            lens[i] = items[base + i].id_len;
        }
        if (store_pred_get(store, ids, lens, k, pred, found) == STORE_UNAVAILABLE) {
            for (int i = base; i < n; i++) out[i] = FEEDBACK_UNAVAILABLE;
            rc = MONITOR_UNAVAILABLE;
            break;
        }
        int r = record_chunk(m, items + base, pred, found, k, now_ms, out + base);
        if (r == MONITOR_UNAVAILABLE) {
            for (int i = base + k; i < n; i++) out[i] = FEEDBACK_UNAVAILABLE;
            rc = MONITOR_UNAVAILABLE;
            break;
        }
        raised += r;
    }
    for (int i = 0; i < n; i++) monitor_count_feedback(m, out[i]);
    return rc == MONITOR_UNAVAILABLE ? MONITOR_UNAVAILABLE : raised;
}

/* ---- reading back ---------------------------------------------------------------------- */

int feedback_read_counts(Monitor *m, int64_t now_ms, int64_t first, int n, FeedbackCounts *out) {
    enum { PAGE = 256 };
    char(*keys)[KEY_CAP] = mallocCheck(PAGE * sizeof *keys);
    const char *(*argv)[6] = mallocCheck(PAGE * sizeof *argv);
    size_t(*len)[6] = mallocCheck(PAGE * sizeof *len);
    MonitorCall *calls = mallocCheck(PAGE * sizeof *calls);
    redisReply **replies = mallocCheck(PAGE * sizeof *replies);
    int rc = MONITOR_OK;
    for (int base = 0; base < n && rc == MONITOR_OK; base += PAGE) {
        int k = n - base < PAGE ? n - base : PAGE;
        for (int i = 0; i < k; i++) {
            snprintf(keys[i], KEY_CAP, "%swin:{misclassified}:m:%lld", monitor_prefix(m),
                     (long long)(first + base + i));
            const char *a[6] = {"HMGET", keys[i], "fb", "ok", "bad", "unk"};
            for (int j = 0; j < 6; j++) argv[i][j] = a[j], len[i][j] = strlen(a[j]);
            calls[i] = (MonitorCall){MLUA_PLAIN, 0, 6, argv[i], len[i]};
        }
        if (monitor_run(m, now_ms, calls, k, replies) != MONITOR_OK) {
            rc = MONITOR_UNAVAILABLE;
            break;
        }
        for (int i = 0; i < k; i++) {
            const redisReply *r = replies[i];
            int64_t v[4] = {0};
            for (size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements && j < 4; j++)
                if (r->element[j]->type == REDIS_REPLY_STRING) v[j] = strtoll(r->element[j]->str, NULL, 10);
            out[base + i] = (FeedbackCounts){v[0], v[1], v[2], v[3]};
        }
        monitor_replies_free(replies, k);
    }
    free(keys);
    free(argv);
    free(len);
    free(calls);
    free(replies);
    return rc;
}

int feedback_csv_row(FILE *out, int label, const char *text, size_t len) {
    int quote = 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = text[i] == ',' || text[i] == '"' || text[i] == '\n' || text[i] == '\r';
    if (fprintf(out, "%d,", label ? 1 : 0) < 0) return -1;
    if (!quote) return fwrite(text, 1, len, out) == len && fputc('\n', out) != EOF ? 0 : -1;
    if (fputc('"', out) == EOF) return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"' && fputc('"', out) == EOF) return -1;
        if (fputc(text[i], out) == EOF) return -1;
    }
    return fputs("\"\n", out) == EOF ? -1 : 0;
}

/* Pages through the index by score, so that entries trimmed or added meanwhile never
 * shift a page: each page starts at the last score seen, skipping the ids already
 * written at that very score. */
int feedback_export(Monitor *m, int64_t now_ms, int64_t since_ms, int only_misclassified, FILE *out,
                    FeedbackExportStats *st) {
    enum { PAGE = 256 };
    memset(st, 0, sizeof *st);
    char index[KEY_CAP], from[24], to[24], skip_s[24], count[24];
    snprintf(index, sizeof index, "%sfb:index", monitor_prefix(m));
    snprintf(to, sizeof to, "%lld", (long long)now_ms);
    snprintf(count, sizeof count, "%d", PAGE);
    char(*keys)[KEY_CAP] = mallocCheck(PAGE * sizeof *keys);
    const char *(*argv)[5] = mallocCheck(PAGE * sizeof *argv);
    size_t(*len)[5] = mallocCheck(PAGE * sizeof *len);
    MonitorCall *calls = mallocCheck(PAGE * sizeof *calls);
    redisReply **replies = mallocCheck(PAGE * sizeof *replies);
    int rc = MONITOR_OK;
    long long cur = since_ms, skip = 0;
    fputs("label,text\n", out);
    for (;;) {
        snprintf(from, sizeof from, "%lld", cur);
        snprintf(skip_s, sizeof skip_s, "%lld", skip);
        const char *q[] = {"ZRANGEBYSCORE", index, from, to, "WITHSCORES", "LIMIT", skip_s, count};
        size_t ql[8];
        for (int i = 0; i < 8; i++) ql[i] = strlen(q[i]);
        MonitorCall qc = {MLUA_PLAIN, 0, 8, q, ql};
        redisReply *ids;
        if (monitor_run(m, now_ms, &qc, 1, &ids) != MONITOR_OK) {
            rc = MONITOR_UNAVAILABLE;
            break;
        }
        int k = 0;
        size_t got = 0;
        long long last = cur, same = 0;
        for (size_t i = 0; ids->type == REDIS_REPLY_ARRAY && i + 1 < ids->elements; i += 2) {
            const redisReply *id = ids->element[i], *score = ids->element[i + 1];
            got++;
            long long sc = score->type == REDIS_REPLY_STRING ? strtoll(score->str, NULL, 10) : cur;
            same = sc == last ? same + 1 : 1;
            last = sc;
            if (id->type != REDIS_REPLY_STRING || id->len > FEEDBACK_ID_MAX) continue;
            int kl = snprintf(keys[k], KEY_CAP, "%sfb:", monitor_prefix(m));
            memcpy(keys[k] + kl, id->str, id->len);
            const char *a[5] = {"HMGET", keys[k], "label", "text", "pred"};
            size_t al[5] = {5, (size_t)kl + id->len, 5, 4, 4};
            memcpy(argv[k], a, sizeof a);
            memcpy(len[k], al, sizeof al);
            calls[k] = (MonitorCall){MLUA_PLAIN, 0, 5, argv[k], len[k]};
            k++;
        }
        monitor_replies_free(&ids, 1);
        if (k > 0 && monitor_run(m, now_ms, calls, k, replies) != MONITOR_OK) {
            rc = MONITOR_UNAVAILABLE;
            break;
        }
        for (int i = 0; i < k; i++) {
            const redisReply *r = replies[i];
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
                r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len != 1 ||
                (r->element[0]->str[0] != '0' && r->element[0]->str[0] != '1')) {
                st->expired++;
                continue;
            }
            int label = r->element[0]->str[0] == '1';
            const redisReply *text = r->element[1], *pred = r->element[2];
            int wrong = pred->type == REDIS_REPLY_STRING && pred->len == 1 && (pred->str[0] == '1') != label;
            if (only_misclassified && !wrong) {
                st->filtered++;
                continue;
            }
            if (text->type != REDIS_REPLY_STRING || text->len == 0) {
                st->without_text++;
                continue;
            }
            if (feedback_csv_row(out, label, text->str, text->len) == 0) st->rows++;
        }
        monitor_replies_free(replies, k);
        if (got < PAGE) break;
        skip = last == cur ? skip + same : same;
        cur = last;
    }
    free(keys);
    free(argv);
    free(len);
    free(calls);
    free(replies);
    return rc;
}
