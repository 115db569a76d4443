/* tail_view.c — formatting of scored tweets and alerts for `buzzradar tail` (see
 * tail_view.h). */
#include "worker/tail_view.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#define BAR_CELLS 10

#define ANSI_RESET "\033[0m"
#define ANSI_DIM   "\033[2m"
#define ANSI_NEG   "\033[1;31m"
#define ANSI_POS   "\033[1;32m"
#define ANSI_RED   "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_CRIT  "\033[1;97;41m" /* bold white on red */
#define ANSI_WARN  "\033[1;30;43m" /* bold black on yellow */

/* ---- a bounded string builder ------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t cap, len; /* len < cap always; buf NUL-terminated */
} Out;

static void out_put(Out *o, const char *s, size_t n) {
    if (o->len + 1 >= o->cap) return;
    if (n > o->cap - 1 - o->len) n = o->cap - 1 - o->len;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(Out *o, const char *s) { out_put(o, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void out_fmt(Out *o, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) out_put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

// Ends the output with '\n', replacing the last bytes when the buffer is full.
static size_t out_end_line(Out *o) {
    if (o->len + 2 > o->cap) o->len = o->cap - 2;
    o->buf[o->len++] = '\n';
    o->buf[o->len] = '\0';
    return o->len;
}

/* ---- UTF-8 and display width ----------------------------------------------------- */

// Decodes one code point at s (n > 0 bytes). Sets *used; invalid -> U+FFFD, 1 byte.
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *used) {
    *used = 1;
    if (s[0] < 0x80) return s[0];
    int k;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0)
        k = 1, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        k = 2, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        k = 3, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0xfffd;
    if ((size_t)k >= n) return 0xfffd;
    for (int i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0xfffd;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0xfffd;
    *used = (size_t)k + 1;
    return cp;
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

typedef struct {
    uint32_t lo, hi;
} Range;

static int in_ranges(uint32_t cp, const Range *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi) return 1;
    return 0;
}

int tail_char_width(uint32_t cp) {
    static const Range zero[] = {
        {0x0300, 0x036f},   {0x0483, 0x0489},   {0x0591, 0x05bd}, {0x0610, 0x061a}, {0x064b, 0x065f},
        {0x1ab0, 0x1aff},   {0x1dc0, 0x1dff},   {0x200b, 0x200f}, {0x2028, 0x202e}, {0x2060, 0x2064},
        {0x20d0, 0x20ff},   {0xfe00, 0xfe0f},   {0xfe20, 0xfe2f}, {0xfeff, 0xfeff}, {0x1f3fb, 0x1f3ff},
        {0xe0000, 0xe007f}, {0xe0100, 0xe01ef},
    };
    static const Range wide[] = {
        {0x1100, 0x115f},   {0x231a, 0x231b},   {0x23e9, 0x23ec},   {0x23f0, 0x23f0},   {0x23f3, 0x23f3},
        {0x25fd, 0x25fe},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x267f, 0x267f},   {0x2693, 0x2693},
        {0x26a1, 0x26a1},   {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26ce, 0x26ce},
        {0x26d4, 0x26d4},   {0x26ea, 0x26ea},   {0x26f2, 0x26f3},   {0x26f5, 0x26f5},   {0x26fa, 0x26fa},
        {0x26fd, 0x26fd},   {0x2705, 0x2705},   {0x270a, 0x270b},   {0x2728, 0x2728},   {0x274c, 0x274c},
        {0x274e, 0x274e},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27b0, 0x27b0},
        {0x27bf, 0x27bf},   {0x2b1b, 0x2b1c},   {0x2b50, 0x2b50},   {0x2b55, 0x2b55},   {0x2e80, 0x303e},
        {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},   {0xac00, 0xd7a3},
        {0xf900, 0xfaff},   {0xfe30, 0xfe4f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},   {0x1f004, 0x1f004},
        {0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f320},
        {0x1f32d, 0x1f335}, {0x1f337, 0x1f37c}, {0x1f37e, 0x1f393}, {0x1f3a0, 0x1f3ca}, {0x1f3cf, 0x1f3d3},
        {0x1f3e0, 0x1f3f0}, {0x1f3f4, 0x1f3f4}, {0x1f3f8, 0x1f43e}, {0x1f440, 0x1f440}, {0x1f442, 0x1f4fc},
        {0x1f4ff, 0x1f53d}, {0x1f54b, 0x1f54e}, {0x1f550, 0x1f567}, {0x1f57a, 0x1f57a}, {0x1f595, 0x1f596},
        {0x1f5a4, 0x1f5a4}, {0x1f5fb, 0x1f64f}, {0x1f680, 0x1f6c5}, {0x1f6cc, 0x1f6cc}, {0x1f6d0, 0x1f6d2},
        {0x1f6d5, 0x1f6d7}, {0x1f6eb, 0x1f6ec}, {0x1f6f4, 0x1f6fc}, {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f93a},
        {0x1f93c, 0x1f945}, {0x1f947, 0x1f9ff}, {0x1fa70, 0x1faff}, {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
    };
    if (cp < 0x7f) return 1; /* printable ASCII (controls never reach here) */
    if (in_ranges(cp, zero, sizeof zero / sizeof zero[0])) return 0;
    if (in_ranges(cp, wide, sizeof wide / sizeof wide[0])) return 2;
    return 1;
}

// Control characters a terminal would act on: C0, DEL, C1, and the line separators.
static int is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); }

