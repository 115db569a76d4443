/* text.h — the tweet text pipeline: raw tweet bytes in, the tokens the model sees
 * out, identically at training and serving time.
 *
 * Rules, in the order they apply (TEXT_PIPELINE_VERSION changes with any of them):
 *  1. Bytes are read as UTF-8. Invalid sequences are repaired: each maximal invalid
 *     subpart reads as U+FFFD (see utf8.h), which separates words.
 *     Mojibake (UTF-8 once misread as latin-1: "Ã©" for "é") is undone when
 *     TextConfig.fix_mojibake is set. HTML character references (&amp; &lt; &gt;
 *     &quot; &#39; &#x27; ..., see html_entity.h) are decoded once: "&amp;lt;"
 *     reads "&lt;". Fullwidth ASCII ("ｈｉ！") reads as ASCII, typographic
 *     apostrophes (’ ‘ ʼ ´ `) as "'".
 *  2. URLs ("http://", "https://", "ftp://", "www.", or a host name under a common
 *     top-level domain followed by '/': "bit.ly/x"; "example.com" alone for .com,
 *     .net, .org) become TEXT_TOK_URL; trailing . , ; : ! ? ) ] } ' " are not part
 *     of the URL. "@name" (letters, digits, '_', not after a letter or digit, with
 *     an optional "'s") becomes TEXT_TOK_USER. '#' is dropped, so "#hashtag" reads
 *     as the word "hashtag".
 *  3. Emoticons (the list is in emoticon.h: ":)", ":-(", ":D", "<3", ":'(", ";)",
 *     ":P", "=)", ":/", "XD", "^_^", "T_T", ...) become TEXT_TOK_POS_EMO or
 *     TEXT_TOK_NEG_EMO; they may follow a word directly ("thanks:)").
 *  4. Words are maximal runs of letters, digits and combining marks of any script,
 *     with an apostrophe kept between two letters ("it's") and '.', ',' or ':'
 *     kept between two digits ("1,000.5", "10:30"). A word without letters is a
 *     number and becomes TEXT_TOK_NUM ("2nd" and "gr8" are words, but a number
 *     with '.', ',' or ':' ends before letters: "6.20pm" -> "<num>" "pm"). An
 *     invalid character between two letters counts as an apostrophe (files that
 *     lost "’" hold "don\xEF\xBF\xBDt"). Words are lowercased (ASCII, Latin-1,
 *     Latin Extended-A, Vietnamese, Greek, Cyrillic, Armenian), a run of 3 or more
 *     identical characters is cut to 2 ("soooo" -> "soo", "yessss" -> "yess"), and
 *     a word longer than TEXT_MAX_TOKEN_BYTES keeps its first characters that fit.
 *  5. Negations: a word ending in "n't" and the apostrophe-less forms (dont, cant,
 *     wont, isnt, didnt, ... and "cannot") become two tokens, the auxiliary and
 *     TEXT_TOK_NOT: "don't" -> "do" "not", "can't"/"cant"/"cannot" -> "can" "not",
 *     "won't" -> "will" "not", "ain't" -> "is" "not", "n't" -> "not". "not",
 *     "no", "never" and "nothing" stay words (Snowball keeps "not", "no" and
 *     "never" as they are and stems "nothing" to "noth"). TEXT_TOK_NOT is never
 *     stemmed.
 *  6. With TextConfig.stem, each word containing an ASCII letter is replaced by its
 *     Snowball English stem ("loving" -> "love", "it's" -> "it"). Special tokens,
 *     numbers, emoji, ideographs, '!' and '?' are never stemmed; words without an
 *     ASCII letter (other scripts) are left as they are (Snowball English could not
 *     change them anyway).
 *  7. Emoji are tokens of their own, one per emoji: a ZWJ sequence ("👩‍💻") or
 *     a flag (two regional indicators) is one token, skin tones and variation
 *     selectors are dropped ("👍🏽" -> "👍", "❤️" -> "❤"). Each CJK ideograph
 *     is a token of its own (kana and hangul runs are words).
 *  8. '!' and '?' are kept: a run of one of them becomes "!" (or "?") when it is
 *     one character long and "!!" (or "??") when longer; "?!" is "?" then "!".
 *     Other punctuation and symbols separate words and are dropped.
 *  9. At most TextConfig.max_tokens tokens are kept: the first ones; the rest of
 *     the text is not read.
 *
 * Tokens are NUL-terminated UTF-8. A TextPipeline is not thread-safe: use one per
 * thread (each has its own Snowball stemmer, stem cache and token memory). Output
 * never depends on the cache or on earlier calls. */
