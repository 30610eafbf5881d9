/* Small statistics helpers over arrays of doubles. */
#include <stdlib.h>

#include "example.h"

double
ex_mean(const double *xs, size_t n)
{
    /* Kahan summation keeps the error small for long inputs. */
    double sum = 0.0, c = 0.0;
    if (n == 0) {
        return 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        double y = xs[i] - c;
        double t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    return sum / (double)n;
}

double
ex_variance(const double *xs, size_t n)
{
    /* Welford's online algorithm (population variance). */
    double mean = 0.0, m2 = 0.0;
    if (n == 0) {
        return 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        double delta = xs[i] - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (xs[i] - mean);
    }
    return m2 / (double)n;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void
ex_sort_doubles(double *xs, size_t n)
{
    qsort(xs, n, sizeof *xs, cmp_double);
}

double
ex_median(double *xs, size_t n)
{
    if (n == 0) {
        return 0.0;
    }
    ex_sort_doubles(xs, n);
    if (n % 2) {
        return xs[n / 2];
    }
    return (xs[n / 2 - 1] + xs[n / 2]) / 2.0;
}