int tail_clip_text(const char *text, size_t len, int max_cols, int ascii_only, char *out, size_t cap) {
    const char *ellipsis = ascii_only ? "..." : "\xe2\x80\xa6";
    const int ell_cols = ascii_only ? 3 : 1;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0, i = 0;
    int cols = 0, last_space = 1; /* 1: drop leading white space */
    // Where the text stands when the ellipsis must replace the rest.
    size_t cut_o = 0;
    int cut_cols = 0, cut_set = 0;
    if (cap == 0) return 0;
    while (i < len) {
        size_t used;
        uint32_t cp = utf8_next(s + i, len - i, &used);
        i += used;
        if (is_control(cp) || cp == ' ' || cp == 0x2028 || cp == 0x2029) {
            if (last_space) continue;
            cp = ' ';
            last_space = 1;
        } else {
            last_space = 0;
        }
        int w = tail_char_width(cp);
        if (max_cols > 0 && !cut_set && cols + w > max_cols - ell_cols) {
            cut_o = o, cut_cols = cols, cut_set = 1;
        }
        if (max_cols > 0 && cols + w > max_cols) { /* does not fit: cut at the mark */
            o = cut_o;
            while (o > 0 && out[o - 1] == ' ') o--, cut_cols--;
            size_t el = strlen(ellipsis);
            if (o + el < cap) {
                memcpy(out + o, ellipsis, el);
                o += el;
                cut_cols += ell_cols;
            }
            out[o] = '\0';
            return cut_cols;
        }
        char enc[4];
        size_t n = utf8_put(cp, enc);
        if (o + n >= cap) break;
        memcpy(out + o, enc, n);
        o += n;
        cols += w;
    }
    while (o > 0 && out[o - 1] == ' ') o--, cols--; /* trailing white space */
    out[o] = '\0';
    return cols;
}

/* ---- fields ----------------------------------------------------------------------- */

// "HH:MM:SS" in local time of an RFC 3339 timestamp, or "--:--:--".
static void clock_of(const char *rfc3339, char out[9]) {
    strcpy(out, "--:--:--");
    if (!rfc3339) return;
    struct tm tm = {0};
    const char *p = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++) {
        }
    long offset = 0;
    if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2) offset = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    } else if (*p != 'Z' && *p != 'z') {
        return;
    }
    time_t t = timegm(&tm) - offset;
    struct tm local;
    if (localtime_r(&t, &local)) strftime(out, 9, "%H:%M:%S", &local);
}

