/* test_text.c — the tweet text pipeline end to end: real Sentiment140 rows (copied
 * from sentiment140-sample-53k.csv, latin-1, so converted with utf8_from_latin1)
 * and edge cases: empty, only a URL, only emoji, 10 KB of text, broken UTF-8,
 * non-English, emoticons, HTML entities, elongations, negations, hashtags,
 * numbers, mentions, URLs, the token cap, the stem cache and threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/text.h"
#include "model/utf8.h"
#include "model/util.h"

/* The tokens of s joined by spaces (into a static buffer: one call at a time). */
static const char *toks_n(TextPipeline *tp, const char *s, size_t len) {
    static char buf[1 << 16];
    TextTokens t;
    text_tokenize(tp, s, len, &t);
    size_t need = text_tokens_join(&t, buf, sizeof buf);
    assert_true(need < sizeof buf);
    return buf;
}

static const char *toks(TextPipeline *tp, const char *s) { return toks_n(tp, s, strlen(s)); }

/* The same for latin-1 input, as the Sentiment140 file stores it. */
static const char *toks_latin1(TextPipeline *tp, const char *s) {
    char utf8[UTF8_FROM_LATIN1_MAX(512)];
    assert_true(strlen(s) < 512);
    size_t n = utf8_from_latin1(s, strlen(s), utf8, sizeof utf8);
    return toks_n(tp, utf8, n);
}

static int setup(void **state) {
    *state = text_pipeline_new(NULL);
    return 0;
}

static int teardown(void **state) {
    text_pipeline_free(*state);
    return 0;
}

/* Every token is non-empty, NUL-terminated, valid UTF-8, at most
 * TEXT_MAX_TOKEN_BYTES long and free of whitespace; there are at most max. */
static void check_tokens(const TextTokens *t, int max) {
    assert_true(t->n >= 0 && t->n <= max);
    for (int k = 0; k < t->n; k++) {
        assert_true(t->len[k] > 0 && t->len[k] <= TEXT_MAX_TOKEN_BYTES);
        assert_int_equal(strlen(t->tok[k]), (size_t)t->len[k]);
        assert_true(utf8_valid(t->tok[k], (size_t)t->len[k]));
        for (int b = 0; b < t->len[k]; b++) assert_true((unsigned char)t->tok[k][b] > ' ');
    }
}

