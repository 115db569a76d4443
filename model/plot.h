/* plot.h — line charts (learning curves first of all) written as PNG images, in plain
 * C with zlib and a built-in bitmap font.
 *
 * A chart is one or more panels side by side; each panel has a white background, a
 * framed plot area with light grid lines at "nice" tick values (steps of 1, 2 or 5
 * times a power of ten) and their labels, a title, axis labels and a legend with
 * each series' name and colour. Series are anti-aliased lines with round point
 * markers (markers only where points are far enough apart, and always on a point
 * with no neighbour, so a single point shows). Non-finite values (NaN, ±inf) are
 * gaps: no line is drawn to or from them. A series whose values are all equal is
 * drawn in the middle of a padded range.
 *
 * The legend (PLOT_LEGEND_AUTO) goes into the corner of the plot area that no curve
 * passes through (top-right, top-left, bottom-right, bottom-left, in that order of
 * preference), and to the right of the plot area, outside it, when every corner is
 * crossed by a curve.
 *
 * Files are real PNG (8-bit RGB, adaptive filters, one zlib IDAT) written
 * atomically: to a temporary file in the same directory, then renamed over `path`,
 * so a reader never sees half an image. Nothing here keeps state between calls; the
 * functions may run concurrently on different paths. */
#ifndef BUZZRADAR_PLOT_H
#define BUZZRADAR_PLOT_H

#include <stddef.h>
#include <stdint.h>

/* Colours are 0xRRGGBB. The plot area is framed by a 1-pixel rectangle of
 * PLOT_FRAME_RGB (tick marks, outside the frame, share the colour; nothing else
 * uses it), text is PLOT_TEXT_RGB, grid lines PLOT_GRID_RGB. */
#define PLOT_BACKGROUND_RGB 0xffffffu
#define PLOT_FRAME_RGB      0x3c3c3cu
#define PLOT_TEXT_RGB       0x1a1a1au
#define PLOT_GRID_RGB       0xe6e6e6u
#define PLOT_MARK_RGB       0x8c8c8cu /* the optional vertical mark and its label */

enum {
    PLOT_DEFAULT_WIDTH = 800,
    PLOT_DEFAULT_HEIGHT = 500,
    PLOT_MIN_WIDTH = 160, /* smaller panels are refused */
    PLOT_MIN_HEIGHT = 120,
    PLOT_MAX_SIDE = 4096,   /* largest panel side */
    PLOT_MAX_WIDTH = 16384, /* largest figure width, all panels together */
    PLOT_MAX_PANELS = 16,
};

typedef struct {
    const char *name; /* legend text (printable ASCII; other bytes show as '?');
                         NULL or "" = not in the legend */
    uint32_t rgb;     /* line colour, 0xRRGGBB (plot_color(i) gives a palette) */
    int n;            /* number of points, >= 0 */
    const double *x;  /* (n) x values, or NULL for 1, 2, ..., n */
    const double *y;  /* (n) y values; NULL only when n == 0 */
} PlotSeries;

typedef enum {
    PLOT_LEGEND_AUTO = 0, /* a free corner of the plot area, else outside on the right */
    PLOT_LEGEND_OUTSIDE,  /* always to the right of the plot area */
    PLOT_LEGEND_NONE,     /* no legend */
} PlotLegend;

typedef struct {
    const char *title, *xlabel, *ylabel; /* NULL or "" = none */
    int width, height;                   /* panel size in pixels; 0 = 800 x 500 */
    PlotLegend legend;
    const char *mark_label; /* non-NULL: a dashed vertical line at x = mark_x (when finite)
                               labelled with this text, e.g. "best" at the kept epoch */
    double mark_x;
} PlotOptions;

/* Writes one panel with n_series series to `path` as PNG. opt NULL = defaults.
 * Returns 0, or -1 with a one-line reason in err (when err is not NULL) on bad
 * arguments (NULL or empty path, n_series < 0, series NULL while n_series > 0, a
 * series with n < 0 or with y NULL and n > 0, a size outside PLOT_MIN_* ..
 * PLOT_MAX_SIDE), out of memory, or an I/O error (then `path` is left as it was and
 * no temporary file remains). Odd data (n == 0, NaN, ±inf, values near ±DBL_MAX,
 * all-equal values) is drawn, never an error. */
int plot_png(const char *path, const PlotOptions *opt, const PlotSeries *series, int n_series, char *err,
             size_t errlen);

/* Writes n_panels panels side by side (e.g. loss | accuracy) under an optional
 * figure title (NULL or "" = none) to `path` as PNG. Panel i has options
 * panel_opts[i] (panel_opts NULL = defaults for all) and the n_series[i] series
 * series[i]. The figure is as wide as the panels together and as tall as the
 * tallest (plus the title band). Returns 0, or -1 with a reason in err as plot_png
 * does, also when n_panels is outside 1..PLOT_MAX_PANELS, series or n_series is
 * NULL, or the total width exceeds PLOT_MAX_WIDTH. */
int plot_png_panels(const char *path, const char *title, int n_panels, const PlotOptions *panel_opts,
                    const PlotSeries *const *series, const int *n_series, char *err, size_t errlen);

/* Per-epoch learning curves of a training run, as kept in a model file. */
typedef struct {
    int n_epochs;                       /* >= 0 */
    const float *train_loss, *val_loss; /* (n_epochs) each, or NULL; NaN = not measured */
    const float *train_acc, *val_acc;   /* (n_epochs) each, or NULL */
    const char *title;                  /* figure title ("bilstm, 200000 tweets"), or NULL */
    int best_epoch;                     /* 1-based epoch whose weights were kept, marked
                                           "best" in both panels; 0 = no mark */
} PlotCurves;

/* Writes the learning curves as a "loss | accuracy" figure (x = epoch 1..n_epochs;
 * "train" and "validation" series; the accuracy panel is left out when both
 * accuracy arrays are NULL; a "best" mark at best_epoch when it is in 1..n_epochs)
 * to `path`. Returns 0, or -1 with a reason in err on bad
 * arguments (c NULL, n_epochs < 0 or > 1000000), out of memory or an I/O error. */
int plot_learning_curves(const char *path, const PlotCurves *c, char *err, size_t errlen);

/* The i-th colour (i >= 0, cycling) of a 10-colour palette of distinct, readable
 * line colours (blue, orange, green, red, purple, ...). */
uint32_t plot_color(int i);

#endif