#ifndef BUZZRADAR_TEXT_H
#define BUZZRADAR_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Increase when any rule above changes the tokens of some text: model files record
 * it so that a model is never served with a tokenizer it was not trained with. */
#define TEXT_PIPELINE_VERSION 1

/* Special tokens. No word can spell them (words never contain '<'). */
#define TEXT_TOK_URL     "<url>"
#define TEXT_TOK_USER    "<user>"
#define TEXT_TOK_NUM     "<num>"
#define TEXT_TOK_POS_EMO "<pos_emo>"
#define TEXT_TOK_NEG_EMO "<neg_emo>"
#define TEXT_TOK_NOT     "not"

#define TEXT_MAX_TOKENS_CAP     256 /* the largest allowed TextConfig.max_tokens */
#define TEXT_MAX_TOKENS_DEFAULT 64
#define TEXT_MAX_TOKEN_BYTES    64 /* longest token, in bytes, without the NUL */

typedef struct {
    int max_tokens;       /* 1..TEXT_MAX_TOKENS_CAP, default 64 */
    int stem;             /* 1: Snowball English stemming (default), 0: none */
    int stem_cache_slots; /* stem cache entries, 0..2^24 (64 bytes each); 0: no cache.
                             Default 65536 (4 MiB): 98% hits on tweets */
    int fix_mojibake;     /* 1: undo UTF-8-read-as-latin-1 mojibake (default), 0: keep it */
} TextConfig;

/* The defaults above. */
TextConfig text_config_default(void);

typedef struct TextPipeline TextPipeline;

/* A pipeline for one thread. Exits with a message when cfg is out of range (a bug
 * of the caller: validate user input first) or when memory runs out. cfg may be
 * NULL for the defaults. */
TextPipeline *text_pipeline_new(const TextConfig *cfg);
void text_pipeline_free(TextPipeline *tp); /* NULL is fine */

/* The configuration the pipeline was built with. */
const TextConfig *text_pipeline_config(const TextPipeline *tp);

/* The tokens of one text. tok[i] points to len[i] bytes followed by a NUL; the
 * pointers stay valid until the next text_tokenize on the same pipeline. */
typedef struct {
    int n;
    const char *tok[TEXT_MAX_TOKENS_CAP];
    int len[TEXT_MAX_TOKENS_CAP];
} TextTokens;

/* Tokenises s[0..len) (any bytes; s may be NULL when len is 0) into *out and
 * returns out->n (0 for a text with no tokens). Never fails and never allocates. */
int text_tokenize(TextPipeline *tp, const char *s, size_t len, TextTokens *out);

/* Writes the tokens joined by single spaces into out (see the output-buffer
 * contract of utf8.h: at most cap-1 bytes and a NUL, tokens are never cut).
 * Returns the length of the whole joined text, which is larger than what was
 * written when cap is too small (as snprintf does). */
size_t text_tokens_join(const TextTokens *t, char *out, size_t cap);

typedef struct {
    uint64_t texts;       /* calls to text_tokenize */
    uint64_t tokens;      /* tokens produced */
    uint64_t stem_hits;   /* stems answered by the cache */
    uint64_t stem_misses; /* stems computed by Snowball */
} TextStats;

/* Counters since the pipeline was created. */
TextStats text_pipeline_stats(const TextPipeline *tp);

#endif
