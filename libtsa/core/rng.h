/* A small seeded generator (xoshiro256**, seeded by splitmix64): each model
 * owns its own, so results depend only on the seed, never on other users. */
#ifndef TSA_CORE_RNG_H
#define TSA_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsa_rng {
    uint64_t s[4];
} tsa_rng;

void tsa_rng_seed(tsa_rng *r, uint64_t seed);
uint64_t tsa_rng_next(tsa_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double tsa_rng_uniform(tsa_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t tsa_rng_below(tsa_rng *r, uint64_t n);
/* Standard normal (Marsaglia polar method, no cached second value). */
double tsa_rng_normal(tsa_rng *r);
/* Fisher-Yates shuffle of @n indices. */
void tsa_rng_shuffle(tsa_rng *r, size_t *idx, size_t n);

#endif
