/* html_entity.c — decoding of one HTML character reference (contract in
 * html_entity.h). */
#include "model/html_entity.h"

#include <string.h>

typedef struct {
    const char *name;
    uint32_t cp;
} Entity;

/* The named references seen in tweets (HTML's full list has 2,231; the rest are
 * left as text). */
static const Entity entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},     {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018},
    {"rsquo", 0x2019},  {"ldquo", 0x201C},  {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},
    {"copy", 0xA9},     {"reg", 0xAE},      {"trade", 0x2122}, {"euro", 0x20AC},  {"pound", 0xA3},
    {"cent", 0xA2},     {"yen", 0xA5},      {"deg", 0xB0},     {"middot", 0xB7},  {"bull", 0x2022},
    {"hearts", 0x2665}, {"eacute", 0xE9},   {"egrave", 0xE8},  {"agrave", 0xE0},  {"ccedil", 0xE7},
};

#define ENTITY_NAME_MAX   8 /* longest name above */
#define ENTITY_DIGITS_MAX 8

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint32_t decode_numeric(const char *s, size_t len, size_t *adv) {
    /* s = "&#..." */
    size_t i = 2;
    int hex = i < len && (s[i] == 'x' || s[i] == 'X');
    if (hex) i++;
    size_t start = i;
    uint32_t v = 0;
    while (i < len && i - start < ENTITY_DIGITS_MAX) {
        int d = hex ? hex_value(s[i]) : (is_digit(s[i]) ? s[i] - '0' : -1);
        if (d < 0) break;
        v = v * (hex ? 16 : 10) + (uint32_t)d;
        i++;
    }
    if (i == start || i >= len || s[i] != ';') return 0;
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *adv = i + 1;
    return v;
}

uint32_t html_entity_decode(const char *s, size_t len, size_t *adv) {
    if (len < 4 || s[0] != '&') return 0; /* the shortest is "&lt;" */
    if (s[1] == '#') return decode_numeric(s, len, adv);
    size_t n = 1;
    while (n < len && n <= ENTITY_NAME_MAX && s[n] != ';') n++;
    if (n >= len || s[n] != ';') return 0;
    size_t name_len = n - 1;
    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++) {
        if (strlen(entities[k].name) == name_len && !memcmp(entities[k].name, s + 1, name_len)) {
            *adv = n + 1;
            return entities[k].cp;
        }
    }
    return 0;
}
