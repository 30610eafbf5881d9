/* Prime numbers: a sieve and a deterministic Miller-Rabin test. */
#include <stdlib.h>
#include <string.h>

#include "example.h"

size_t
ex_primes_below(uint32_t limit, uint32_t *out, size_t out_len)
{
    size_t found = 0;
    unsigned char *composite;

    if (limit < 3) {
        return 0;
    }
    composite = calloc(limit, 1);
    if (composite == NULL) {
        return 0;
    }
    for (uint32_t i = 2; i < limit; i++) {
        if (composite[i]) {
            continue;
        }
        if (found < out_len) {
            out[found] = i;
        }
        found++;
        for (uint64_t j = (uint64_t)i * i; j < limit; j += i) {
            composite[j] = 1;
        }
    }
    free(composite);
    return found;
}

static uint64_t
mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)(((unsigned __int128)a * b) % m);
}

static uint64_t
powmod(uint64_t base, uint64_t exp, uint64_t m)
{
    uint64_t result = 1;
    base %= m;
    while (exp > 0) {
        if (exp & 1) {
            result = mulmod(result, base, m);
        }
        base = mulmod(base, base, m);
        exp >>= 1;
    }
    return result;
}

int
ex_is_prime(uint64_t n)
{
    static const uint64_t witnesses[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    uint64_t d = n - 1;
    int r = 0;

    if (n < 2) {
        return 0;
    }
    for (size_t i = 0; i < sizeof witnesses / sizeof witnesses[0]; i++) {
        if (n % witnesses[i] == 0) {
            return n == witnesses[i];
        }
    }
    while ((d & 1) == 0) {
        d >>= 1;
        r++;
    }
    for (size_t i = 0; i < sizeof witnesses / sizeof witnesses[0]; i++) {
        uint64_t x = powmod(witnesses[i], d, n);
        int composite = 1;
        if (x == 1 || x == n - 1) {
            continue;
        }
        for (int k = 1; k < r; k++) {
            x = mulmod(x, x, n);
            if (x == n - 1) {
                composite = 0;
                break;
            }
        }
        if (composite) {
            return 0;
        }
    }
    return 1;
}
