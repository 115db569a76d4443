/* plot.c — line charts as PNG images (see plot.h): an RGB canvas with anti-aliased
 * lines, discs and bitmap text, axes with nice ticks, legend placement, a PNG
 * encoder over zlib and atomic file writing. */
#include "model/plot.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "model/plot_font.h"

enum {
    PLOT_MAX_TICKS = 24, /* ticks per axis */
    PLOT_LABEL_LEN = 32, /* bytes of one tick label */
    PLOT_TEXT_MAX = 160, /* glyphs of a title or axis label */
    PLOT_NAME_MAX = 40,  /* glyphs of a legend name */
    PLOT_LEGEND_FRAME = 0xc8c8c8,
};

static int plot_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int plot_error(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- canvas: RGB pixels with a clip rectangle ------------------------------------ */

typedef struct {
    int w, h;
    uint8_t *rgb;           /* (h, w, 3) */
    int cx0, cy0, cx1, cy1; /* drawing is clipped to [cx0, cx1) x [cy0, cy1) */
} Canvas;

static void canvas_clip(Canvas *c, int x0, int y0, int x1, int y1) {
    c->cx0 = imax(x0, 0);
    c->cy0 = imax(y0, 0);
    c->cx1 = imin(x1, c->w);
    c->cy1 = imin(y1, c->h);
}

/* Blends rgb over pixel (x, y) with opacity a in 0..255. */
static void canvas_blend(Canvas *c, int x, int y, uint32_t rgb, int a) {
    if (a <= 0 || x < c->cx0 || x >= c->cx1 || y < c->cy0 || y >= c->cy1) return;
    uint8_t *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    const int src[3] = {(int)(rgb >> 16) & 255, (int)(rgb >> 8) & 255, (int)rgb & 255};
    if (a >= 255) a = 255;
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)((p[k] * (255 - a) + src[k] * a + 127) / 255);
}

/* Fills [x0, x1) x [y0, y1). */
static void canvas_fill(Canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) canvas_blend(c, x, y, rgb, 255);
}

/* ---- text: the bitmap font at an integer scale ----------------------------------- */

/* Copies src into dst (dstlen >= 4) as printable ASCII: each UTF-8 sequence or control
 * byte becomes '?'; text longer than max_glyphs glyphs ends in "...". NULL -> "". */
static void text_fit(char *dst, size_t dstlen, const char *src, int max_glyphs) {
    size_t n = 0;
    int limit = imin(max_glyphs, (int)dstlen - 1);
    if (limit < 0) limit = 0;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p && (int)n < limit + 1;) {
        unsigned char ch = *p++;
        if (ch >= 0x80) {
            while ((*p & 0xc0) == 0x80) p++;
            ch = '?';
        } else if (ch < 32 || ch == 127) {
            ch = '?';
        }
        if ((int)n == limit) { /* one glyph too many: truncate */
            n = (size_t)imax(limit - 3, 0);
            for (int k = 0; k < 3 && (int)n < limit; k++) dst[n++] = '.';
            break;
        }
        dst[n++] = (char)ch;
    }
    dst[n] = '\0';
}

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n > 0 ? n * (PLOT_FONT_W + 1) * scale - scale : 0;
}

/* Draws ASCII text with its top-left corner at (x, y); bold doubles each stroke. */
static void canvas_text(Canvas *c, int x, int y, const char *s, int scale, uint32_t rgb, int bold) {
    for (; *s; s++, x += (PLOT_FONT_W + 1) * scale) {
        const uint8_t *rows = plot_font_glyph((unsigned char)*s);
        for (int gy = 0; gy < PLOT_FONT_H; gy++)
            for (int gx = 0; gx < PLOT_FONT_W; gx++) {
                if (!(rows[gy] & (0x10 >> gx))) continue;
                int px = x + gx * scale, py = y + gy * scale;
                canvas_fill(c, px, py, px + scale + (bold ? 1 : 0), py + scale, rgb);
            }
    }
}

/* Draws ASCII text turned 90 degrees counter-clockwise (read from bottom to top), the
 * glyphs' tops facing left, starting at the bottom-left corner (x, y_bottom). */
static void canvas_text_up(Canvas *c, int x, int y_bottom, const char *s, int scale, uint32_t rgb) {
    for (int u0 = 0; *s; s++, u0 += (PLOT_FONT_W + 1) * scale) {
        const uint8_t *rows = plot_font_glyph((unsigned char)*s);
        for (int gy = 0; gy < PLOT_FONT_H; gy++)
            for (int gx = 0; gx < PLOT_FONT_W; gx++) {
                if (!(rows[gy] & (0x10 >> gx))) continue;
                int px = x + gy * scale, py = y_bottom - u0 - (gx + 1) * scale;
                canvas_fill(c, px, py, px + scale, py + scale, rgb);
            }
    }
}

/* ---- coverage mask: anti-aliased lines and discs of one series -------------------- */

typedef struct {
    int x0, y0, w, h; /* canvas rectangle covered */
    uint8_t *a;       /* (h, w) coverage 0..255 */
} Mask;

/* Raises the coverage of pixel (x, y) given the distance d of its centre to the
 * shape's core and the core's half-width r: full inside, a 1-pixel ramp at the edge. */
static void mask_cover(Mask *m, int x, int y, double d, double r) {
    int lx = x - m->x0, ly = y - m->y0;
    if (lx < 0 || ly < 0 || lx >= m->w || ly >= m->h) return;
    double cov = clampd(r + 0.5 - d, 0.0, 1.0);
    int a = (int)lrint(cov * 255.0);
    uint8_t *p = m->a + (size_t)ly * (size_t)m->w + (size_t)lx;
    if (a > *p) *p = (uint8_t)a;
}