static void real_sentiment140_rows(void **state) {
    TextPipeline *tp = *state;
    static const char *const rows[][2] = {
        {"@switchfoot http://twitpic.com/2y1zl - Awww, that's a bummer.  You shoulda got David Carr of Third "
         "Day to do it. ;D",
         "<user> <url> aww that a bummer you shoulda got david carr of third day to do it <pos_emo>"},
        {"is upset that he can't update his Facebook by texting it... and might cry as a result  School "
         "today "
         "also. Blah!",
         "is upset that he can not updat his facebook by text it and might cri as a result school today also "
         "blah !"},
        {"@CaitlinOConnor i want tacos and margarhitas  telll gay i say hello&lt;3",
         "<user> i want taco and margarhita tell gay i say hello <pos_emo>"},
        {"i Love my atekinzz so much. &amp;&amp; i soo miss her.. ",
         "i love my atekinzz so much i soo miss her"},
        {"@nchokkan https://www.mycomicshop.com/search?TID=395031 But all says not in stock ",
         "<user> <url> but all say not in stock"},
        {"http://twitpic.com/2y36e - cant see the flowers falling  i dont have a camera, just my cellphone",
         "<url> can not see the flower fall i do not have a camera just my cellphon"},
        {"@machineplay I'm so sorry you're having to go through this. Again.  #therapyfail",
         "<user> i'm so sorri you'r have to go through this again therapyfail"},
        {"@widyatarina say what??? kal penn's leaving house?! noooooo!!! awww... i totally missed it "
         "tonight ",
         "<user> say what ?? kal penn leav hous ? ! noo !! aww i total miss it tonight"},
        {"Watching RealKidPoker (Daniel Negreanu) lose $160,000 in four hours real time via twitter. He's "
         "losing it ",
         "watch realkidpok daniel negreanu lose <num> in four hour real time via twitter he lose it"},
        {"It's 6.20pm - early days in a looooooong night at work ",
         "it <num> pm earli day in a loong night at work"},
        {"just came home  :&gt;", "just came home <pos_emo>"},
        {"http://bit.ly/7c0ya  --&gt; my facebook, add me if you have one ",
         "<url> my facebook add me if you have one"},
        {"@h4nn4hhh yes i am, i don't use just becuase &quot;Cyrus&quot; is a popular surname ",
         "<user> yes i am i do not use just becuas cyrus is a popular surnam"},
        {"@joepolitics Good afternoon ;)  nice quote, gotta agree! ",
         "<user> good afternoon <pos_emo> nice quot gotta agre !"},
        /* latin-1 bytes: "köszi" */
        {"@dassad10 majd adj linket please  k\xF6szi", "<user> majd adj linket pleas köszi"},
        /* the file holds some UTF-8 as latin-1: "ï¿½" is a lost apostrophe */
        {"@Sofii_Noel that\xEF\xBF\xBDs bad ", "<user> that bad"},
        {"@DonnieWahlberg ooh I\xEF\xBF\xBDm excited and not even going 2 be there  long love YOUTUBE!",
         "<user> ooh i'm excit and not even go <num> be there long love youtub !"},
        {"23 or 24\xEF\xBF\xBD"
         "C possible today. Nice ",
         "<num> or <num> c possibl today nice"},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        assert_string_equal(toks_latin1(tp, rows[k][0]), rows[k][1]);
}

static void empty_and_blank(void **state) {
    TextPipeline *tp = *state;
    TextTokens t;
    assert_int_equal(text_tokenize(tp, "", 0, &t), 0);
    assert_int_equal(text_tokenize(tp, NULL, 0, &t), 0);
    assert_int_equal(text_tokenize(tp, " \t\r\n \xC2\xA0\xE3\x80\x80", 10, &t),
                     0); /* nbsp, ideographic space */
    assert_int_equal(text_tokenize(tp, "... -- ,;: \"'() *&^%$", 21, &t), 0);
    assert_int_equal(text_tokenize(tp, "\0\0\0", 3, &t), 0);
    assert_string_equal(toks(tp, "#"), "");
    assert_string_equal(toks(tp, "@"), "");
}

static void urls(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "http://t.co/abc"), "<url>");
    assert_string_equal(toks(tp, "  HTTPS://Example.COM/a?b=1&amp;c=2  "), "<url>");
    assert_string_equal(toks(tp, "www.google.com"), "<url>");
    assert_string_equal(toks(tp, "ftp://files.example.org/x"), "<url>");
    assert_string_equal(toks(tp, "see bit.ly/xyz now"), "see <url> now");
    assert_string_equal(toks(tp, "tinyurl.com/c8bvqh"), "<url>");
    assert_string_equal(toks(tp, "go to google.com."), "go to <url>");
    assert_string_equal(toks(tp, "look http://x.com/a!"), "look <url> !");
    assert_string_equal(toks(tp, "(http://x.com/a), ok"), "<url> ok");
    assert_string_equal(toks(tp, "check:http://x.com"), "check <url>");
    assert_string_equal(toks(tp, "http://a.com http://b.com"), "<url> <url>");
    /* not URLs */
    assert_string_equal(toks(tp, "lame.hey"), "lame hey");
    assert_string_equal(toks(tp, "i.e. ok"), "i e ok");
    assert_string_equal(toks(tp, "file.txt"), "file txt");
    assert_string_equal(toks(tp, "Awww.... yes"), "aww yes");
    assert_string_equal(toks(tp, "fun.me"), "fun me");
}

