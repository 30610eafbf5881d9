/* Byte-string helpers. */
#include <ctype.h>

#include "example.h"

size_t
ex_word_count(const char *s, size_t len)
{
    size_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)s[i])) {
            in_word = 0;
        }
        else if (!in_word) {
            in_word = 1;
            words++;
        }
    }
    return words;
}

uint64_t
ex_fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

size_t
ex_count_vowels(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        switch (tolower((unsigned char)s[i])) {
        case 'a': case 'e': case 'i': case 'o': case 'u':
            n++;
            break;
        default:
            break;
        }
    }
    return n;
}