/* The segment (ax, ay)-(bx, by) with round caps, hw pixels either side of its axis.
 * Walks the longer direction, visiting only the pixels near the line. */
static void mask_segment(Mask *m, double ax, double ay, double bx, double by, double hw) {
    const double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    const double ext = hw + 1.0;
    const int steep = fabs(dy) > fabs(dx);
    /* u is the walked coordinate, v the other one */
    double ua = steep ? ay : ax, ub = steep ? by : bx, va = steep ? ax : ay, vb = steep ? bx : by;
    int u0 = (int)floor(fmin(ua, ub) - ext), u1 = (int)ceil(fmax(ua, ub) + ext);
    int ulo = steep ? m->y0 : m->x0, uhi = ulo + (steep ? m->h : m->w);
    u0 = imax(u0, ulo);
    u1 = imin(u1, uhi - 1);
    const double du = ub - ua, reach = ext * 1.5; /* |dv/du| <= 1: the line is within ext*sqrt(2) */
    for (int u = u0; u <= u1; u++) {
        double uc = u + 0.5;
        double t = du != 0 ? clampd((uc - ua) / du, 0.0, 1.0) : 0.0;
        double vl = va + t * (vb - va);
        int v0 = (int)floor(vl - reach), v1 = (int)ceil(vl + reach);
        for (int v = v0; v <= v1; v++) {
            double px = steep ? v + 0.5 : uc, py = steep ? uc : v + 0.5;
            double s = len2 > 0 ? clampd(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0) : 0.0;
            double ex = px - (ax + s * dx), ey = py - (ay + s * dy);
            mask_cover(m, steep ? v : u, steep ? u : v, sqrt(ex * ex + ey * ey), hw);
        }
    }
}

static void mask_disc(Mask *m, double cx, double cy, double r) {
    for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
        for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++)
            mask_cover(m, x, y, hypot(x + 0.5 - cx, y + 0.5 - cy), r);
}

/* Paints rgb through the mask onto the canvas and clears the mask. */
static void mask_paint(Mask *m, Canvas *c, uint32_t rgb) {
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            uint8_t *p = m->a + (size_t)y * (size_t)m->w + (size_t)x;
            if (*p) canvas_blend(c, m->x0 + x, m->y0 + y, rgb, *p);
            *p = 0;
        }
}

/* ---- axes: nice ticks and their labels --------------------------------------------- */

typedef struct {
    double lo, hi; /* axis limits, lo < hi, both finite */
    double step;
    int n; /* ticks */
    double v[PLOT_MAX_TICKS];
    char label[PLOT_MAX_TICKS][PLOT_LABEL_LEN];
} Axis;

/* Data extent [lo, hi] made a usable range: an empty extent becomes [0, 1], a
 * (nearly) zero-width one is padded by 10% of its magnitude (1 around zero). */
static void axis_pad(double *lo, double *hi, int have) {
    if (!have) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    double mid = *lo / 2 + *hi / 2, half = *hi / 2 - *lo / 2;
    if (half > fabs(mid) * 1e-9 && half > 1e-300) return;
    double pad = fabs(mid) > 1e-290 ? fabs(mid) * 0.1 : 1.0;
    *lo = fmax(mid - pad, -DBL_MAX);
    *hi = fmin(mid + pad, DBL_MAX);
}

/* 1, 2 or 5 times a power of ten, the smallest at least raw (raw > 0). */
static double nice_step(double raw) {
    if (!(raw > 0) || !isfinite(raw)) return 1.0;
    double mag = pow(10.0, floor(log10(raw)));
    if (!(mag > 0) || !isfinite(mag)) return raw;
    double f = raw / mag;
    double step = (f <= 1.0 + 1e-9 ? 1.0 : f <= 2.0 + 1e-9 ? 2.0 : f <= 5.0 + 1e-9 ? 5.0 : 10.0) * mag;
    return isfinite(step) ? step : raw;
}

static void axis_format(Axis *a) {
    double amax = 0;
    for (int i = 0; i < a->n; i++) amax = fmax(amax, fabs(a->v[i]));
    if (amax < 1e9 && a->step >= 1e-6) {
        int dec = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
        dec = imax(0, imin(dec, 9));
        for (int i = 0; i < a->n; i++) snprintf(a->label[i], PLOT_LABEL_LEN, "%.*f", dec, a->v[i]);
        return;
    }
    /* very large or very small numbers: the fewest significant digits that tell
     * neighbouring ticks apart */
    for (int prec = 2; prec <= 17; prec++) {
        for (int i = 0; i < a->n; i++) snprintf(a->label[i], PLOT_LABEL_LEN, "%.*g", prec, a->v[i]);
        int distinct = 1;
        for (int i = 1; i < a->n; i++) distinct &= strcmp(a->label[i - 1], a->label[i]) != 0;
        if (distinct) return;
    }
}

/* Ticks for the range [lo, hi] (lo < hi, finite) with about `target` intervals.
 * tight: the limits are lo and hi, else they widen to the outer ticks (when those are
 * finite). integers: steps of at least 1. */
