/* emoticon.h — recognition of ASCII emoticons (":)", ":-(", ":D", "<3", ":'(",
 * ";)", ":P", "=)", ":/", "XD", "^_^", "T_T", "(:" ...) and their polarity.
 *
 * The caller shows the matcher a short window of the text at the scan position,
 * one byte per codepoint: ASCII codepoints as themselves, and every other codepoint
 * replaced by a stand-in of its class (EMOTICON_STANDIN_SPACE, _ALNUM, _OTHER).
 * Matching is a pure function of the window and of what precedes it.
 *
 * What counts (documented for users in text.h):
 *   western  [>] EYES [NOSE] MOUTH{1,}   EYES ':' '=' ';', NOSE '-' '\'' '^',
 *            or "x"/"X" + D/d (XD); ": )" and ": (" with a space for a nose.
 *            positive mouths ) ] } > D d P p 3 *  (";" eyes: ) ] D d P p *),
 *            negative mouths ( [ { < / \ | S @.
 *   hearts   <3 (positive), </3 (negative), any number of 3s.
 *   eastern  ^_^ ^^ ^.^ ^-^ (positive); -_- -.- T_T T.T ;_; >_< >.< u_u =_= ._.
 *            (negative); the middle '_' may repeat (-__-).
 *   reversed (: (-: (; (positive); ): )-: (negative), only between spaces.
 * A mouth made of a letter or digit (":D", ":P", "XD", ":3") must not be followed
 * by a letter or digit (":Dave" is not one); repeated mouths (":)))") are one
 * emoticon; ":o" and other neutral faces are not emoticons here. */
#ifndef BUZZRADAR_EMOTICON_H
#define BUZZRADAR_EMOTICON_H

/* Stand-ins for non-ASCII codepoints in the window. */
#define EMOTICON_STANDIN_SPACE ' '    /* any whitespace */
#define EMOTICON_STANDIN_ALNUM 'a'    /* a letter, digit or ideograph of any script */
#define EMOTICON_STANDIN_OTHER '\x7f' /* anything else (symbols, emoji, punctuation) */

/* How long a window the caller should give (fewer when the text ends sooner). */
#define EMOTICON_WINDOW 12

/* What precedes the window. */
typedef enum {
    EMOTICON_AFTER_SPACE = 0, /* start of text or whitespace */
    EMOTICON_AFTER_OTHER = 1, /* punctuation, symbols, emoji */
    EMOTICON_AFTER_ALNUM = 2, /* a letter or digit (as in "thanks:)") */
} EmoticonLeft;

/* Cheap pre-check: 1 when an emoticon may start with c0 followed by c1 (c1 = 0 at
 * the end of the text, or any byte: a non-ASCII or escaped next character only
 * has to be a possible second character). 0 means emoticon_match would fail. */
int emoticon_may_start(unsigned char c0, unsigned char c1);

/* Matches an emoticon at the start of w[0..n). Returns +1 (positive) or -1
 * (negative) and stores in *used how many window bytes (= codepoints) it covers,
 * or returns 0 (no emoticon; *used untouched). When a match runs to the end of a
 * full window, the caller may skip further repeats of w[*used - 1]. */
int emoticon_match(const char *w, int n, EmoticonLeft left, int *used);

#endif
