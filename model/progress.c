/* progress.c — progress printer with rate and ETA (see progress.h). */
#include "model/progress.h"

#include <string.h>
#include <unistd.h>

#include "model/util.h"

enum { PROGRESS_BAR = 20 };

void progress_start(Progress *p, const char *label, int64_t total) {
    progress_start_to(p, stderr, label, total);
}

void progress_start_to(Progress *p, FILE *out, const char *label, int64_t total) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->label = label ? label : "";
    p->total = total;
    p->unit = PROGRESS_COUNT;
    p->tty = isatty(fileno(out));
    p->first_s = p->tty ? 0.5 : 5.0;
    p->every_s = p->tty ? 0.2 : 5.0;
    p->t0 = util_now_s();
    p->t_next = -1; /* computed at the first update, after the caller's settings */
}

/* "12.3 MB", "45.6k": a quantity in the job's unit, rounded for people. */
static void progress_amount(ProgressUnit unit, double v, char *buf, size_t len) {
    if (unit == PROGRESS_BYTES) {
        if (v < 1e6)
            snprintf(buf, len, "%.1f kB", v / 1e3);
        else if (v < 1e9)
            snprintf(buf, len, "%.1f MB", v / 1e6);
        else
            snprintf(buf, len, "%.2f GB", v / 1e9);
    } else {
        if (v < 1e4)
            snprintf(buf, len, "%.0f", v);
        else if (v < 1e6)
            snprintf(buf, len, "%.1fk", v / 1e3);
        else if (v < 1e9)
            snprintf(buf, len, "%.2fM", v / 1e6);
        else
            snprintf(buf, len, "%.2fG", v / 1e9);
    }
}

/* "1:02:03" or "2:03". */
static void progress_clock(double s, char *buf, size_t len) {
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* The report without the suffix (see progress_format). */
static void progress_format_main(const Progress *p, int64_t done, double elapsed, int final, char *buf,
                                 size_t len) {
    char amount[32], total[32], rate[32], eta[32];
    double r = elapsed > 0 ? (double)done / elapsed : 0.0;
    progress_amount(p->unit, (double)done, amount, sizeof amount);
    progress_amount(p->unit, r, rate, sizeof rate);
    if (final) {
        snprintf(buf, len, "%s  done %s in %.1f s (%s/s)", p->label, amount, elapsed, rate);
        return;
    }
    if (p->total <= 0) {
        snprintf(buf, len, "%s  %s  %s/s", p->label, amount, rate);
        return;
    }
    double frac = (double)done / (double)p->total;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    char bar[PROGRESS_BAR + 1];
    int full = (int)(frac * PROGRESS_BAR);
    for (int i = 0; i < PROGRESS_BAR; i++) bar[i] = i < full ? '#' : '.';
    bar[PROGRESS_BAR] = '\0';
    progress_amount(p->unit, (double)p->total, total, sizeof total);
    if (r > 0)
        progress_clock((double)(p->total - done) / r, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "?");
    /* "17.5 MB/50.1 MB" reads worse than "17.5/50.1 MB": drop the repeated unit */
    char *space = strchr(amount, ' ');
    if (space && strchr(total, ' ') && !strcmp(space, strchr(total, ' '))) *space = '\0';
    snprintf(buf, len, "%s [%s] %3d%%  %s/%s  %s/s  ETA %s", p->label, bar, (int)(frac * 100), amount, total,
             rate, eta);
}

char *progress_format(const Progress *p, int64_t done, double elapsed, int final, char *buf, size_t len) {
    if (len == 0) return buf;
    progress_format_main(p, done, elapsed, final, buf, len);
    if (p->suffix && p->suffix[0]) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "  %s", p->suffix);
    }
    return buf;
}

static void progress_print(Progress *p, double elapsed, int final) {
    char line[256];
    progress_format(p, p->done, elapsed, final, line, sizeof line);
    if (p->tty)
        fprintf(p->out, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(p->out, "%s\n", line);
    fflush(p->out);
    p->drawn = 1;
}

void progress_update(Progress *p, int64_t done) {
    p->done = done;
    if (p->quiet) return;
    double now = util_now_s();
    if (p->t_next < 0) p->t_next = p->t0 + p->first_s;
    if (now < p->t_next) return;
    p->t_next = now + p->every_s;
    progress_print(p, now - p->t0, 0);
}

void progress_finish(Progress *p) {
    if (!p->quiet && p->drawn) progress_print(p, util_now_s() - p->t0, 1);
    p->drawn = 0;
    p->quiet = 1; /* idempotent: a second finish prints nothing */
}