static void axis_ticks(Axis *a, double lo, double hi, int target, int integers, int tight) {
    double raw = (hi / 2 - lo / 2) / imax(target, 1) * 2;
    double step, k0, k1;
    for (;;) {
        step = nice_step(raw);
        if (integers && step < 1) step = 1;
        k0 = floor(lo / step);
        k1 = ceil(hi / step);
        if (k1 - k0 + 1 <= PLOT_MAX_TICKS) break;
        raw = step * 2.01; /* precision trouble (huge values): the next nice step */
    }
    a->step = step;
    a->lo = tight ? lo : k0 * step;
    a->hi = tight ? hi : k1 * step;
    if (!isfinite(a->lo) || a->lo > lo) a->lo = lo;
    if (!isfinite(a->hi) || a->hi < hi) a->hi = hi;
    a->n = 0;
    for (double k = k0; k <= k1 && a->n < PLOT_MAX_TICKS; k++) {
        double v = k * step;
        if (!isfinite(v) || v < a->lo || v > a->hi) continue;
        if (fabs(v) < step * 1e-6) v = 0.0; /* no "-0.00" */
        a->v[a->n++] = v;
    }
    axis_format(a);
}

static int axis_label_width(const Axis *a, int scale) {
    int w = 0;
    for (int i = 0; i < a->n; i++) w = imax(w, text_width(a->label[i], scale));
    return w;
}

/* Position of v in [0, 1] along the axis (the range may span nearly 2 * DBL_MAX). */
static double axis_frac(const Axis *a, double v) {
    double den = a->hi / 2 - a->lo / 2;
    return den > 0 ? clampd((v / 2 - a->lo / 2) / den, 0.0, 1.0) : 0.5;
}

/* ---- one panel ------------------------------------------------------------------- */

typedef struct {
    const PlotOptions *opt;
    const PlotSeries *series;
    int n_series;
    int s;          /* font scale */
    int pad, tick;  /* spacing and tick length, pixels */
    double lw, mr;  /* line half-width and marker radius, pixels */
    int x0, y0;     /* frame: the rectangle with corners (x0, y0), (x1, y1) (inclusive) */
    int x1, y1;     /* the curves live inside it, in [x0 + 1, x1) x [y0 + 1, y1) */
    Axis ax, ay;    /* axes */
    int integers_x; /* every x is a whole number: integer x ticks */
    double xmin, xmax, ymin, ymax;
    int legend_rows; /* named series */
    int name_max;    /* glyphs shown of a legend name */
    int legend_w, legend_h, legend_x, legend_y;
    int legend_outside;
} Panel;

static double series_x(const PlotSeries *s, int i) { return s->x ? s->x[i] : (double)i + 1.0; }
static int point_ok(const PlotSeries *s, int i) { return isfinite(series_x(s, i)) && isfinite(s->y[i]); }

/* Data area inside the frame: a margin keeps markers off the frame. */
static double panel_px(const Panel *p, double x) {
    double left = p->x0 + 1 + p->mr + 2, right = p->x1 - p->mr - 2;
    return left + axis_frac(&p->ax, x) * (right - left);
}
static double panel_py(const Panel *p, double y) {
    double top = p->y0 + 1 + p->mr + 2, bottom = p->y1 - p->mr - 2;
    return bottom - axis_frac(&p->ay, y) * (bottom - top);
}

static int panel_has_mark(const Panel *p) { return p->opt->mark_label && isfinite(p->opt->mark_x); }

static void panel_extent(Panel *p) {
    int have = 0;
    p->integers_x = 1;
    p->xmin = p->ymin = DBL_MAX;
    p->xmax = p->ymax = -DBL_MAX;
    for (int k = 0; k < p->n_series; k++) {
        const PlotSeries *s = &p->series[k];
        for (int i = 0; i < s->n; i++) {
            if (!point_ok(s, i)) continue;
            double x = series_x(s, i), y = s->y[i];
            have = 1;
            p->xmin = fmin(p->xmin, x);
            p->xmax = fmax(p->xmax, x);
            p->ymin = fmin(p->ymin, y);
            p->ymax = fmax(p->ymax, y);
            if (fabs(x) > 1e15 || x != floor(x)) p->integers_x = 0;
        }
    }
    if (!have) p->integers_x = 0;
    axis_pad(&p->ymin, &p->ymax, have);
    if (panel_has_mark(p)) {
        p->xmin = have ? fmin(p->xmin, p->opt->mark_x) : p->opt->mark_x;
        p->xmax = have ? fmax(p->xmax, p->opt->mark_x) : p->opt->mark_x;
        have = 1;
    }
    axis_pad(&p->xmin, &p->xmax, have);
}

/* The mark's column and its label's box [*bx, *bx + *bw) x [*by, *by + *bh): right of
 * the line at the top of the plot area, or left of it when it would not fit. */
static int panel_mark_geometry(const Panel *p, char *label, size_t len, int *bx, int *by, int *bw, int *bh) {
    int col = (int)floor(panel_px(p, p->opt->mark_x));
    text_fit(label, len, p->opt->mark_label, PLOT_NAME_MAX);
    *bw = text_width(label, p->s);
    *bh = PLOT_FONT_H * p->s;
    *by = p->y0 + 1 + p->pad;
    *bx = col + 2 * p->s;
    if (*bx + *bw >= p->x1 - p->s) *bx = col - 2 * p->s - *bw;
    return col;
}

/* Number of curve samples (every ~2 pixels along each line, and each marker) that
 * fall in the rectangle [x, x + w) x [y, y + h) grown by a margin. */
