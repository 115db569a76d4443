/* test_plot.c — the PNG charts of model/plot.c, read back and inspected: the file
 * structure (signature, chunk CRCs, IHDR, IDAT inflated and unfiltered), then real
 * properties of the pixels (white background, frame, where each series' colour lies,
 * legend swatches, NaN gaps, odd inputs), the argument errors and atomic writing.
 * Also renders a sample learning-curve figure into $BUZZRADAR_BUILD for people. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "model/plot.h"
#include "model/plot_font.h"

#define RED  0xd62728u
#define BLUE 0x1f77b4u

/* ---- a PNG reader that checks everything it reads ---------------------------------- */

typedef struct {
    int w, h;
    uint8_t *px; /* (h, w, 3) */
} Image;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Reads an 8-bit RGB PNG, asserting the signature, every chunk's CRC, IHDR first
 * and IEND last, and that the inflated IDAT has exactly the expected size. */
static Image png_read(const char *path) {
    size_t len;
    uint8_t *d = slurp(path, &len);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(len > 8);
    assert_memory_equal(d, sig, 8);
    Image img = {0};
    uint8_t *idat = NULL;
    size_t idat_len = 0, pos = 8;
    int chunks = 0, saw_iend = 0;
    while (pos < len) {
        assert_false(saw_iend); /* nothing after IEND */
        assert_true(pos + 12 <= len);
        uint32_t n = be32(d + pos);
        assert_true(pos + 12 + n <= len);
        const uint8_t *type = d + pos + 4, *data = d + pos + 8;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, n + 4);
        assert_int_equal(crc, be32(data + n));
        if (chunks == 0) {
            assert_memory_equal(type, "IHDR", 4);
            assert_int_equal(n, 13);
            img.w = (int)be32(data);
            img.h = (int)be32(data + 4);
            assert_int_equal(data[8], 8);  /* bit depth */
            assert_int_equal(data[9], 2);  /* RGB */
            assert_int_equal(data[10], 0); /* deflate */
            assert_int_equal(data[11], 0); /* adaptive filters */
            assert_int_equal(data[12], 0); /* not interlaced */
        } else if (memcmp(type, "IDAT", 4) == 0) {
            uint8_t *grown = realloc(idat, idat_len + n);
            assert_non_null(grown);
            idat = grown;
            memcpy(idat + idat_len, data, n);
            idat_len += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            assert_int_equal(n, 0);
            saw_iend = 1;
        }
        chunks++;
        pos += 12 + n;
    }
    assert_true(saw_iend);
    assert_true(img.w > 0 && img.h > 0 && idat_len > 0);
    const size_t stride = (size_t)img.w * 3, raw_len = (stride + 1) * (size_t)img.h;
    uint8_t *raw = malloc(raw_len + 1);
    uLongf out_len = (uLongf)raw_len + 1; /* one spare byte: more data would be an error */
    assert_int_equal(uncompress(raw, &out_len, idat, (uLong)idat_len), Z_OK);
    assert_int_equal(out_len, raw_len);
    img.px = malloc(stride * (size_t)img.h);
    for (int y = 0; y < img.h; y++) {
        const uint8_t *in = raw + (size_t)y * (stride + 1);
        uint8_t *row = img.px + (size_t)y * stride, *up = y ? row - stride : NULL;
        assert_true(in[0] <= 4);
        for (size_t i = 0; i < stride; i++) {
            int a = i >= 3 ? row[i - 3] : 0, b = up ? up[i] : 0, c = up && i >= 3 ? up[i - 3] : 0;
            int pred = in[0] == 0   ? 0
                       : in[0] == 1 ? a
                       : in[0] == 2 ? b
                       : in[0] == 3 ? (a + b) / 2
                                    : paeth(a, b, c);
            row[i] = (uint8_t)(in[1 + i] + pred);
        }
    }
    free(raw);
    free(idat);
    free(d);
    return img;
}