static void mentions(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "@user"), "<user>");
    assert_string_equal(toks(tp, "@user, @user: @user! @user? @user."),
                        "<user> <user> <user> ! <user> ? <user>");
    assert_string_equal(toks(tp, "@user's car"), "<user> car");
    assert_string_equal(toks(tp, "@user\xE2\x80\x99s car"), "<user> car");
    assert_string_equal(toks(tp, "@_x_1 hi"), "<user> hi");
    assert_string_equal(toks(tp, "(@user)"), "<user>");
    assert_string_equal(toks(tp, "@ home"), "home");
    assert_string_equal(toks(tp, "me@mail.com"), "me <url>");
}

static void hashtags(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "#fail"), "fail");
    assert_string_equal(toks(tp, "#FollowFriday #Loving"), "followfriday love");
    assert_string_equal(toks(tp, "#1 #2day"), "<num> 2day");
    assert_string_equal(toks(tp, "#air_paradis"), "air paradi");
    assert_string_equal(toks(tp, "##double"), "doubl");
}

static void numbers(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "1,000 3.14 10:30 $100 50% 007 -5"),
                        "<num> <num> <num> <num> <num> <num> <num>");
    assert_string_equal(toks(tp, "1,000,000.50"), "<num>");
    assert_string_equal(toks(tp, "2nd 4ever b4 gr8 mp3"), "2nd 4ever b4 gr8 mp3");
    assert_string_equal(toks(tp, "6.20pm 10:30am 5pm"), "<num> pm <num> am 5pm");
    assert_string_equal(toks(tp, "ends with 5."), "end with <num>");
    assert_string_equal(toks(tp, "1, 2, 3"), "<num> <num> <num>");
    assert_string_equal(toks(tp, "\xD9\xA1\xD9\xA2"), "<num>");         /* Arabic-Indic digits */
    assert_string_equal(toks(tp, "\xEF\xBC\x91\xEF\xBC\x92"), "<num>"); /* fullwidth digits */
}

static void emoticons(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, ":) :-) : ) :D =) ;) ;-) :P :p :'), XD xD <3 ^_^ ^^ (: :* :]"),
                        "<pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> "
                        "<pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> <pos_emo> "
                        "<pos_emo> <pos_emo>");
    assert_string_equal(toks(tp, ":( :-( : ( :'( :/ :\\ :| :S =( >:( </3 -_- T_T ;_; ): :["),
                        "<neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> "
                        "<neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo> <neg_emo>");
    assert_string_equal(toks(tp, "thanks:) sad:( lol:P"), "thank <pos_emo> sad <neg_emo> lol <pos_emo>");
    assert_string_equal(toks(tp, "yay :))))))))))))))))))))))) ok"), "yay <pos_emo> ok");
    assert_string_equal(toks(tp, "&lt;3 &lt;/3 &gt;:("), "<pos_emo> <neg_emo> <neg_emo>");
    assert_string_equal(toks(tp, "\xEF\xBC\x9A\xEF\xBC\x89"), "<pos_emo>"); /* fullwidth ":)" */
    /* not emoticons */
    assert_string_equal(toks(tp, ":Dave at 10:30, <30, Plan: (a) XP :o"), "dave at <num> <num> plan a xp o");
    assert_string_equal(toks(tp, "x:/y"), "x y");
}

static void emoji(void **state) {
    TextPipeline *tp = *state;
    /* only emoji: one token each, repeated ones too */
    assert_string_equal(toks(tp, "\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x94\xA5"),
                        "\xF0\x9F\x98\x82 \xF0\x9F\x98\x82 \xF0\x9F\x94\xA5");
    /* skin tone and variation selector dropped */
    assert_string_equal(toks(tp, "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE2\x9D\xA4\xEF\xB8\x8F"),
                        "\xF0\x9F\x91\x8D \xE2\x9D\xA4");
    /* a ZWJ sequence (woman technologist) and a flag are one token each */
    assert_string_equal(
        toks(tp, "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"),
        "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7");
    /* glued to words */
    assert_string_equal(toks(tp, "love\xF0\x9F\x98\x8Dit"), "love \xF0\x9F\x98\x8D it");
    assert_string_equal(toks(tp, "&hearts; \xE2\x98\xBA"), "\xE2\x99\xA5 \xE2\x98\xBA");
    /* stray joiners and modifiers alone vanish */
    assert_string_equal(toks(tp, "\xE2\x80\x8D \xF0\x9F\x8F\xBD \xEF\xB8\x8F"), "");
}

