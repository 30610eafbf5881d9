/* Shared declarations for the setuptools-cext example's C sources. */
#ifndef SETUPTOOLS_CEXT_EXAMPLE_H
#define SETUPTOOLS_CEXT_EXAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* primes.c */
size_t ex_primes_below(uint32_t limit, uint32_t *out, size_t out_len);
int ex_is_prime(uint64_t n);

/* stats.c */
double ex_mean(const double *xs, size_t n);
double ex_variance(const double *xs, size_t n);
void ex_sort_doubles(double *xs, size_t n);
double ex_median(double *xs, size_t n);

/* text.c */
size_t ex_word_count(const char *s, size_t len);
uint64_t ex_fnv1a(const char *s, size_t len);
size_t ex_count_vowels(const char *s, size_t len);

#endif