static long panel_curve_hits(const Panel *p, int x, int y, int w, int h) {
    const double g = p->mr + p->s * 2;
    const double bx0 = x - g, by0 = y - g, bx1 = x + w + g, by1 = y + h + g;
    long hits = 0;
    for (int k = 0; k < p->n_series; k++) {
        const PlotSeries *s = &p->series[k];
        for (int i = 0; i < s->n; i++) {
            if (!point_ok(s, i)) continue;
            double ax = panel_px(p, series_x(s, i)), ay = panel_py(p, s->y[i]);
            double bx = ax, by = ay;
            if (i + 1 < s->n && point_ok(s, i + 1)) {
                bx = panel_px(p, series_x(s, i + 1));
                by = panel_py(p, s->y[i + 1]);
            }
            int steps = (int)fmin(ceil(hypot(bx - ax, by - ay) / 2), 1e5);
            for (int j = 0; j <= steps; j++) {
                double t = steps ? (double)j / steps : 0.0;
                double qx = ax + t * (bx - ax), qy = ay + t * (by - ay);
                hits += qx >= bx0 && qx < bx1 && qy >= by0 && qy < by1;
            }
        }
    }
    if (panel_has_mark(p)) {
        char label[PLOT_NAME_MAX + 1];
        int lx, ly, lw, lh, col = panel_mark_geometry(p, label, sizeof label, &lx, &ly, &lw, &lh);
        hits += col >= bx0 && col < bx1; /* the line runs the full height */
        hits += lx < bx1 && lx + lw > bx0 && ly < by1 && ly + lh > by0;
    }
    return hits;
}

static int legend_row_h(const Panel *p) { return (PLOT_FONT_H + 3) * p->s; }
static int legend_swatch_w(const Panel *p) { return 12 * p->s; }

/* The legend's size; names are cut to keep it within about a third of the panel. */
static void panel_legend_size(Panel *p, int W) {
    int tw = 0;
    p->name_max =
        imax(6, imin(PLOT_NAME_MAX, (W / 3 - legend_swatch_w(p) - 3 * p->pad) / ((PLOT_FONT_W + 1) * p->s)));
    p->legend_rows = 0;
    for (int k = 0; k < p->n_series; k++) {
        const char *name = p->series[k].name;
        if (!name || !*name) continue;
        char buf[PLOT_NAME_MAX + 1];
        text_fit(buf, sizeof buf, name, p->name_max);
        tw = imax(tw, text_width(buf, p->s));
        p->legend_rows++;
    }
    if (p->opt->legend == PLOT_LEGEND_NONE) p->legend_rows = 0;
    p->legend_w = p->pad + legend_swatch_w(p) + p->pad + tw + p->pad;
    p->legend_h = p->pad + p->legend_rows * legend_row_h(p) - 3 * p->s + p->pad;
}

/* Vertical layout (title, x labels) and the y axis; then the horizontal one for a
 * given right margin, and the x axis. */
static void panel_layout(Panel *p, int W, int H, int right) {
    const PlotOptions *o = p->opt;
    const int s = p->s, glyph = PLOT_FONT_H * s;
    p->y0 = p->pad + (o->title && *o->title ? glyph + p->pad + s : p->pad);
    p->y1 = H - 1 -
            (p->tick + p->pad + PLOT_FONT_CAP * s + (o->xlabel && *o->xlabel ? p->pad + glyph : 0) + p->pad);
    int plot_h = p->y1 - p->y0;
    for (int target = imax(2, plot_h / (28 * s));; target--) {
        axis_ticks(&p->ay, p->ymin, p->ymax, target, 0, 0);
        double spacing = plot_h * p->ay.step / (p->ay.hi / 2 - p->ay.lo / 2) / 2;
        if (target <= 2 || spacing >= 3 * glyph) break;
    }
    p->x0 = p->pad + (o->ylabel && *o->ylabel ? glyph + p->pad : 0) + axis_label_width(&p->ay, s) +
            p->pad / 2 + p->tick;
    for (int pass = 0; pass < 2; pass++) {
        p->x1 = W - 1 - right;
        int plot_w = p->x1 - p->x0;
        for (int target = imax(2, plot_w / (40 * s));; target--) {
            axis_ticks(&p->ax, p->xmin, p->xmax, target, p->integers_x, 1);
            double spacing = plot_w * p->ax.step / (p->ax.hi / 2 - p->ax.lo / 2) / 2;
            if (target <= 2 || spacing >= axis_label_width(&p->ax, s) + 3 * p->pad) break;
        }
        /* the last x label is centred on its tick: keep it inside the panel */
        int half_last = p->ax.n ? text_width(p->ax.label[p->ax.n - 1], s) / 2 : 0;
        int need = half_last + p->pad - (int)p->mr - 2;
        if (right >= need) break;
        right = need;
    }
}

static void panel_place_legend(Panel *p, int W, int H) {
    const int base_right = 2 * p->pad;
    p->legend_outside = 0;
    if (p->legend_rows == 0) {
        panel_layout(p, W, H, base_right);
        return;
    }
    if (p->opt->legend == PLOT_LEGEND_AUTO) {
        panel_layout(p, W, H, base_right);
        const int m = p->pad;
        int fits = p->legend_w <= (p->x1 - p->x0) * 6 / 10 && p->legend_h <= (p->y1 - p->y0) * 7 / 10;
        const int xs[2] = {p->x1 - m - p->legend_w, p->x0 + 1 + m};
        const int ys[2] = {p->y0 + 1 + m, p->y1 - m - p->legend_h};
        /* top-right, top-left, bottom-right, bottom-left */
        for (int c = 0; fits && c < 4; c++) {
            int x = xs[c & 1], y = ys[c >> 1];
            if (panel_curve_hits(p, x, y, p->legend_w, p->legend_h) == 0) {
                p->legend_x = x;
                p->legend_y = y;
                return;
            }
        }
    }
    p->legend_outside = 1;
    panel_layout(p, W, H, p->legend_w + 2 * p->pad);
    p->legend_x = p->x1 + 2 * p->pad;
    p->legend_y = p->y0;
}