static void punctuation_and_elongation(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "sooooo goooood!!!!"), "soo good !!");
    assert_string_equal(toks(tp, "why? why?? why?!?"), "whi ? whi ?? whi ? ! ?");
    assert_string_equal(toks(tp, "YESSSS"), "yess");
    assert_string_equal(toks(tp, "hahahaha zzzz"), "hahahaha zz");
    assert_string_equal(toks(tp, "loooove"), "loov");
    assert_string_equal(toks(tp, "\xEF\xBD\x88\xEF\xBD\x89\xEF\xBC\x81"), "hi !"); /* fullwidth "hi!" */
}

static void negations(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "can't don't won't isn't didn't couldn't ain't shan't"),
                        "can not do not will not is not did not could not is not shall not");
    assert_string_equal(toks(tp, "cant dont wont isnt didnt cannot doesnt havent wasnt"),
                        "can not do not will not is not did not can not doe not have not was not");
    assert_string_equal(toks(tp, "DON\xE2\x80\x99T Can`t"), "do not can not");
    assert_string_equal(toks(tp, "not never no nothing nobody"), "not never no noth nobodi");
    assert_string_equal(toks(tp, "n't"), "not");
    /* the negation survives stemming; without stemming too */
    TextConfig cfg = text_config_default();
    cfg.stem = 0;
    TextPipeline *raw = text_pipeline_new(&cfg);
    assert_string_equal(toks(raw, "I don't love running"), "i do not love running");
    text_pipeline_free(raw);
}

static void html_entities(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "Tom &amp; Jerry &quot;rock&quot;"), "tom jerri rock");
    assert_string_equal(toks(tp, "it&#39;s it&#x27;s don&#8217;t"), "it it do not");
    assert_string_equal(toks(tp, "&amp;lt;3"), "lt <num>"); /* decoded once only */
    assert_string_equal(toks(tp, "&#128512; &bogus; AT&T"), "\xF0\x9F\x98\x80 bogus at t");
    assert_string_equal(toks(tp, "&#xD800; &#0; ok"), "xd800 <num> ok");
}

static void broken_utf8(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks_n(tp, "ab \xFF cd", 7), "ab cd");
    assert_string_equal(toks_n(tp,
                               "ab\xFF"
                               "cd",
                               5),
                        "ab'cd");                                  /* between letters: a lost apostrophe */
    assert_string_equal(toks_n(tp, "ab \xC0\xAF cd", 8), "ab cd"); /* overlong '/' */
    assert_string_equal(toks_n(tp, "ab \xE0\x80\xAF cd", 9), "ab cd");      /* overlong, 3 bytes */
    assert_string_equal(toks_n(tp, "ab \xF0\x80\x80\xAF cd", 10), "ab cd"); /* overlong, 4 bytes */
    assert_string_equal(toks_n(tp, "ab \xED\xA0\x80 cd", 9), "ab cd");      /* surrogate */
    assert_string_equal(toks_n(tp, "ab \xF4\x90\x80\x80 cd", 10), "ab cd"); /* > U+10FFFF */
    assert_string_equal(toks_n(tp, "ab \x80\xBF cd", 8), "ab cd");          /* lone continuations */
    assert_string_equal(toks_n(tp, "caf\xC3", 4), "caf");                   /* truncated at the end */
    assert_string_equal(toks_n(tp, "caf\xE2\x82", 5), "caf");
    assert_string_equal(toks_n(tp, "caf\xF0\x9F\x98", 6), "caf");
    assert_string_equal(toks_n(tp, "don\xFFt", 5), "do not");
    assert_string_equal(toks_n(tp, "caf\xE9 ok", 7), "caf ok"); /* latin-1 in UTF-8 text */
    assert_string_equal(toks_n(tp, "\xF0\x9F\x98\x82\xF0\x9F\x98", 7), "\xF0\x9F\x98\x82");

    /* random bytes never break the contract */
    Rng r;
    rng_seed(&r, 2024);
    char buf[300];
    TextTokens t;
    for (int it = 0; it < 20000; it++) {
        size_t n = rng_below(&r, sizeof buf);
        for (size_t k = 0; k < n; k++) {
            uint32_t x = rng_below(&r, 8);
            /* mix plain text, emoticon characters, entities and high bytes */
            buf[k] = x < 3   ? (char)rng_below(&r, 256)
                     : x < 5 ? "ab :)<3&#;x@w.?!'"[rng_below(&r, 17)]
                             : (char)(0x80 + rng_below(&r, 128));
        }
        text_tokenize(tp, buf, n, &t);
        check_tokens(&t, TEXT_MAX_TOKENS_DEFAULT);
    }
}

