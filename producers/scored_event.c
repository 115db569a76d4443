/* scored_event.c — encoding of scored events (see scored_event.h). */
#include "producers/scored_event.h"

#include <string.h>

#include "model/classifier.h"
#include "model/util.h"
#include "producers/json_writer.h"

size_t scored_event_bound(const ScoredEvent *e) {
    return jw_string_bound(e->id_len) + jw_string_bound(e->text_len) + jw_string_bound(strlen(e->model)) +
           jw_string_bound(strlen(e->model_version)) + jw_string_bound(strlen(e->topic)) + 320;
}

size_t scored_event_encode(const ScoredEvent *e, char *buf, size_t cap) {
    JsonWriter w;
    char at[32];
    jw_init(&w, buf, cap);
    jw_raw(&w, "{\"id\":");
    jw_string(&w, e->id, e->id_len);
    jw_raw(&w, ",\"text\":");
    jw_string(&w, e->text, e->text_len);
    jw_raw(&w, e->p_positive >= 0.5f ? ",\"label\":\"positive\"" : ",\"label\":\"negative\"");
    jw_raw(&w, ",\"p_positive\":");
    jw_number(&w, classifier_round_p(e->p_positive), 6);
    jw_raw(&w, ",\"model\":");
    jw_string(&w, e->model, strlen(e->model));
    jw_raw(&w, ",\"model_version\":");
    jw_string(&w, e->model_version, strlen(e->model_version));
    jw_raw(&w, ",\"oov_ratio\":");
    jw_number(&w, e->tokens > 0 ? (double)e->oov / e->tokens : 0.0, 4);
    jw_raw(&w, ",\"tokens\":");
    jw_int(&w, e->tokens);
    jw_raw(&w, ",\"scored_at\":\"");
    jw_raw(&w, util_rfc3339(e->scored_at_ms, at, sizeof at));
    jw_raw(&w, "\",\"latency_ms\":");
    jw_number(&w, e->latency_ms, 3);
    jw_raw(&w, ",\"source\":{\"topic\":");
    jw_string(&w, e->topic, strlen(e->topic));
    jw_raw(&w, ",\"partition\":");
    jw_int(&w, e->partition);
    jw_raw(&w, ",\"offset\":");
    jw_int(&w, e->offset);
    jw_raw(&w, "}}");
    return jw_finish(&w);
}