static const char *json_str(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_num(const cJSON *o, const char *name, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valuedouble;
    return 1;
}

static size_t unreadable(const TailStyle *st, const char *what, size_t len, Out *o) {
    if (st->color) out_str(o, ANSI_DIM);
    out_fmt(o, "--:--:--  ???  unreadable %s (%zu bytes)", what, len);
    if (st->color) out_str(o, ANSI_RESET);
    return out_end_line(o);
}

/* ---- scored tweets ------------------------------------------------------------------ */

size_t tail_format_scored(const TailStyle *st, const char *json, size_t len, char *out, size_t cap,
                          int *label_out) {
    Out o = {out, cap, 0};
    if (label_out) *label_out = -1;
    out[0] = '\0';
    cJSON *root = cJSON_ParseWithLength(json, len);
    const char *text = json_str(root, "text"), *label = json_str(root, "label");
    double p;
    if (!root || !text || !label || !json_num(root, "p_positive", &p) || !(p >= 0 && p <= 1) ||
        (strcmp(label, "negative") && strcmp(label, "positive"))) {
        cJSON_Delete(root);
        return unreadable(st, "scored event", len, &o);
    }
    int positive = label[0] == 'p';
    if (label_out) *label_out = positive;
    char hms[9];
    clock_of(json_str(root, "scored_at"), hms);

    int filled = (int)lround(p * BAR_CELLS);
    if (st->color) {
        out_fmt(&o, ANSI_DIM "%s" ANSI_RESET "  %s%s" ANSI_RESET " %s", hms, positive ? ANSI_POS : ANSI_NEG,
                positive ? "POS" : "NEG", positive ? ANSI_GREEN : ANSI_RED);
        for (int i = 0; i < filled; i++) out_str(&o, "\xe2\x96\x88"); /* █ */
        out_str(&o, ANSI_DIM);
        for (int i = filled; i < BAR_CELLS; i++) out_str(&o, "\xe2\x96\x91"); /* ░ */
        out_fmt(&o, ANSI_RESET " %.2f  ", p);
    } else {
        out_fmt(&o, "%s  %s [", hms, positive ? "POS" : "NEG");
        for (int i = 0; i < BAR_CELLS; i++) out_str(&o, i < filled ? "#" : ".");
        out_fmt(&o, "] %.2f  ", p);
    }
    const int prefix_cols = 8 + 2 + 3 + 1 + BAR_CELLS + (st->color ? 0 : 2) + 1 + 4 + 2;
    int room = st->width > 0 ? st->width - prefix_cols : 0;
    if (st->width > 0 && room < 8) room = 8;
    if (o.len + 1 < o.cap) tail_clip_text(text, strlen(text), room, !st->color, out + o.len, o.cap - o.len);
    o.len += strlen(out + o.len);
    cJSON_Delete(root);
    return out_end_line(&o);
}

/* ---- alerts ----------------------------------------------------------------------------- */

size_t tail_format_alert(const TailStyle *st, const char *json, size_t len, char *out, size_t cap, int *ok) {
    Out o = {out, cap, 0};
    if (ok) *ok = 0;
    out[0] = '\0';
    cJSON *root = cJSON_ParseWithLength(json, len);
    const char *type = json_str(root, "type");
    if (!root || !type) {
        cJSON_Delete(root);
        return unreadable(st, "alert", len, &o);
    }
    if (ok) *ok = 1;
    const char *severity = json_str(root, "severity");
    const char *message = json_str(root, "message");
    if (!severity) severity = "warning";
    int critical = !strcmp(severity, "critical");
    char hms[9], safe_type[64], safe_sev[32];
    clock_of(json_str(root, "at"), hms);
    tail_clip_text(type, strlen(type), 40, 1, safe_type, sizeof safe_type);
    tail_clip_text(severity, strlen(severity), 16, 1, safe_sev, sizeof safe_sev);

    // line 1: the banner
    char head[160];
    int head_cols = snprintf(head, sizeof head, " %s ALERT  %s  %s  %s ", st->color ? "\xe2\x96\xb2" : "***",
                             safe_type, safe_sev, hms);
    if (st->color) {
        head_cols -= 2; /* ▲ is 3 bytes, 1 column */
        out_str(&o, critical ? ANSI_CRIT : ANSI_WARN);
        out_str(&o, head);
        for (int c = head_cols; c < st->width; c++) out_str(&o, " ");
        out_str(&o, ANSI_RESET "\n");
    } else {
        out_str(&o, head);
        out_str(&o, "***\n");
    }

    // line 2: the message and its numbers
    char detail[256] = "";
    Out d = {detail, sizeof detail, 0};
    double value, threshold, window;
    if (json_num(root, "value", &value)) out_fmt(&d, "value %g", value);
    if (json_num(root, "threshold", &threshold)) out_fmt(&d, "%sthreshold %g", d.len ? ", " : "", threshold);
    if (json_num(root, "window_s", &window)) out_fmt(&d, "%swindow %g s", d.len ? ", " : "", window);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "examples");
    if (cJSON_IsArray(ex) && cJSON_GetArraySize(ex) > 0)
        out_fmt(&d, "%s%d example%s", d.len ? ", " : "", cJSON_GetArraySize(ex),
                cJSON_GetArraySize(ex) > 1 ? "s" : "");

    char line[1024];
    snprintf(line, sizeof line, "%s%s%s%s", message ? message : "(no message)", d.len ? " (" : "", detail,
             d.len ? ")" : "");
    out_str(&o, st->color
                    ? (critical ? ANSI_NEG "\xe2\x96\x8c " ANSI_RESET : "\033[1;33m\xe2\x96\x8c " ANSI_RESET)
                    : "    ");
    if (o.len + 1 < o.cap)
        tail_clip_text(line, strlen(line), st->width > 0 ? st->width - 4 : 0, !st->color, out + o.len,
                       o.cap - o.len);
    o.len += strlen(out + o.len);
    cJSON_Delete(root);
    return out_end_line(&o);
}