static void non_english(void **state) {
    TextPipeline *tp = *state;
    assert_string_equal(toks(tp, "\xC3\x87"
                                 "a va tr\xC3\xA8s bien, J'ai ador\xC3\xA9 l'\xC3\x89"
                                 "COLE"),
                        "\xC3\xA7"
                        "a va tr\xC3\xA8s bien j'ai ador\xC3\xA9 l'\xC3\xA9"
                        "cole");
    /* Japanese: each kanji alone, kana runs together, fullwidth '!' */
    assert_string_equal(
        toks(tp, "\xE4\xBB\x8A\xE6\x97\xA5\xE3\x81\xAF\xE6\xA5\xBD\xE3\x81\x97\xE3\x81\x84\xEF\xBC\x81"),
        "\xE4\xBB\x8A \xE6\x97\xA5 \xE3\x81\xAF \xE6\xA5\xBD \xE3\x81\x97\xE3\x81\x84 !");
    /* Arabic: words kept, never stemmed; the Arabic comma separates */
    assert_string_equal(
        toks(tp,
             "\xD8\xA3\xD9\x86\xD8\xA7 \xD8\xB3\xD8\xB9\xD9\x8A\xD8\xAF\xD8\x8C \xD8\xAC\xD8\xAF\xD8\xA7"),
        "\xD8\xA3\xD9\x86\xD8\xA7 \xD8\xB3\xD8\xB9\xD9\x8A\xD8\xAF \xD8\xAC\xD8\xAF\xD8\xA7");
    /* Russian and Greek are lowercased */
    assert_string_equal(
        toks(tp, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCE\x93\xCE\x95\xCE\x99\xCE\x91"),
        "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCE\xB3\xCE\xB5\xCE\xB9\xCE\xB1");
    /* mojibake from the training file is undone: "cafÃ©" is "café" */
    assert_string_equal(toks(tp, "caf\xC3\x83\xC2\xA9 it\xC3\xA2\xC2\x80\xC2\x99s"), "caf\xC3\xA9 it");
    TextConfig cfg = text_config_default();
    cfg.fix_mojibake = 0;
    TextPipeline *keep = text_pipeline_new(&cfg);
    assert_string_equal(toks(keep, "caf\xC3\x83\xC2\xA9"), "caf\xC3\xA3");
    text_pipeline_free(keep);
}

static void long_text_respects_the_cap(void **state) {
    TextPipeline *tp = *state;
    size_t n = 10 * 1024;
    char *big = mallocCheck(n);
    for (size_t k = 0; k < n; k++) big[k] = "word :) http://x.y/ "[k % 20];
    TextTokens t;
    assert_int_equal(text_tokenize(tp, big, n, &t), TEXT_MAX_TOKENS_DEFAULT);
    check_tokens(&t, TEXT_MAX_TOKENS_DEFAULT);
    assert_string_equal(t.tok[0], "word");
    assert_string_equal(t.tok[1], TEXT_TOK_POS_EMO);
    assert_string_equal(t.tok[2], TEXT_TOK_URL);

    /* one 10 KB word of 3-byte letters (hangul): cut at a character boundary */
    for (size_t k = 0; k + 3 <= n; k += 3) memcpy(big + k, k % 2 ? "\xEA\xB0\x80" : "\xEB\x82\x98", 3);
    assert_int_equal(text_tokenize(tp, big, n / 3 * 3, &t), 1);
    check_tokens(&t, 1);
    assert_int_equal(t.len[0], TEXT_MAX_TOKEN_BYTES / 3 * 3);

    /* the largest cap, and a cap of 1 with a two-token negation */
    TextConfig cfg = text_config_default();
    cfg.max_tokens = TEXT_MAX_TOKENS_CAP;
    TextPipeline *wide = text_pipeline_new(&cfg);
    for (size_t k = 0; k < n; k++) big[k] = "a b c d "[k % 8];
    assert_int_equal(text_tokenize(wide, big, n, &t), TEXT_MAX_TOKENS_CAP);
    check_tokens(&t, TEXT_MAX_TOKENS_CAP);
    text_pipeline_free(wide);
    cfg.max_tokens = 1;
    TextPipeline *one = text_pipeline_new(&cfg);
    assert_string_equal(toks(one, "don't go"), "do");
    assert_string_equal(toks(one, ":( go"), "<neg_emo>");
    text_pipeline_free(one);
    free(big);
}

/* Inputs built to make a scanner backtrack: each must be read in linear time (a
 * quadratic scan of 1 MB would time the test out) and keep the contract. */
static void pathological_inputs(void **state) {
    (void)state;
    static const char *const units[] = {
        "a.", ":", "&#1",  "\xF0\x9F", "\xE2\x80\x8D", "\xF0\x9F\x98\x80\xE2\x80\x8D", "@", "!?", "<", "^_",
        "1,", "x", "http", "&amp;",    "\xC3\x83\xC2"};
    size_t n = 1 << 20;
    char *big = mallocCheck(n);
    TextConfig cfg = text_config_default();
    cfg.max_tokens = TEXT_MAX_TOKENS_CAP;
    TextPipeline *tp = text_pipeline_new(&cfg);
    TextTokens t;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u]), len = 0;
        while (len + ul <= n) {
            memcpy(big + len, units[u], ul);
            len += ul;
        }
        text_tokenize(tp, big, len, &t);
        check_tokens(&t, TEXT_MAX_TOKENS_CAP);
    }
    text_pipeline_free(tp);
    free(big);
}

