/* html_entity.h — decoding of one HTML character reference (&amp; &#39; &#x27; ...)
 * in tweet text. Twitter's APIs and the Sentiment140 data escape &, <, > and quotes
 * this way; the text pipeline decodes them once (so "&amp;lt;" reads "&lt;"). */
#ifndef BUZZRADAR_HTML_ENTITY_H
#define BUZZRADAR_HTML_ENTITY_H

#include <stddef.h>
#include <stdint.h>

/* s[0..len) starts with '&'. When it starts with a complete character reference —
 * a named one from the table in html_entity.c (amp, lt, gt, quot, apos, nbsp, the
 * typographic quotes and dashes, hellip, hearts and a few more) or a numeric one
 * (&#NNN; or &#xHHH;) whose value is a Unicode scalar value other than U+0000 —
 * returns its codepoint and stores in *adv the bytes it covers (the ';' included).
 * Otherwise returns 0 and leaves *adv alone: the '&' is then an ordinary character.
 * Names are case-sensitive and the ';' is required, as in HTML's strict syntax. */
uint32_t html_entity_decode(const char *s, size_t len, size_t *adv);

#endif