static void panel_draw_series(Panel *p, Canvas *c, Mask *m) {
    const int inner_w = p->x1 - p->x0 - 1;
    for (int k = 0; k < p->n_series; k++) {
        const PlotSeries *s = &p->series[k];
        int finite = 0;
        for (int i = 0; i < s->n; i++) finite += point_ok(s, i);
        /* markers on every point when they are at least ~4 diameters apart on average */
        const int all_markers = finite > 0 && finite * 8 * p->mr <= inner_w;
        for (int i = 0; i < s->n; i++) {
            if (!point_ok(s, i)) continue;
            double ax = panel_px(p, series_x(s, i)), ay = panel_py(p, s->y[i]);
            int next = i + 1 < s->n && point_ok(s, i + 1), prev = i > 0 && point_ok(s, i - 1);
            if (next)
                mask_segment(m, ax, ay, panel_px(p, series_x(s, i + 1)), panel_py(p, s->y[i + 1]), p->lw);
            if (all_markers || (!next && !prev)) mask_disc(m, ax, ay, p->mr);
        }
        mask_paint(m, c, s->rgb);
    }
}

static void panel_draw_legend(Panel *p, Canvas *c, Mask *m) {
    if (p->legend_rows == 0) return;
    const int s = p->s, x = p->legend_x, y = p->legend_y;
    if (!p->legend_outside) {
        canvas_fill(c, x, y, x + p->legend_w, y + p->legend_h, PLOT_BACKGROUND_RGB);
        canvas_fill(c, x, y, x + p->legend_w, y + 1, PLOT_LEGEND_FRAME);
        canvas_fill(c, x, y + p->legend_h - 1, x + p->legend_w, y + p->legend_h, PLOT_LEGEND_FRAME);
        canvas_fill(c, x, y, x + 1, y + p->legend_h, PLOT_LEGEND_FRAME);
        canvas_fill(c, x + p->legend_w - 1, y, x + p->legend_w, y + p->legend_h, PLOT_LEGEND_FRAME);
    }
    int row = 0;
    for (int k = 0; k < p->n_series; k++) {
        const PlotSeries *sr = &p->series[k];
        if (!sr->name || !*sr->name) continue;
        int ty = y + p->pad + row * legend_row_h(p);
        double cy = ty + PLOT_FONT_CAP * s / 2.0;
        double sx0 = x + p->pad, sx1 = sx0 + legend_swatch_w(p);
        Mask lm = {x, y, imin(p->legend_w, m->w), imin(p->legend_h, m->h), m->a};
        mask_segment(&lm, sx0 + p->lw, cy, sx1 - p->lw, cy, p->lw);
        mask_disc(&lm, (sx0 + sx1) / 2, cy, p->mr);
        mask_paint(&lm, c, sr->rgb);
        char buf[PLOT_NAME_MAX + 1];
        text_fit(buf, sizeof buf, sr->name, p->name_max);
        canvas_text(c, (int)sx1 + p->pad, ty, buf, s, PLOT_TEXT_RGB, 0);
        row++;
    }
}

/* Draws the panel into the canvas rectangle [ox, ox + W) x [oy, oy + H). Returns 0,
 * or -1 when the coverage mask cannot be allocated. */