static void special_tokens_are_never_stemmed(void **state) {
    TextPipeline *tp = *state;
    TextTokens t;
    const char *s = "@user http://x.com 12 :) :( not";
    text_tokenize(tp, s, strlen(s), &t);
    assert_int_equal(t.n, 6);
    assert_string_equal(t.tok[0], TEXT_TOK_USER);
    assert_string_equal(t.tok[1], TEXT_TOK_URL);
    assert_string_equal(t.tok[2], TEXT_TOK_NUM);
    assert_string_equal(t.tok[3], TEXT_TOK_POS_EMO);
    assert_string_equal(t.tok[4], TEXT_TOK_NEG_EMO);
    assert_string_equal(t.tok[5], TEXT_TOK_NOT);
    /* words cannot spell a special token */
    assert_string_equal(toks(tp, "<url> <user>"), "url user");
}

static void tokens_join_truncates_whole_tokens(void **state) {
    TextPipeline *tp = *state;
    TextTokens t;
    text_tokenize(tp, "hello big world", 15, &t);
    char out[12];
    assert_int_equal(text_tokens_join(&t, out, sizeof out), 15);
    assert_string_equal(out, "hello big");
    assert_int_equal(text_tokens_join(&t, out, 0), 15);
    char exact[16];
    assert_int_equal(text_tokens_join(&t, exact, sizeof exact), 15);
    assert_string_equal(exact, "hello big world");
}

/* ---- the cache and threads change nothing ---- */

