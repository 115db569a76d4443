/* emoticon.c — recognition of ASCII emoticons and their polarity (what counts is
 * listed in emoticon.h). */
#include "model/emoticon.h"

#include <string.h>

/* The byte at w[k], or 0 past the end of the window. */
static unsigned char at(const char *w, int n, int k) { return k < n ? (unsigned char)w[k] : 0; }

static int is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* End of text or whitespace. */
static int is_space(unsigned char c) { return c == 0 || c == ' ' || (c >= '\t' && c <= '\r'); }

static int in(unsigned char c, const char *set) { return c && strchr(set, c) != NULL; }

int emoticon_may_start(unsigned char c0, unsigned char c1) {
    switch (c0) {
    case ':':
    case ';':
    case '=':
        return 1;
    case '<':
        return c1 == '3' || c1 == '/';
    case '>':
        return in(c1, ":;=_.");
    case 'x':
    case 'X':
        return c1 == 'D' || c1 == 'd';
    case '^':
        return in(c1, "_.-^");
    case '-':
        return in(c1, "_.");
    case 'T':
        return in(c1, "_.-");
    case 'u':
    case '.':
        return c1 == '_';
    case '(':
        return in(c1, ":;-");
    case ')':
        return in(c1, ":-");
    default:
        return 0;
    }
}

/* "<3", "<333" and "</3". */
static int match_heart(const char *w, int n, int *used) {
    int k = 1, pol = 1;
    if (at(w, n, k) == '/') {
        pol = -1;
        k++;
    }
    if (at(w, n, k) != '3') return 0;
    while (at(w, n, k) == '3') k++;
    if (is_alnum(at(w, n, k))) return 0;
    *used = k;
    return pol;
}

/* Eastern faces: left eye, a middle, right eye ("^_^", "-.-", "T_T"). */
typedef struct {
    char left, right;
    const char *mids; /* allowed one-character middles; '_' may repeat up to 3 times */
    int empty_mid;    /* "^^" */
    int pol;
} Eastern;

static const Eastern eastern[] = {
    {'^', '^', "_.-", 1, 1}, {'-', '-', "_.", 0, -1}, {'T', 'T', "_.-", 0, -1}, {';', ';', "_", 0, -1},
    {'>', '<', "_.", 0, -1}, {'u', 'u', "_", 0, -1},  {'=', '=', "_", 0, -1},   {'.', '.', "_", 0, -1},
};

static int match_eastern(const char *w, int n, EmoticonLeft left, int *used) {
    if (left == EMOTICON_AFTER_ALNUM) return 0;
    for (size_t e = 0; e < sizeof eastern / sizeof eastern[0]; e++) {
        const Eastern *f = &eastern[e];
        if (at(w, n, 0) != (unsigned char)f->left) continue;
        int k = 1;
        unsigned char m = at(w, n, k);
        if (m == '_' && strchr(f->mids, '_')) {
            while (at(w, n, k) == '_' && k <= 3) k++;
        } else if (in(m, f->mids)) {
            k++;
        } else if (!f->empty_mid) {
            continue;
        }
        if (at(w, n, k) != (unsigned char)f->right) continue;
        k++;
        if (is_alnum(at(w, n, k))) continue;
        *used = k;
        return f->pol;
    }
    return 0;
}

/* Polarity of a mouth after the given eyes (eyes 'x' stands for x and X). */
static int mouth_polarity(unsigned char eyes, unsigned char m) {
    if (eyes == 'x') return m == 'D' || m == 'd';
    if (eyes == ';') return in(m, ")]DdPp*") ? 1 : m == '(' ? -1 : 0;
    if (in(m, ")]}>DdPp3*")) return 1;
    if (in(m, "([{</\\|S@")) return -1;
    return 0;
}

/* [>] EYES [NOSE] MOUTH{1,} */
static int match_western(const char *w, int n, EmoticonLeft left, int *used) {
    int k = 0;
    if (at(w, n, 0) == '>' && in(at(w, n, 1), ":;=")) k = 1;
    unsigned char eyes = at(w, n, k);
    if (eyes == 'X') eyes = 'x';
    if (eyes == 'x') {
        if (k > 0 || left == EMOTICON_AFTER_ALNUM) return 0;
    } else if (!in(eyes, ":;=")) {
        return 0;
    }
    k++;
    unsigned char nose = 0;
    int spaced = 0;
    if (eyes != 'x') {
        unsigned char c = at(w, n, k);
        if (in(c, "-'^")) {
            nose = c;
            k++;
        } else if (c == ' ' && in(at(w, n, k + 1), "()")) {
            spaced = 1; /* ": )" as Sentiment140 itself lists it */
            k++;
        }
    }
    unsigned char m = at(w, n, k);
    int pol = mouth_polarity(eyes, m);
    if (!pol) return 0;
    if (nose == '\'' && m != '(' && m != ')') return 0; /* tears only on ":'(" and ":')" */
    k++;
    if (m == '/' || m == '\\') { /* ":/" but not "://" */
        unsigned char c = at(w, n, k);
        if (c == '/' || c == '\\' || is_alnum(c)) return 0;
    } else {
        while (at(w, n, k) == m) k++;
    }
    if ((is_alnum(m) || spaced) && is_alnum(at(w, n, k))) return 0;
    *used = k;
    return pol;
}

/* "(:", "(-:", "(;" and "):", ")-:", standing alone between spaces. */
static int match_reversed(const char *w, int n, EmoticonLeft left, int *used) {
    unsigned char m = at(w, n, 0);
    if (left != EMOTICON_AFTER_SPACE || (m != '(' && m != ')')) return 0;
    int k = 1;
    if (at(w, n, k) == '-') k++;
    unsigned char eyes = at(w, n, k);
    if (eyes != ':' && !(eyes == ';' && m == '(')) return 0;
    k++;
    if (!is_space(at(w, n, k))) return 0;
    *used = k;
    return m == '(' ? 1 : -1;
}

int emoticon_match(const char *w, int n, EmoticonLeft left, int *used) {
    if (n <= 0) return 0;
    int pol;
    if (w[0] == '<') return match_heart(w, n, used);
    if ((pol = match_eastern(w, n, left, used))) return pol;
    if ((pol = match_western(w, n, left, used))) return pol;
    return match_reversed(w, n, left, used);
}