static int panel_draw(Canvas *c, int ox, int oy, int W, int H, const PlotOptions *o, const PlotSeries *series,
                      int n_series, char *err, size_t errlen) {
    Panel p = {.opt = o, .series = series, .n_series = n_series};
    p.s = (int)lrint(fmin(W / 400.0, H / 250.0));
    p.s = imax(1, imin(p.s, 4));
    p.pad = 4 * p.s;
    p.tick = 3 * p.s;
    p.lw = 0.6 + 0.6 * p.s;
    p.mr = 1.0 + 1.5 * p.s;
    panel_extent(&p);
    panel_legend_size(&p, W);
    panel_place_legend(&p, W, H);

    Mask m = {0};
    m.w = imax(p.x1 - p.x0 - 1, imax(p.legend_w, 1));
    m.h = imax(p.y1 - p.y0 - 1, imax(p.legend_h, 1));
    m.a = calloc((size_t)m.w * (size_t)m.h, 1);
    if (!m.a) return plot_error(err, errlen, "plot: out of memory for a %dx%d panel", W, H);

    /* translate the panel geometry into canvas coordinates */
    p.x0 += ox;
    p.x1 += ox;
    p.y0 += oy;
    p.y1 += oy;
    p.legend_x += ox;
    p.legend_y += oy;
    const int s = p.s;
    canvas_clip(c, ox, oy, ox + W, oy + H);

    /* grid, under everything */
    for (int i = 0; i < p.ay.n; i++) {
        int y = (int)floor(panel_py(&p, p.ay.v[i]));
        canvas_fill(c, p.x0 + 1, y, p.x1, y + 1, PLOT_GRID_RGB);
    }
    for (int i = 0; i < p.ax.n; i++) {
        int x = (int)floor(panel_px(&p, p.ax.v[i]));
        canvas_fill(c, x, p.y0 + 1, x + 1, p.y1, PLOT_GRID_RGB);
    }

    /* the mark: a dashed vertical line and its label */
    if (panel_has_mark(&p)) {
        char label[PLOT_NAME_MAX + 1];
        int lx, ly, lw, lh, col = panel_mark_geometry(&p, label, sizeof label, &lx, &ly, &lw, &lh);
        for (int y = p.y0 + 1; y < p.y1; y += 7 * s)
            canvas_fill(c, col, y, col + s, imin(y + 4 * s, p.y1), PLOT_MARK_RGB);
        canvas_text(c, lx, ly, label, s, PLOT_MARK_RGB, 0);
    }

    /* curves, clipped to the inside of the frame */
    canvas_clip(c, p.x0 + 1, p.y0 + 1, p.x1, p.y1);
    m.x0 = p.x0 + 1;
    m.y0 = p.y0 + 1;
    int mw = m.w, mh = m.h;
    m.w = p.x1 - p.x0 - 1;
    m.h = p.y1 - p.y0 - 1;
    panel_draw_series(&p, c, &m);
    m.w = mw;
    m.h = mh;
    canvas_clip(c, ox, oy, ox + W, oy + H);

    /* frame and ticks */
    canvas_fill(c, p.x0, p.y0, p.x1 + 1, p.y0 + 1, PLOT_FRAME_RGB);
    canvas_fill(c, p.x0, p.y1, p.x1 + 1, p.y1 + 1, PLOT_FRAME_RGB);
    canvas_fill(c, p.x0, p.y0, p.x0 + 1, p.y1 + 1, PLOT_FRAME_RGB);
    canvas_fill(c, p.x1, p.y0, p.x1 + 1, p.y1 + 1, PLOT_FRAME_RGB);
    for (int i = 0; i < p.ay.n; i++) {
        int y = (int)floor(panel_py(&p, p.ay.v[i]));
        canvas_fill(c, p.x0 - p.tick, y, p.x0, y + 1, PLOT_FRAME_RGB);
        int tw = text_width(p.ay.label[i], s);
        canvas_text(c, p.x0 - p.tick - p.pad / 2 - tw, y - PLOT_FONT_CAP * s / 2, p.ay.label[i], s,
                    PLOT_TEXT_RGB, 0);
    }
    for (int i = 0; i < p.ax.n; i++) {
        int x = (int)floor(panel_px(&p, p.ax.v[i]));
        canvas_fill(c, x, p.y1 + 1, x + 1, p.y1 + 1 + p.tick, PLOT_FRAME_RGB);
        int tw = text_width(p.ax.label[i], s);
        canvas_text(c, x - tw / 2, p.y1 + 1 + p.tick + p.pad / 2, p.ax.label[i], s, PLOT_TEXT_RGB, 0);
    }

    /* title and axis labels, centred on the plot area */
    char buf[PLOT_TEXT_MAX + 1];
    int cx = (p.x0 + p.x1) / 2, cy = (p.y0 + p.y1) / 2;
    if (o->title && *o->title) {
        text_fit(buf, sizeof buf, o->title, (W - 2 * p.pad) / ((PLOT_FONT_W + 1) * s));
        int tw = text_width(buf, s) + 1;
        canvas_text(c, imax(ox + p.pad, cx - tw / 2), oy + p.pad, buf, s, PLOT_TEXT_RGB, 1);
    }
    if (o->xlabel && *o->xlabel) {
        text_fit(buf, sizeof buf, o->xlabel, (W - 2 * p.pad) / ((PLOT_FONT_W + 1) * s));
        int tw = text_width(buf, s);
        canvas_text(c, imax(ox + p.pad, cx - tw / 2),
                    p.y1 + 1 + p.tick + p.pad / 2 + PLOT_FONT_CAP * s + p.pad, buf, s, PLOT_TEXT_RGB, 0);
    }
    if (o->ylabel && *o->ylabel) {
        text_fit(buf, sizeof buf, o->ylabel, (H - 2 * p.pad) / ((PLOT_FONT_W + 1) * s));
        int tw = text_width(buf, s);
        canvas_text_up(c, ox + p.pad, imin(oy + H - p.pad, cy + tw / 2), buf, s, PLOT_TEXT_RGB);
    }

    panel_draw_legend(&p, c, &m);
    free(m.a);
    return 0;
}

/* ---- PNG encoding ------------------------------------------------------------------ */

static void png_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk (length, type, data, CRC-32 of type and data) at out; returns its size. */
static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t len) {
    png_put32(out, len);
    memcpy(out + 4, type, 4);
    if (len) memcpy(out + 8, data, len);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), out + 4, (uInt)len + 4);
    png_put32(out + 8 + len, crc);
    return 12 + (size_t)len;
}

static int png_paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Row y filtered with PNG filter f (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) into
 * t; returns the sum of its bytes read as signed, the usual cost heuristic. */
static long png_filter_row(const uint8_t *row, const uint8_t *up, size_t n, int f, uint8_t *t) {
    const uint8_t *left = row - 3; /* valid from i = 3 */
    switch (f) {
    case 0:
        memcpy(t, row, n);
        break;
    case 1:
        memcpy(t, row, 3);
        for (size_t i = 3; i < n; i++) t[i] = (uint8_t)(row[i] - left[i]);
        break;
    case 2:
        for (size_t i = 0; i < n; i++) t[i] = (uint8_t)(row[i] - up[i]);
        break;
    case 3:
        for (size_t i = 0; i < 3; i++) t[i] = (uint8_t)(row[i] - up[i] / 2);
        for (size_t i = 3; i < n; i++) t[i] = (uint8_t)(row[i] - (left[i] + up[i]) / 2);
        break;
    default:
        for (size_t i = 0; i < 3; i++) t[i] = (uint8_t)(row[i] - png_paeth(0, up[i], 0));
        for (size_t i = 3; i < n; i++) t[i] = (uint8_t)(row[i] - png_paeth(left[i], up[i], up[i - 3]));
        break;
    }
    long cost = 0;
    for (size_t i = 0; i < n; i++) cost += t[i] < 128 ? t[i] : 256 - t[i];
    return cost;
}