/* Texts that exercise every rule, repeated in varied order. */
static const char *const corpus[] = {
    "@switchfoot http://twitpic.com/2y1zl - Awww, that's a bummer. ;D",
    "is upset that he can't update his Facebook by texting it... Blah!",
    "I LOVE this sooooo much!!!! <3 &lt;3 :-( :'( XD",
    "dont wont cannot isn't won't ain't never not nothing",
    "running runners ran happily happiness generously generation",
    "\xF0\x9F\x98\x82\xF0\x9F\x98\x82 \xE4\xBB\x8A\xE6\x97\xA5 caf\xC3\xA9 na\xC3\xAFve",
    "connection connected connecting connections connective",
    "amazing amazed amazement amazingly amazes",
};

static void joined_corpus(TextPipeline *tp, int rounds, char *out, size_t cap) {
    size_t w = 0;
    int nc = (int)(sizeof corpus / sizeof corpus[0]);
    for (int r = 0; r < rounds; r++) {
        const char *s = corpus[(r * 5) % nc];
        TextTokens t;
        text_tokenize(tp, s, strlen(s), &t);
        size_t n = text_tokens_join(&t, out + w, cap - w);
        assert_true(w + n + 1 < cap);
        w += n;
        out[w++] = '\n';
    }
    out[w] = '\0';
}

static void stem_cache_is_invisible(void **state) {
    (void)state;
    static char a[1 << 16], b[1 << 16], c[1 << 16];
    static const int slots[] = {0, 4, 65536};
    char *outs[] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        TextConfig cfg = text_config_default();
        cfg.stem_cache_slots = slots[k];
        TextPipeline *tp = text_pipeline_new(&cfg);
        joined_corpus(tp, 200, outs[k], sizeof a);
        TextStats st = text_pipeline_stats(tp);
        assert_int_equal(st.texts, 200);
        assert_true(st.tokens > 1000);
        if (slots[k] == 0) assert_int_equal(st.stem_hits, 0);
        if (slots[k] == 65536) assert_true(st.stem_hits > 10 * st.stem_misses);
        text_pipeline_free(tp);
    }
    assert_string_equal(a, b);
    assert_string_equal(a, c);
}

typedef struct {
    char *out;
    size_t cap;
} ThreadJob;

static void *thread_main(void *arg) {
    ThreadJob *job = arg;
    TextPipeline *tp = text_pipeline_new(NULL);
    joined_corpus(tp, 2000, job->out, job->cap);
    text_pipeline_free(tp);
    return NULL;
}

static void two_threads_match_one_pipeline(void **state) {
    (void)state;
    size_t cap = 1 << 19;
    char *one = mallocCheck(cap), *t1 = mallocCheck(cap), *t2 = mallocCheck(cap);
    TextPipeline *tp = text_pipeline_new(NULL);
    joined_corpus(tp, 2000, one, cap);
    text_pipeline_free(tp);
    ThreadJob j1 = {t1, cap}, j2 = {t2, cap};
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, thread_main, &j1), 0);
    assert_int_equal(pthread_create(&b, NULL, thread_main, &j2), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_string_equal(one, t1);
    assert_string_equal(one, t2);
    free(one);
    free(t1);
    free(t2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(real_sentiment140_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_and_blank, setup, teardown),
        cmocka_unit_test_setup_teardown(urls, setup, teardown),
        cmocka_unit_test_setup_teardown(mentions, setup, teardown),
        cmocka_unit_test_setup_teardown(hashtags, setup, teardown),
        cmocka_unit_test_setup_teardown(numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(emoticons, setup, teardown),
        cmocka_unit_test_setup_teardown(emoji, setup, teardown),
        cmocka_unit_test_setup_teardown(punctuation_and_elongation, setup, teardown),
        cmocka_unit_test_setup_teardown(negations, setup, teardown),
        cmocka_unit_test_setup_teardown(html_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(non_english, setup, teardown),
        cmocka_unit_test_setup_teardown(long_text_respects_the_cap, setup, teardown),
        cmocka_unit_test(pathological_inputs),
        cmocka_unit_test_setup_teardown(special_tokens_are_never_stemmed, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens_join_truncates_whole_tokens, setup, teardown),
        cmocka_unit_test(stem_cache_is_invisible),
        cmocka_unit_test(two_threads_match_one_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