static uint32_t pixel(const Image *im, int x, int y) {
    const uint8_t *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Pixels of exactly colour rgb in [x0, x1) x [y0, y1). */
static int count_rgb(const Image *im, uint32_t rgb, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += pixel(im, x, y) == rgb;
    return n;
}

/* Pixels that are neither background nor near-white, as text is. */
static int count_dark(const Image *im, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += pixel(im, x, y) == PLOT_TEXT_RGB;
    return n;
}

typedef struct {
    int x0, y0, x1, y1; /* the frame's corners, inclusive */
} Frame;

/* The plot frame within columns [cx0, cx1): the rows holding the longest runs of
 * PLOT_FRAME_RGB are its top and bottom edges. */
static Frame find_frame(const Image *im, int cx0, int cx1) {
    int best = 0, *run_at = calloc((size_t)im->h, sizeof(int)),
        *start_at = calloc((size_t)im->h, sizeof(int));
    for (int y = 0; y < im->h; y++) {
        int run = 0;
        for (int x = cx0; x < cx1; x++) {
            run = pixel(im, x, y) == PLOT_FRAME_RGB ? run + 1 : 0;
            if (run > run_at[y]) {
                run_at[y] = run;
                start_at[y] = x - run + 1;
            }
        }
        if (run_at[y] > best) best = run_at[y];
    }
    Frame f = {-1, -1, -1, -1};
    for (int y = 0; y < im->h; y++)
        if (run_at[y] == best) {
            if (f.y0 < 0) f.y0 = y;
            f.y1 = y;
            f.x0 = start_at[y];
            f.x1 = start_at[y] + best - 1;
        }
    free(run_at);
    free(start_at);
    assert_true(best > (cx1 - cx0) / 3);
    assert_true(f.y1 - f.y0 > im->h / 3);
    /* the sides are frame-coloured too */
    for (int y = f.y0; y <= f.y1; y++) {
        assert_int_equal(pixel(im, f.x0, y), PLOT_FRAME_RGB);
        assert_int_equal(pixel(im, f.x1, y), PLOT_FRAME_RGB);
    }
    return f;
}

/* Mean row of the colour's pixels inside the frame, in columns [x0, x1); -1 if none. */
static double mean_row(const Image *im, uint32_t rgb, const Frame *f, int x0, int x1) {
    double sum = 0;
    int n = 0;
    for (int y = f->y0 + 1; y < f->y1; y++)
        for (int x = x0; x < x1; x++)
            if (pixel(im, x, y) == rgb) {
                sum += y;
                n++;
            }
    return n ? sum / n : -1;
}

/* ---- fixture: a fresh temporary directory per test --------------------------------- */

typedef struct {
    char dir[64];
    char path[128];
    char err[256];
} Fix;

static int setup(void **state) {
    Fix *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_plot.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/chart.png", f->dir);
    *state = f;
    return 0;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static int teardown(void **state) {
    Fix *f = *state;
    DIR *d = opendir(f->dir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        if (rmdir(p) != 0) unlink(p);
    }
    if (d) closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static Image render(Fix *f, const PlotOptions *o, const PlotSeries *s, int n) {
    int rc = plot_png(f->path, o, s, n, f->err, sizeof f->err);
    if (rc != 0) fail_msg("plot_png: %s", f->err);
    return png_read(f->path);
}

static const double X10[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const double UP10[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const double DOWN10[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};

/* ---- tests -------------------------------------------------------------------------- */

static void png_structure_white_background_and_frame(void **state) {
    Fix *f = *state;
    PlotSeries s[2] = {{"rising", RED, 10, X10, UP10}, {"falling", BLUE, 10, NULL, DOWN10}};
    PlotOptions o = {.title = "Two lines", .xlabel = "x", .ylabel = "y", .legend = PLOT_LEGEND_OUTSIDE};
    Image im = render(f, &o, s, 2);
    assert_int_equal(im.w, PLOT_DEFAULT_WIDTH);
    assert_int_equal(im.h, PLOT_DEFAULT_HEIGHT);
    assert_int_equal(pixel(&im, 0, 0), PLOT_BACKGROUND_RGB);
    assert_int_equal(pixel(&im, im.w - 1, 0), PLOT_BACKGROUND_RGB);
    assert_int_equal(pixel(&im, 0, im.h - 1), PLOT_BACKGROUND_RGB);
    assert_int_equal(pixel(&im, im.w - 1, im.h - 1), PLOT_BACKGROUND_RGB);
    int white = count_rgb(&im, PLOT_BACKGROUND_RGB, 0, 0, im.w, im.h);
    assert_true(white > im.w * im.h * 7 / 10);
    Frame fr = find_frame(&im, 0, im.w);
    assert_true(fr.x0 > 20 && fr.x1 < im.w - 20 && fr.y0 > 10 && fr.y1 < im.h - 20);
    /* grid lines inside the frame */
    assert_true(count_rgb(&im, PLOT_GRID_RGB, fr.x0 + 1, fr.y0 + 1, fr.x1, fr.y1) > 500);
    free(im.px);
}

static void series_colours_lie_where_the_data_is(void **state) {
    Fix *f = *state;
    PlotSeries s[2] = {{"rising", RED, 10, X10, UP10}, {"falling", BLUE, 10, NULL, DOWN10}};
    PlotOptions o = {.title = "Two lines", .xlabel = "x", .ylabel = "y", .legend = PLOT_LEGEND_OUTSIDE};
    Image im = render(f, &o, s, 2);
    Frame fr = find_frame(&im, 0, im.w);
    int third = (fr.x1 - fr.x0) / 3;
    assert_true(count_rgb(&im, RED, fr.x0, fr.y0, fr.x1, fr.y1) > 500);
    assert_true(count_rgb(&im, BLUE, fr.x0, fr.y0, fr.x1, fr.y1) > 500);
    /* image rows grow downwards: a rising series is low (large y) on the left */
    double red_left = mean_row(&im, RED, &fr, fr.x0, fr.x0 + third);
    double red_right = mean_row(&im, RED, &fr, fr.x1 - third, fr.x1);
    double blue_left = mean_row(&im, BLUE, &fr, fr.x0, fr.x0 + third);
    double blue_right = mean_row(&im, BLUE, &fr, fr.x1 - third, fr.x1);
    double h = fr.y1 - fr.y0;
    assert_true(red_left - red_right > h * 0.4);
    assert_true(blue_right - blue_left > h * 0.4);
    /* the ends of the lines sit near the bottom and top of the frame */
    assert_true(mean_row(&im, RED, &fr, fr.x0, fr.x0 + 20) > fr.y1 - h * 0.15);
    assert_true(mean_row(&im, RED, &fr, fr.x1 - 20, fr.x1) < fr.y0 + h * 0.15);
    /* the outside legend: a swatch of each colour and the names right of the frame */
    assert_true(count_rgb(&im, RED, fr.x1 + 1, 0, im.w, im.h) > 20);
    assert_true(count_rgb(&im, BLUE, fr.x1 + 1, 0, im.w, im.h) > 20);
    assert_true(count_dark(&im, fr.x1 + 1, 0, im.w, im.h) > 50);
    /* red swatch above the blue one, in legend order */
    assert_true(mean_row(&im, RED, &(Frame){0, 0, 0, im.h}, fr.x1 + 1, im.w) <
                mean_row(&im, BLUE, &(Frame){0, 0, 0, im.h}, fr.x1 + 1, im.w));
    free(im.px);
}

/* For each column, the lowest (largest y) pixel of the colour inside the frame. */
static void lowest_per_column(const Image *im, const Frame *fr, uint32_t rgb, int *low) {
    for (int x = fr->x0 + 1; x < fr->x1; x++) {
        low[x] = -1;
        for (int y = fr->y0 + 1; y < fr->y1; y++)
            if (pixel(im, x, y) == rgb) low[x] = y;
    }
}

static void auto_legend_sits_in_a_free_corner(void **state) {
    Fix *f = *state;
    double y[100]; /* many points, so no markers bulge below the line */
    for (int i = 0; i < 100; i++) y[i] = i;
    PlotSeries s = {"accuracy", RED, 100, NULL, y};
    PlotOptions o = {.title = "Rising", .xlabel = "epoch", .ylabel = "value"};
    Image im = render(f, &o, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    int w = fr.x1 - fr.x0, h = fr.y1 - fr.y0;
    /* top-right is crossed by the line: the legend (frame colour 0xc8c8c8, a red
     * swatch) goes to the top-left corner, inside the plot area */
    assert_true(count_rgb(&im, 0xc8c8c8, fr.x0, fr.y0, fr.x0 + w / 2, fr.y0 + h / 3) > 100);
    assert_int_equal(count_rgb(&im, 0xc8c8c8, fr.x0 + w / 2, fr.y0, fr.x1, fr.y1), 0);
    assert_true(count_rgb(&im, RED, fr.x0, fr.y0, fr.x0 + w / 4, fr.y0 + h / 4) > 10);
    assert_true(count_dark(&im, fr.x0, fr.y0, fr.x0 + w / 2, fr.y0 + h / 3) > 50);
    /* the legend covers none of the line: column by column, its lowest red pixel
     * climbs steadily from left to right, with no column missing */
    int *low = calloc((size_t)im.w, sizeof(int));
    lowest_per_column(&im, &fr, RED, low);
    int first = -1, last = -1;
    for (int x = fr.x0 + 1; x < fr.x1; x++)
        if (low[x] >= 0) {
            if (first < 0) first = x;
            last = x;
        }
    assert_true(last - first > w * 8 / 10);
    for (int x = first + 1; x <= last; x++) {
        assert_true(low[x] >= 0);
        assert_true(low[x] <= low[x - 1] + 2);
    }
    free(low);
    free(im.px);
}

static void auto_legend_moves_outside_when_no_corner_is_free(void **state) {
    Fix *f = *state;
    /* an X: the lines run through all four corners */
    PlotSeries s[2] = {{"up", RED, 10, NULL, UP10}, {"down", BLUE, 10, NULL, DOWN10}};
    PlotOptions o = {0};
    Image im = render(f, &o, s, 2);
    Frame fr = find_frame(&im, 0, im.w);
    assert_true(fr.x1 < im.w * 9 / 10); /* room was made on the right */
    assert_true(count_rgb(&im, RED, fr.x1 + 1, 0, im.w, im.h) > 20);
    assert_true(count_rgb(&im, BLUE, fr.x1 + 1, 0, im.w, im.h) > 20);
    assert_int_equal(count_rgb(&im, 0xc8c8c8, fr.x0, fr.y0, fr.x1, fr.y1), 0);
    free(im.px);
}

/* The largest run of consecutive frame columns without the colour, between the
 * colour's first and last columns; also returns that span. */
static int widest_gap(const Image *im, const Frame *fr, uint32_t rgb, int *span) {
    int first = -1, last = -1, gap = 0, run = 0;
    for (int x = fr->x0 + 1; x < fr->x1; x++) {
        int has = count_rgb(im, rgb, x, fr->y0 + 1, x + 1, fr->y1) > 0;
        if (has) {
            if (first < 0) first = x;
            if (first >= 0 && run > gap) gap = run;
            last = x;
            run = 0;
        } else if (first >= 0) {
            run++;
        }
    }
    *span = last - first;
    return gap;
}

static void nan_and_inf_leave_gaps(void **state) {
    Fix *f = *state;
    double y[10];
    memcpy(y, UP10, sizeof y);
    PlotSeries s = {"with gap", RED, 10, X10, y};
    PlotOptions o = {.legend = PLOT_LEGEND_NONE};
    /* control: no gap without NaN */
    Image im = render(f, &o, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    int span, gap = widest_gap(&im, &fr, RED, &span);
    assert_true(span > (fr.x1 - fr.x0) * 8 / 10);
    assert_true(gap <= 1);
    free(im.px);
    /* x = 5, 6, 7 missing: nothing is drawn between the points at x = 4 and x = 8,
     * 4/9 of the span apart, less the marker radius on each side */
    y[4] = NAN;
    y[5] = INFINITY;
    y[6] = NAN;
    im = render(f, &o, &s, 1);
    fr = find_frame(&im, 0, im.w);
    gap = widest_gap(&im, &fr, RED, &span);
    assert_true(gap > span * 4 / 9 - 30);
    assert_true(gap < span * 4 / 9);
    /* and the points around the gap are still there */
    int left = fr.x0 + (fr.x1 - fr.x0) / 4, right = fr.x1 - (fr.x1 - fr.x0) / 8;
    assert_true(count_rgb(&im, RED, left - 5, fr.y0, left + 5, fr.y1) > 0);
    assert_true(count_rgb(&im, RED, right - 5, fr.y0, right + 5, fr.y1) > 0);
    free(im.px);
    /* a NaN x is a gap as well */
    double x[10];
    memcpy(x, X10, sizeof x);
    memcpy(y, UP10, sizeof y);
    x[4] = x[5] = x[6] = NAN;
    s.x = x;
    im = render(f, &o, &s, 1);
    fr = find_frame(&im, 0, im.w);
    gap = widest_gap(&im, &fr, RED, &span);
    assert_true(gap > span * 4 / 9 - 30);
    free(im.px);
}

static void single_point_is_a_marker_in_the_middle(void **state) {
    Fix *f = *state;
    const double x = 3, y = 0.25;
    PlotSeries s = {"one", RED, 1, &x, &y};
    Image im = render(f, &(PlotOptions){.legend = PLOT_LEGEND_OUTSIDE}, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    int n = count_rgb(&im, RED, fr.x0 + 1, fr.y0 + 1, fr.x1, fr.y1);
    assert_true(n >= 20 && n <= 150); /* a disc, not a line */
    double sx = 0, sy = 0;
    for (int yy = fr.y0 + 1; yy < fr.y1; yy++)
        for (int xx = fr.x0 + 1; xx < fr.x1; xx++)
            if (pixel(&im, xx, yy) == RED) {
                sx += xx;
                sy += yy;
            }
    /* the padded range puts the lone point in the middle */
    assert_true(fabs(sx / n - (fr.x0 + fr.x1) / 2.0) < 12);
    assert_true(fabs(sy / n - (fr.y0 + fr.y1) / 2.0) < 12);
    free(im.px);
}

static void constant_series_is_a_flat_line(void **state) {
    Fix *f = *state;
    double y[10];
    for (int i = 0; i < 10; i++) y[i] = 0.8;
    PlotSeries s = {"flat", RED, 10, NULL, y};
    Image im = render(f, &(PlotOptions){.legend = PLOT_LEGEND_NONE}, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    int top = im.h, bottom = -1, left = im.w, right = -1;
    for (int yy = fr.y0 + 1; yy < fr.y1; yy++)
        for (int xx = fr.x0 + 1; xx < fr.x1; xx++)
            if (pixel(&im, xx, yy) == RED) {
                top = yy < top ? yy : top;
                bottom = yy > bottom ? yy : bottom;
                left = xx < left ? xx : left;
                right = xx > right ? xx : right;
            }
    assert_true(right - left > (fr.x1 - fr.x0) * 8 / 10);
    assert_true(bottom - top <= 12);
    assert_true(fabs((top + bottom) / 2.0 - (fr.y0 + fr.y1) / 2.0) < 10);
    free(im.px);
}

static void x_ticks_are_evenly_spaced(void **state) {
    Fix *f = *state;
    PlotSeries s = {"up", RED, 10, X10, UP10};
    Image im = render(f, &(PlotOptions){0}, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    /* tick marks hang under the bottom edge of the frame */
    int ticks[64], n = 0;
    for (int x = fr.x0; x <= fr.x1 && n < 64; x++)
        if (pixel(&im, x, fr.y1 + 2) == PLOT_FRAME_RGB) ticks[n++] = x;
    assert_true(n >= 4 && n <= 12);
    for (int i = 2; i < n; i++) assert_true(abs((ticks[i] - ticks[i - 1]) - (ticks[1] - ticks[0])) <= 1);
    /* each tick has a label under it */
    for (int i = 0; i < n; i++)
        assert_true(count_dark(&im, ticks[i] - 8, fr.y1 + 3, ticks[i] + 8, fr.y1 + 30) > 5);
    /* y ticks too, left of the frame */
    n = 0;
    for (int y = fr.y0; y <= fr.y1 && n < 64; y++)
        if (pixel(&im, fr.x0 - 2, y) == PLOT_FRAME_RGB) ticks[n++] = y;
    assert_true(n >= 3 && n <= 12);
    for (int i = 2; i < n; i++) assert_true(abs((ticks[i] - ticks[i - 1]) - (ticks[1] - ticks[0])) <= 1);
    free(im.px);
}

/* Columns inside the frame where at least a third of the rows have the colour. */
static int tall_columns(const Image *im, const Frame *fr, uint32_t rgb, int *first) {
    int n = 0;
    *first = -1;
    for (int x = fr->x0 + 1; x < fr->x1; x++)
        if (count_rgb(im, rgb, x, fr->y0 + 1, x + 1, fr->y1) > (fr->y1 - fr->y0) / 3) {
            if (*first < 0) *first = x;
            n++;
        }
    return n;
}

static void mark_is_a_dashed_line_at_its_x(void **state) {
    Fix *f = *state;
    PlotSeries s = {"up", RED, 10, X10, UP10};
    PlotOptions o = {.legend = PLOT_LEGEND_NONE, .mark_label = "best", .mark_x = 4};
    Image im = render(f, &o, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    int col, n = tall_columns(&im, &fr, PLOT_MARK_RGB, &col);
    assert_true(n >= 1 && n <= 3);
    int span, first = -1;
    widest_gap(&im, &fr, RED, &span);
    for (int x = fr.x0 + 1; x < fr.x1 && first < 0; x++)
        if (count_rgb(&im, RED, x, fr.y0 + 1, x + 1, fr.y1)) first = x;
    /* x = 4 is a third of the way from x = 1 to x = 10 (markers widen the span a little) */
    assert_true(fabs((double)(col - first) / span - 1.0 / 3.0) < 0.02);
    /* dashed: some rows of the column are not grey */
    assert_true(count_rgb(&im, PLOT_MARK_RGB, col, fr.y0 + 1, col + 1, fr.y1) < (fr.y1 - fr.y0) * 8 / 10);
    /* its label, right of it at the top */
    assert_true(count_rgb(&im, PLOT_MARK_RGB, col + n + 1, fr.y0, col + 80, fr.y0 + 40) > 15);
    free(im.px);
    /* a mark beyond the data widens the x axis */
    o.mark_x = 19;
    im = render(f, &o, &s, 1);
    fr = find_frame(&im, 0, im.w);
    n = tall_columns(&im, &fr, PLOT_MARK_RGB, &col);
    assert_true(n >= 1 && col > fr.x1 - 20);
    widest_gap(&im, &fr, RED, &span);
    assert_true(span < (fr.x1 - fr.x0) * 6 / 10); /* the data covers 9 of 18 units */
    /* the label turned to the left of the line, inside the frame */
    assert_true(count_rgb(&im, PLOT_MARK_RGB, col - 80, fr.y0, col - 1, fr.y0 + 40) > 15);
    free(im.px);
    /* a non-finite mark is no mark */
    o.mark_x = NAN;
    im = render(f, &o, &s, 1);
    assert_int_equal(count_rgb(&im, PLOT_MARK_RGB, 0, 0, im.w, im.h), 0);
    free(im.px);
}

static void title_and_axis_labels_are_drawn(void **state) {
    Fix *f = *state;
    PlotSeries s = {"up", RED, 10, NULL, UP10};
    Image bare = render(f, &(PlotOptions){.legend = PLOT_LEGEND_NONE}, &s, 1);
    Frame fb = find_frame(&bare, 0, bare.w);
    assert_int_equal(count_dark(&bare, fb.x0, 0, bare.w, fb.y0), 0); /* nothing above the frame */
    PlotOptions o = {
        .title = "A title", .xlabel = "the x axis", .ylabel = "the y axis", .legend = PLOT_LEGEND_NONE};
    Image im = render(f, &o, &s, 1);
    Frame fr = find_frame(&im, 0, im.w);
    assert_true(count_dark(&im, fr.x0, 0, im.w, fr.y0) > 50); /* title above */
    /* x label below the tick labels, centred */
    assert_true(count_dark(&im, fr.x0, fr.y1 + 30, fr.x1, im.h) >
                count_dark(&bare, fb.x0, fb.y1 + 30, fb.x1, bare.h));
    /* y label: the frame moved right to make room, and text is at the far left */
    assert_true(fr.x0 > fb.x0);
    assert_true(count_dark(&im, 0, fr.y0, 25, fr.y1) > 30);
    assert_int_equal(count_dark(&bare, 0, fb.y0, 8, fb.y1), 0);
    free(im.px);
    free(bare.px);
}

static void odd_inputs_still_give_a_png(void **state) {
    Fix *f = *state;
    const double nan3[3] = {NAN, NAN, NAN};
    const double huge[4] = {-DBL_MAX, 1e308, DBL_MAX, 0};
    const double tiny[3] = {1e-310, 2e-310, 3e-310};
    const double infs[4] = {INFINITY, 1, -INFINITY, 2};
    const double same_x[3] = {5, 5, 5};
    const double unsorted_x[5] = {3, 1, 4, 1, 5};
    const double near[3] = {1e15, 1e15 + 0.25, 1e15 + 0.5};
    struct {
        const char *what;
        PlotSeries s;
        int coloured; /* RED pixels must appear inside the frame */
    } cases[] = {
        {"empty series", {"empty", RED, 0, NULL, NULL}, 0},
        {"no name", {NULL, RED, 10, NULL, UP10}, 1},
        {"empty name", {"", RED, 10, NULL, UP10}, 1},
        {"all NaN", {"nan", RED, 3, NULL, nan3}, 0},
        {"huge values", {"huge", RED, 4, NULL, huge}, 1},
        {"huge x", {"huge x", RED, 4, huge, UP10}, 1},
        {"subnormal values", {"tiny", RED, 3, NULL, tiny}, 1},
        {"infinities", {"inf", RED, 4, NULL, infs}, 1},
        {"one x", {"same x", RED, 3, same_x, UP10}, 1},
        {"unsorted x", {"unsorted", RED, 5, unsorted_x, UP10}, 1},
        {"close huge values", {"near", RED, 3, NULL, near}, 1},
        {"non-ASCII and a very long name",
         {"caf\xc3\xa9 \x01\t and a name far longer than any legend should ever have to show in full", RED,
          10, NULL, UP10},
         1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* the automatic legend may sit inside the frame: check that it works, then
         * count series pixels with the legend outside */
        int rc =
            plot_png(f->path, &(PlotOptions){.title = cases[i].what}, &cases[i].s, 1, f->err, sizeof f->err);
        if (rc != 0) fail_msg("%s: %s", cases[i].what, f->err);
        Image im = png_read(f->path);
        free(im.px);
        PlotOptions o = {.title = cases[i].what, .legend = PLOT_LEGEND_OUTSIDE};
        rc = plot_png(f->path, &o, &cases[i].s, 1, f->err, sizeof f->err);
        if (rc != 0) fail_msg("%s: %s", cases[i].what, f->err);
        im = png_read(f->path);
        Frame fr = find_frame(&im, 0, im.w);
        int red = count_rgb(&im, RED, fr.x0 + 1, fr.y0 + 1, fr.x1, fr.y1);
        if (cases[i].coloured && red == 0) fail_msg("%s: no series pixels", cases[i].what);
        if (!cases[i].coloured && red != 0) fail_msg("%s: %d series pixels", cases[i].what, red);
        /* tick labels on both axes */
        assert_true(count_dark(&im, 0, fr.y0, fr.x0, fr.y1) > 20);
        assert_true(count_dark(&im, fr.x0, fr.y1 + 1, fr.x1 + 1, im.h) > 20);
        free(im.px);
    }
    /* no series at all, and the smallest size */
    assert_int_equal(plot_png(f->path, NULL, NULL, 0, f->err, sizeof f->err), 0);
    Image im = png_read(f->path);
    free(im.px);
    PlotSeries s = {"up", RED, 10, NULL, UP10};
    PlotOptions small = {
        .title = "small", .xlabel = "x", .ylabel = "y", .width = PLOT_MIN_WIDTH, .height = PLOT_MIN_HEIGHT};
    assert_int_equal(plot_png(f->path, &small, &s, 1, f->err, sizeof f->err), 0);
    im = png_read(f->path);
    assert_int_equal(im.w, PLOT_MIN_WIDTH);
    assert_int_equal(im.h, PLOT_MIN_HEIGHT);
    assert_true(count_rgb(&im, RED, 0, 0, im.w, im.h) > 20);
    free(im.px);
    /* many points: markers are left out, the line is still drawn */
    enum { N = 20000 };
    double *y = malloc(N * sizeof(double));
    for (int i = 0; i < N; i++) y[i] = sin(i * 0.001) + 0.1 * ((i * 7919) % 13) / 13.0;
    PlotSeries big = {"noisy", RED, N, NULL, y};
    im = render(f, &(PlotOptions){0}, &big, 1);
    assert_true(count_rgb(&im, RED, 0, 0, im.w, im.h) > 2000);
    free(im.px);
    free(y);
}

static void bad_arguments_are_errors(void **state) {
    Fix *f = *state;
    PlotSeries ok = {"up", RED, 10, NULL, UP10};
    PlotSeries neg = {"neg", RED, -1, NULL, UP10};
    PlotSeries noy = {"noy", RED, 3, NULL, NULL};
    struct {
        const char *what;
        const char *path;
        PlotOptions o;
        const PlotSeries *s;
        int n;
    } cases[] = {
        {"NULL path", NULL, {0}, &ok, 1},
        {"empty path", "", {0}, &ok, 1},
        {"negative count", f->path, {0}, &ok, -1},
        {"NULL series", f->path, {0}, NULL, 1},
        {"negative n", f->path, {0}, &neg, 1},
        {"NULL y", f->path, {0}, &noy, 1},
        {"too narrow", f->path, {.width = PLOT_MIN_WIDTH - 1}, &ok, 1},
        {"too tall", f->path, {.height = PLOT_MAX_SIDE + 1}, &ok, 1},
        {"negative size", f->path, {.width = -800}, &ok, 1},
        {"bad legend", f->path, {.legend = (PlotLegend)7}, &ok, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f->err[0] = '\0';
        if (plot_png(cases[i].path, &cases[i].o, cases[i].s, cases[i].n, f->err, sizeof f->err) != -1)
            fail_msg("%s: accepted", cases[i].what);
        if (strncmp(f->err, "plot: ", 6) != 0 || strlen(f->err) < 12)
            fail_msg("%s: message '%s'", cases[i].what, f->err);
        assert_int_equal(plot_png(cases[i].path, &cases[i].o, cases[i].s, cases[i].n, NULL, 0), -1);
    }
    assert_int_equal(dir_entries(f->dir), 0); /* nothing was written */
    /* panels */
    const PlotSeries *lists[2] = {&ok, &ok};
    int counts[2] = {1, 1};
    assert_int_equal(plot_png_panels(f->path, NULL, 0, NULL, lists, counts, f->err, sizeof f->err), -1);
    assert_int_equal(plot_png_panels(f->path, NULL, PLOT_MAX_PANELS + 1, NULL, lists, counts, f->err, 256),
                     -1);
    assert_int_equal(plot_png_panels(f->path, NULL, 2, NULL, NULL, counts, f->err, sizeof f->err), -1);
    assert_int_equal(plot_png_panels(f->path, NULL, 2, NULL, lists, NULL, f->err, sizeof f->err), -1);
    PlotOptions wide[2] = {{.width = PLOT_MAX_SIDE}, {.width = PLOT_MAX_SIDE}};
    const PlotSeries *many[5] = {&ok, &ok, &ok, &ok, &ok};
    int ones[5] = {1, 1, 1, 1, 1};
    PlotOptions five[5] = {wide[0], wide[0], wide[0], wide[0], wide[0]};
    assert_int_equal(plot_png_panels(f->path, NULL, 5, five, many, ones, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "width"));
    counts[1] = -2;
    assert_int_equal(plot_png_panels(f->path, NULL, 2, NULL, lists, counts, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "panel 1"));
    assert_int_equal(plot_learning_curves(f->path, NULL, f->err, sizeof f->err), -1);
    assert_int_equal(plot_learning_curves(f->path, &(PlotCurves){.n_epochs = -1}, f->err, sizeof f->err), -1);
    assert_int_equal(dir_entries(f->dir), 0);
}

static void writes_are_atomic_and_io_errors_reported(void **state) {
    Fix *f = *state;
    PlotSeries up = {"up", RED, 10, NULL, UP10}, down = {"down", BLUE, 10, NULL, DOWN10};
    /* a missing directory */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/no/such/dir/chart.png", f->dir);
    assert_int_equal(plot_png(bad, NULL, &up, 1, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, bad));
    assert_non_null(strstr(f->err, "No such file"));
    /* a directory in the way: rename fails, the temporary file is removed */
    char sub[256];
    snprintf(sub, sizeof sub, "%s/taken", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(plot_png(sub, NULL, &up, 1, f->err, sizeof f->err), -1);
    assert_int_equal(dir_entries(f->dir), 1);
    /* replacing an existing chart leaves exactly the new one */
    assert_int_equal(plot_png(f->path, NULL, &up, 1, f->err, sizeof f->err), 0);
    assert_int_equal(plot_png(f->path, NULL, &down, 1, f->err, sizeof f->err), 0);
    assert_int_equal(dir_entries(f->dir), 2);
    Image im = png_read(f->path);
    assert_int_equal(count_rgb(&im, RED, 0, 0, im.w, im.h), 0);
    assert_true(count_rgb(&im, BLUE, 0, 0, im.w, im.h) > 100);
    free(im.px);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
}

static void panels_sit_side_by_side(void **state) {
    Fix *f = *state;
    PlotSeries left = {"left", RED, 10, NULL, UP10}, right = {"right", BLUE, 10, NULL, DOWN10};
    const PlotSeries *lists[2] = {&left, &right};
    int counts[2] = {1, 1};
    PlotOptions opts[2] = {{.title = "Left", .xlabel = "x", .ylabel = "y", .width = 500, .height = 350},
                           {.title = "Right", .xlabel = "x", .ylabel = "y", .width = 400, .height = 300}};
    int rc = plot_png_panels(f->path, "Figure title", 2, opts, lists, counts, f->err, sizeof f->err);
    if (rc != 0) fail_msg("%s", f->err);
    Image im = png_read(f->path);
    assert_int_equal(im.w, 900);
    assert_true(im.h > 350 && im.h < 400); /* the tallest panel and a title band */
    assert_true(count_rgb(&im, RED, 0, 0, 500, im.h) > 200);
    assert_int_equal(count_rgb(&im, RED, 500, 0, im.w, im.h), 0);
    assert_true(count_rgb(&im, BLUE, 500, 0, im.w, im.h) > 200);
    assert_int_equal(count_rgb(&im, BLUE, 0, 0, 500, im.h), 0);
    Frame a = find_frame(&im, 0, 500), b = find_frame(&im, 500, im.w);
    assert_true(a.x1 < 500 && b.x0 > 500);
    assert_true(a.y0 > 20 && b.y0 > 20); /* under the figure title */
    /* the figure title is centred over the whole figure */
    int title_left = im.w, title_right = 0;
    for (int y = 0; y < 14; y++) /* the title band is 15 rows at this size */
        for (int x = 0; x < im.w; x++)
            if (pixel(&im, x, y) == PLOT_TEXT_RGB) {
                title_left = x < title_left ? x : title_left;
                title_right = x > title_right ? x : title_right;
            }
    assert_true(title_right > title_left);
    assert_true(abs((title_left + title_right) / 2 - im.w / 2) < 10);
    free(im.px);
}

static void learning_curves_sample_figure(void **state) {
    Fix *f = *state;
    enum { E = 12 };
    float tl[E], vl[E], ta[E], va[E];
    for (int i = 0; i < E; i++) {
        tl[i] = 0.33f + 0.22f * expf(-i / 2.5f);
        vl[i] = 0.37f + 0.14f * expf(-i / 2.0f) + (i > 6 ? 0.002f * i : 0.0f);
        ta[i] = 0.87f - 0.15f * expf(-i / 2.5f);
        va[i] = 0.835f - 0.09f * expf(-i / 2.0f) - (i > 6 ? 0.001f * i : 0.0f);
    }
    PlotCurves c = {E, tl, vl, ta, va, "bilstm, 200000 tweets: learning curves", 7};
    /* kept in the build directory for people to look at; else in the temp dir */
    char path[1024];
    const char *build = getenv("BUZZRADAR_BUILD");
    if (build && *build)
        snprintf(path, sizeof path, "%s/plot-learning-curves.png", build);
    else
        snprintf(path, sizeof path, "%s/learning-curves.png", f->dir);
    if (plot_learning_curves(path, &c, f->err, sizeof f->err) != 0) fail_msg("%s", f->err);
    Image im = png_read(path);
    assert_int_equal(im.w, 1280);
    Frame loss = find_frame(&im, 0, 640), acc = find_frame(&im, 640, im.w);
    const uint32_t train = plot_color(0), val = plot_color(1);
    /* the x axis is tight: the first epoch's marker touches the frame's inner left
     * columns, the last one's the inner right columns; the legends keep off both */
#define START(fr) (fr).x0 + 1, (fr).x0 + 8
#define END(fr)   (fr).x1 - 7, (fr).x1
    /* loss falls (rows grow downwards), accuracy rises */
    assert_true(mean_row(&im, train, &loss, START(loss)) + 100 < mean_row(&im, train, &loss, END(loss)));
    assert_true(mean_row(&im, train, &acc, START(acc)) > mean_row(&im, train, &acc, END(acc)) + 100);
    /* in the end validation loss is above training loss, validation accuracy below */
    assert_true(mean_row(&im, val, &loss, END(loss)) + 20 < mean_row(&im, train, &loss, END(loss)));
    assert_true(mean_row(&im, val, &acc, END(acc)) > mean_row(&im, train, &acc, END(acc)) + 20);
    /* each panel has a legend with both colours, away from the curves' ends */
    assert_true(count_rgb(&im, 0xc8c8c8, loss.x0, loss.y0, loss.x1, loss.y1) > 100);
    assert_true(count_rgb(&im, 0xc8c8c8, acc.x0, acc.y0, acc.x1, acc.y1) > 100);
#undef START
#undef END
    free(im.px);
    /* without accuracy, one panel */
    c.train_acc = c.val_acc = NULL;
    c.val_loss = NULL;
    c.title = NULL;
    if (plot_learning_curves(f->path, &c, f->err, sizeof f->err) != 0) fail_msg("%s", f->err);
    im = png_read(f->path);
    assert_int_equal(im.w, 640);
    assert_true(count_rgb(&im, train, 0, 0, im.w, im.h) > 100);
    assert_int_equal(count_rgb(&im, val, 0, 0, im.w, im.h), 0);
    free(im.px);
    /* no epochs at all */
    assert_int_equal(plot_learning_curves(f->path, &(PlotCurves){0}, f->err, sizeof f->err), 0);
    im = png_read(f->path);
    free(im.px);
}

static void font_covers_printable_ascii(void **state) {
    (void)state;
    for (int c = 32; c <= 126; c++) {
        const uint8_t *g = plot_font_glyph((unsigned char)c);
        int on = 0;
        for (int r = 0; r < PLOT_FONT_H; r++) {
            assert_int_equal(g[r] & ~0x1f, 0);
            on += __builtin_popcount(g[r]);
        }
        if (c == ' ')
            assert_int_equal(on, 0);
        else if (on == 0)
            fail_msg("glyph '%c' is empty", c);
        /* only g, j, p, q, y, comma, semicolon, underscore and bar reach below the baseline */
        int below = g[7] | g[8];
        if (below && !strchr("gjpqy,;_|", c)) fail_msg("glyph '%c' has a descender", c);
        for (int d = 32; d < c; d++)
            if (!memcmp(g, plot_font_glyph((unsigned char)d), PLOT_FONT_H))
                fail_msg("glyphs '%c' and '%c' are the same", d, c);
    }
    assert_memory_equal(plot_font_glyph(0), plot_font_glyph('?'), PLOT_FONT_H);
    assert_memory_equal(plot_font_glyph(200), plot_font_glyph('?'), PLOT_FONT_H);
    assert_int_not_equal(plot_color(0), plot_color(1));
    assert_int_equal(plot_color(10), plot_color(0));
    assert_int_equal(plot_color(-1), plot_color(9));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(png_structure_white_background_and_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(series_colours_lie_where_the_data_is, setup, teardown),
        cmocka_unit_test_setup_teardown(auto_legend_sits_in_a_free_corner, setup, teardown),
        cmocka_unit_test_setup_teardown(auto_legend_moves_outside_when_no_corner_is_free, setup, teardown),
        cmocka_unit_test_setup_teardown(nan_and_inf_leave_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(single_point_is_a_marker_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(constant_series_is_a_flat_line, setup, teardown),
        cmocka_unit_test_setup_teardown(x_ticks_are_evenly_spaced, setup, teardown),
        cmocka_unit_test_setup_teardown(mark_is_a_dashed_line_at_its_x, setup, teardown),
        cmocka_unit_test_setup_teardown(title_and_axis_labels_are_drawn, setup, teardown),
        cmocka_unit_test_setup_teardown(odd_inputs_still_give_a_png, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_are_atomic_and_io_errors_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(panels_sit_side_by_side, setup, teardown),
        cmocka_unit_test_setup_teardown(learning_curves_sample_figure, setup, teardown),
        cmocka_unit_test(font_covers_printable_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