/* Filters every row with the filter whose output costs least (png_filter_row). The
 * first row is filtered against a row of zeros. raw is (h, 1 + 3w). */
static void png_filter(const Canvas *c, uint8_t *raw, uint8_t *trial, const uint8_t *zeros) {
    const size_t stride = (size_t)c->w * 3;
    for (int y = 0; y < c->h; y++) {
        const uint8_t *row = c->rgb + (size_t)y * stride, *up = y ? row - stride : zeros;
        long best_cost = -1;
        int best = 0;
        for (int f = 0; f < 5; f++) {
            long cost = png_filter_row(row, up, stride, f, trial + (size_t)f * stride);
            if (best_cost < 0 || cost < best_cost) {
                best_cost = cost;
                best = f;
            }
        }
        uint8_t *out = raw + (size_t)y * (stride + 1);
        out[0] = (uint8_t)best;
        memcpy(out + 1, trial + (size_t)best * stride, stride);
    }
}

/* The whole PNG file of the canvas in a malloc'ed buffer. Returns 0 or -1. */
static int png_encode(const Canvas *c, uint8_t **out, size_t *out_len, char *err, size_t errlen) {
    const size_t stride = (size_t)c->w * 3, raw_len = (stride + 1) * (size_t)c->h;
    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *raw = malloc(raw_len), *trial = malloc(5 * stride), *zeros = calloc(stride, 1);
    uint8_t *buf = malloc(8 + 25 + 12 + (size_t)zlen + 12);
    int rc = 0;
    if (!raw || !trial || !zeros || !buf) {
        rc = plot_error(err, errlen, "plot: out of memory for a %dx%d image", c->w, c->h);
        goto done;
    }
    png_filter(c, raw, trial, zeros);
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, signature, 8);
    size_t n = 8;
    uint8_t ihdr[13];
    png_put32(ihdr, (uint32_t)c->w);
    png_put32(ihdr + 4, (uint32_t)c->h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    n += png_chunk(buf + n, "IHDR", ihdr, sizeof ihdr);
    /* compress straight into the IDAT chunk's data field */
    int zrc = compress2(buf + n + 8, &zlen, raw, (uLong)raw_len, 6);
    if (zrc != Z_OK) {
        rc = plot_error(err, errlen, "plot: zlib compress2 failed (%d)", zrc);
        goto done;
    }
    uint8_t *idat = buf + n;
    png_put32(idat, (uint32_t)zlen);
    memcpy(idat + 4, "IDAT", 4);
    png_put32(idat + 8 + zlen, (uint32_t)crc32(crc32(0L, Z_NULL, 0), idat + 4, (uInt)zlen + 4));
    n += 12 + (size_t)zlen;
    n += png_chunk(buf + n, "IEND", NULL, 0);
    *out = buf;
    *out_len = n;
    buf = NULL;
done:
    free(raw);
    free(trial);
    free(zeros);
    free(buf);
    return rc;
}

