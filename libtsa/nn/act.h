/* Activations: ReLU, GELU, tanh, sigmoid over flat arrays.
 *
 * The exponential is a polynomial (Moshier, Cephes Math Library expf.c:
 * 2^n e^r with |r| <= ln 2 / 2, relative error ~1e-7), inline and with a
 * four-lane version, so the LSTM, GELU and softmax loops make no library
 * calls. */
#ifndef TSA_NN_ACT_H
#define TSA_NN_ACT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Rounds to the nearest integer-valued float (ties to even) for |x| < 2^22,
 * without SSE4.1's roundps: adding and removing 1.5 * 2^23 leaves no
 * fraction bits. */
#define TSA_NN_ROUND_MAGIC 12582912.0f
#define TSA_NN_ROUND_MAGIC_BITS 0x4B400000u

static inline float tsa_nn_expf(float x)
{
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    float t = x * 1.44269504088896341f + TSA_NN_ROUND_MAGIC, kf = t - TSA_NN_ROUND_MAGIC;
    /* Cody-Waite: ln 2 split so kf * C1 is exact. */
    float r = x - kf * 0.693359375f;
    r = r + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    /* k sits in t's low mantissa bits: 2^k from integer arithmetic alone. */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - TSA_NN_ROUND_MAGIC_BITS + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float tsa_nn_sigmoidf(float x) { return 1.0f / (1.0f + tsa_nn_expf(-x)); }

/* tanh x = 1 - 2 / (1 + e^{2x}); absolute error ~1e-7 near 0. */
static inline float tsa_nn_tanhf(float x) { return 1.0f - 2.0f / (1.0f + tsa_nn_expf(2.0f * x)); }

/* Four lanes at a time with GCC/Clang vector extensions (plain SSE2 on
 * x86-64). Each lane performs exactly the scalar functions' operations, so
 * a value gets the same bits whichever path computes it. */
#if defined(__GNUC__)
#define TSA_NN_VEC 4
typedef float tsa_v4f __attribute__((vector_size(16)));
typedef int32_t tsa_v4i __attribute__((vector_size(16)));
typedef uint32_t tsa_v4u __attribute__((vector_size(16)));

static inline tsa_v4f tsa_v4f_load(const float *p)
{
    tsa_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void tsa_v4f_store(float *p, tsa_v4f v) { memcpy(p, &v, sizeof v); }

static inline tsa_v4f tsa_v4f_set(float x) { return (tsa_v4f){x, x, x, x}; }

/* Lanes of @a where @m is set, else of @b. */
static inline tsa_v4f tsa_v4f_select(tsa_v4i m, tsa_v4f a, tsa_v4f b)
{
    return (tsa_v4f)(((tsa_v4i)a & m) | ((tsa_v4i)b & ~m));
}

static inline tsa_v4f tsa_v4f_exp(tsa_v4f x)
{
    const tsa_v4f hi = tsa_v4f_set(88.0f), lo = tsa_v4f_set(-87.0f);
    const tsa_v4f magic = tsa_v4f_set(TSA_NN_ROUND_MAGIC);
    x = tsa_v4f_select(x > hi, hi, x);
    x = tsa_v4f_select(x < lo, lo, x);
    tsa_v4f t = x * tsa_v4f_set(1.44269504088896341f) + magic, kf = t - magic;
    tsa_v4f r = x - kf * tsa_v4f_set(0.693359375f);
    r = r + kf * tsa_v4f_set(2.12194440e-4f);
    tsa_v4f p = tsa_v4f_set(1.9875691500e-4f);
    p = p * r + tsa_v4f_set(1.3981999507e-3f);
    p = p * r + tsa_v4f_set(8.3334519073e-3f);
    p = p * r + tsa_v4f_set(4.1665795894e-2f);
    p = p * r + tsa_v4f_set(1.6666665459e-1f);
    p = p * r + tsa_v4f_set(5.0000001201e-1f);
    tsa_v4f y = p * r * r + r + tsa_v4f_set(1.0f);
    tsa_v4f scale = (tsa_v4f)(((tsa_v4u)t - TSA_NN_ROUND_MAGIC_BITS + 127u) << 23);
    return y * scale;
}

static inline tsa_v4f tsa_v4f_sigmoid(tsa_v4f x)
{
    const tsa_v4f one = tsa_v4f_set(1.0f);
    return one / (one + tsa_v4f_exp(-x));
}

static inline tsa_v4f tsa_v4f_tanh(tsa_v4f x)
{
    const tsa_v4f one = tsa_v4f_set(1.0f), two = tsa_v4f_set(2.0f);
    return one - two / (one + tsa_v4f_exp(two * x));
}
#else
#define TSA_NN_VEC 0
#endif

/* Eight lanes in functions compiled for AVX2 (x86-64 with GCC or Clang),
 * chosen at run time with tsa_nn_have_avx2(). The lanes repeat the scalar
 * operations exactly (no fused multiply-add), so results do not depend on
 * which path ran. Every helper carries the target attribute: 32-byte
 * vectors then never cross a function compiled without AVX. */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define TSA_NN_AVX2 1
#define TSA_NN_TARGET_AVX2 __attribute__((target("avx2")))
typedef float tsa_v8f __attribute__((vector_size(32)));
typedef int32_t tsa_v8i __attribute__((vector_size(32)));
typedef uint32_t tsa_v8u __attribute__((vector_size(32)));

static inline int tsa_nn_have_avx2(void) { return __builtin_cpu_supports("avx2"); }

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_load(const float *p)
{
    tsa_v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

TSA_NN_TARGET_AVX2 static inline void tsa_v8f_store(float *p, tsa_v8f v)
{
    memcpy(p, &v, sizeof v);
}

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_set(float x)
{
    return (tsa_v8f){x, x, x, x, x, x, x, x};
}

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_select(tsa_v8i m, tsa_v8f a, tsa_v8f b)
{
    return (tsa_v8f)(((tsa_v8i)a & m) | ((tsa_v8i)b & ~m));
}

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_exp(tsa_v8f x)
{
    const tsa_v8f hi = tsa_v8f_set(88.0f), lo = tsa_v8f_set(-87.0f);
    const tsa_v8f magic = tsa_v8f_set(TSA_NN_ROUND_MAGIC);
    /* min(hi, x) is hi < x ? hi : x and max(lo, x) is lo > x ? lo : x, the
     * scalar clamps exactly (NaN included), one instruction each. */
    x = (tsa_v8f)_mm256_min_ps((__m256)hi, (__m256)x);
    x = (tsa_v8f)_mm256_max_ps((__m256)lo, (__m256)x);
    tsa_v8f t = x * tsa_v8f_set(1.44269504088896341f) + magic, kf = t - magic;
    tsa_v8f r = x - kf * tsa_v8f_set(0.693359375f);
    r = r + kf * tsa_v8f_set(2.12194440e-4f);
    tsa_v8f p = tsa_v8f_set(1.9875691500e-4f);
    p = p * r + tsa_v8f_set(1.3981999507e-3f);
    p = p * r + tsa_v8f_set(8.3334519073e-3f);
    p = p * r + tsa_v8f_set(4.1665795894e-2f);
    p = p * r + tsa_v8f_set(1.6666665459e-1f);
    p = p * r + tsa_v8f_set(5.0000001201e-1f);
    tsa_v8f y = p * r * r + r + tsa_v8f_set(1.0f);
    tsa_v8f scale = (tsa_v8f)(((tsa_v8u)t - TSA_NN_ROUND_MAGIC_BITS + 127u) << 23);
    return y * scale;
}

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_sigmoid(tsa_v8f x)
{
    const tsa_v8f one = tsa_v8f_set(1.0f);
    return one / (one + tsa_v8f_exp(-x));
}

TSA_NN_TARGET_AVX2 static inline tsa_v8f tsa_v8f_tanh(tsa_v8f x)
{
    const tsa_v8f one = tsa_v8f_set(1.0f), two = tsa_v8f_set(2.0f);
    return one - two / (one + tsa_v8f_exp(two * x));
}
#else
#define TSA_NN_AVX2 0
#endif

/* y = max(x, 0); dx += dy * [x > 0]. */
void tsa_nn_relu_forward(float *y, const float *x, size_t n);
void tsa_nn_relu_backward(float *dx, const float *dy, const float *x, size_t n);

/* GELU, tanh approximation (Hendrycks & Gimpel 2016, eq. 2):
 * y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); dx += dy * y'(x). */
void tsa_nn_gelu_forward(float *y, const float *x, size_t n);
void tsa_nn_gelu_backward(float *dx, const float *dy, const float *x, size_t n);

/* y = tanh x; dx += dy (1 - y^2), from the cached output. */
void tsa_nn_tanh_forward(float *y, const float *x, size_t n);
void tsa_nn_tanh_backward(float *dx, const float *dy, const float *y, size_t n);

/* y = 1 / (1 + e^-x); dx += dy y (1 - y), from the cached output. */
void tsa_nn_sigmoid_forward(float *y, const float *x, size_t n);
void tsa_nn_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n);

#endif
