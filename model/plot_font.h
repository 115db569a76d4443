/* plot_font.h — a tiny built-in bitmap font for the plots: printable ASCII (32..126)
 * in 5x9 cells.
 *
 * Each glyph is 9 rows of 5 pixels: rows 0..6 hold capitals and digits (the
 * baseline is under row 6), rows 7..8 the descenders of g, j, p, q, y and the comma.
 * A row is one byte whose bit 4 is the leftmost pixel and bit 0 the rightmost. */
#ifndef BUZZRADAR_PLOT_FONT_H
#define BUZZRADAR_PLOT_FONT_H

#include <stdint.h>

enum {
    PLOT_FONT_W = 5,   /* glyph width in pixels */
    PLOT_FONT_H = 9,   /* glyph height in pixels, descenders included */
    PLOT_FONT_CAP = 7, /* height of capitals and digits (rows 0..6) */
};

/* The PLOT_FONT_H rows of character c. Any byte outside 32..126 gives the glyph of
 * '?'. Never NULL; the rows live in a static table. */
const uint8_t *plot_font_glyph(unsigned char c);

#endif