/* Writes buf to path through a temporary file in the same directory and rename(2). */
static int plot_write_file(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return plot_error(err, errlen, "plot: out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = plot_error(err, errlen, "plot: cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    int e = fchmod(fd, 0644) != 0 ? errno : 0;
    for (size_t off = 0; !e && off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return plot_error(err, errlen, "plot: cannot write %s: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

/* ---- public functions --------------------------------------------------------------- */

static int plot_check_panel(const PlotOptions *o, const PlotSeries *series, int n_series, int panel,
                            int n_panels, char *err, size_t errlen) {
    char where[32] = "";
    if (n_panels > 1) snprintf(where, sizeof where, "panel %d: ", panel);
    int w = o->width ? o->width : PLOT_DEFAULT_WIDTH, h = o->height ? o->height : PLOT_DEFAULT_HEIGHT;
    if (w < PLOT_MIN_WIDTH || w > PLOT_MAX_SIDE || h < PLOT_MIN_HEIGHT || h > PLOT_MAX_SIDE)
        return plot_error(err, errlen, "plot: %ssize %dx%d is outside %dx%d .. %dx%d", where, o->width,
                          o->height, PLOT_MIN_WIDTH, PLOT_MIN_HEIGHT, PLOT_MAX_SIDE, PLOT_MAX_SIDE);
    if (o->legend != PLOT_LEGEND_AUTO && o->legend != PLOT_LEGEND_OUTSIDE && o->legend != PLOT_LEGEND_NONE)
        return plot_error(err, errlen, "plot: %sunknown legend placement %d", where, (int)o->legend);
    if (n_series < 0) return plot_error(err, errlen, "plot: %sn_series = %d", where, n_series);
    if (n_series > 0 && !series) return plot_error(err, errlen, "plot: %sseries is NULL", where);
    for (int k = 0; k < n_series; k++) {
        if (series[k].n < 0)
            return plot_error(err, errlen, "plot: %sseries %d has n = %d", where, k, series[k].n);
        if (series[k].n > 0 && !series[k].y)
            return plot_error(err, errlen, "plot: %sseries %d has %d points but y is NULL", where, k,
                              series[k].n);
    }
    return 0;
}

int plot_png_panels(const char *path, const char *title, int n_panels, const PlotOptions *panel_opts,
                    const PlotSeries *const *series, const int *n_series, char *err, size_t errlen) {
    if (!path || !*path) return plot_error(err, errlen, "plot: no output path");
    if (n_panels < 1 || n_panels > PLOT_MAX_PANELS)
        return plot_error(err, errlen, "plot: %d panels (1..%d)", n_panels, PLOT_MAX_PANELS);
    if (!series || !n_series) return plot_error(err, errlen, "plot: series or n_series is NULL");
    PlotOptions opts[PLOT_MAX_PANELS];
    int W = 0, H = 0;
    for (int i = 0; i < n_panels; i++) {
        opts[i] = panel_opts ? panel_opts[i] : (PlotOptions){0};
        if (plot_check_panel(&opts[i], series[i], n_series[i], i, n_panels, err, errlen)) return -1;
        if (!opts[i].width) opts[i].width = PLOT_DEFAULT_WIDTH;
        if (!opts[i].height) opts[i].height = PLOT_DEFAULT_HEIGHT;
        W += opts[i].width;
        H = imax(H, opts[i].height);
    }
    if (W > PLOT_MAX_WIDTH) return plot_error(err, errlen, "plot: figure width %d > %d", W, PLOT_MAX_WIDTH);

    /* the figure title band uses the font scale of the first panel */
    int s = imax(1, imin((int)lrint(fmin(opts[0].width / 400.0, opts[0].height / 250.0)), 4));
    int band = title && *title ? (PLOT_FONT_H + 6) * s : 0;
    Canvas c = {.w = W, .h = H + band};
    c.rgb = malloc((size_t)c.w * (size_t)c.h * 3);
    if (!c.rgb) return plot_error(err, errlen, "plot: out of memory for a %dx%d image", c.w, c.h);
    memset(c.rgb, 0xff, (size_t)c.w * (size_t)c.h * 3);
    int rc = 0;
    if (band) {
        char buf[PLOT_TEXT_MAX + 1];
        canvas_clip(&c, 0, 0, c.w, c.h);
        text_fit(buf, sizeof buf, title, (W - 8 * s) / ((PLOT_FONT_W + 1) * s));
        canvas_text(&c, imax(4 * s, (W - text_width(buf, s)) / 2), 4 * s, buf, s, PLOT_TEXT_RGB, 1);
    }
    for (int i = 0, ox = 0; i < n_panels && rc == 0; ox += opts[i].width, i++)
        rc = panel_draw(&c, ox, band, opts[i].width, opts[i].height, &opts[i], series[i], n_series[i], err,
                        errlen);
    uint8_t *png = NULL;
    size_t len = 0;
    if (rc == 0) rc = png_encode(&c, &png, &len, err, errlen);
    if (rc == 0) rc = plot_write_file(path, png, len, err, errlen);
    free(png);
    free(c.rgb);
    return rc;
}

int plot_png(const char *path, const PlotOptions *opt, const PlotSeries *series, int n_series, char *err,
             size_t errlen) {
    const PlotSeries *const list[1] = {series};
    const int counts[1] = {n_series};
    return plot_png_panels(path, NULL, 1, opt, list, counts, err, errlen);
}

int plot_learning_curves(const char *path, const PlotCurves *c, char *err, size_t errlen) {
    if (!c) return plot_error(err, errlen, "plot: no learning curves");
    if (c->n_epochs < 0 || c->n_epochs > 1000000)
        return plot_error(err, errlen, "plot: n_epochs = %d (0..1000000)", c->n_epochs);
    const int n = c->n_epochs;
    const float *src[4] = {c->train_loss, c->val_loss, c->train_acc, c->val_acc};
    double *vals = malloc(sizeof(double) * 4 * (size_t)imax(n, 1));
    if (!vals) return plot_error(err, errlen, "plot: out of memory");
    PlotSeries ser[2][2];
    int counts[2] = {0, 0};
    for (int k = 0; k < 4; k++) {
        if (!src[k]) continue;
        double *y = vals + (size_t)k * (size_t)imax(n, 1);
        for (int i = 0; i < n; i++) y[i] = src[k][i];
        ser[k / 2][counts[k / 2]++] =
            (PlotSeries){k % 2 ? "validation" : "train", plot_color(k % 2), n, NULL, y};
    }
    const int best = c->best_epoch >= 1 && c->best_epoch <= n ? c->best_epoch : 0;
    const PlotOptions loss = {"Loss", "epoch", "loss", 640, 440, PLOT_LEGEND_AUTO, best ? "best" : NULL,
                              best};
    const PlotOptions acc = {"Accuracy", "epoch",          "accuracy",           640,
                             440,        PLOT_LEGEND_AUTO, best ? "best" : NULL, best};
    PlotOptions opts[2];
    const PlotSeries *lists[2];
    int ns[2], np = 0;
    if (counts[0] > 0 || counts[1] == 0) {
        opts[np] = loss;
        lists[np] = ser[0];
        ns[np++] = counts[0];
    }
    if (counts[1] > 0) {
        opts[np] = acc;
        lists[np] = ser[1];
        ns[np++] = counts[1];
    }
    int rc = plot_png_panels(path, c->title, np, opts, lists, ns, err, errlen);
    free(vals);
    return rc;
}

uint32_t plot_color(int i) {
    static const uint32_t palette[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                         0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    return palette[(i % 10 + 10) % 10];
}
