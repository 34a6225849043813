/* Activations (see act.h). In-place forward (y == x) is allowed for all but
 * GELU's and ReLU's backward, which need the input. */
#include "nn/act.h"

void tsa_nn_relu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void tsa_nn_relu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

#define GELU_C 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

#if TSA_NN_AVX2
/* The GELU loops eight lanes at a time, each lane the scalar operations;
 * they return how far they got. */
TSA_NN_TARGET_AVX2 static size_t gelu_forward_avx2(float *y, const float *x, size_t n)
{
    const tsa_v8f c = tsa_v8f_set(GELU_C), a = tsa_v8f_set(GELU_A), half = tsa_v8f_set(0.5f),
                  one = tsa_v8f_set(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tsa_v8f v = tsa_v8f_load(x + i);
        tsa_v8f t = tsa_v8f_tanh(c * (v + a * v * v * v));
        tsa_v8f_store(y + i, half * v * (one + t));
    }
    return i;
}

TSA_NN_TARGET_AVX2 static size_t gelu_backward_avx2(float *dx, const float *dy, const float *x,
                                                    size_t n)
{
    const tsa_v8f c = tsa_v8f_set(GELU_C), a = tsa_v8f_set(GELU_A),
                  a3 = tsa_v8f_set(3.0f * GELU_A), half = tsa_v8f_set(0.5f),
                  one = tsa_v8f_set(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tsa_v8f v = tsa_v8f_load(x + i);
        tsa_v8f t = tsa_v8f_tanh(c * (v + a * v * v * v));
        tsa_v8f dt = (one - t * t) * c * (one + a3 * v * v);
        tsa_v8f_store(dx + i, tsa_v8f_load(dx + i) +
                                  tsa_v8f_load(dy + i) * (half * (one + t) + half * v * dt));
    }
    return i;
}
#endif

void tsa_nn_gelu_forward(float *y, const float *x, size_t n)
{
    size_t i = 0;
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2())
        i = gelu_forward_avx2(y, x, n);
#endif
#if TSA_NN_VEC
    const tsa_v4f c = tsa_v4f_set(GELU_C), a = tsa_v4f_set(GELU_A), half = tsa_v4f_set(0.5f),
                  one = tsa_v4f_set(1.0f);
    for (; i + 4 <= n; i += 4) {
        tsa_v4f v = tsa_v4f_load(x + i);
        tsa_v4f t = tsa_v4f_tanh(c * (v + a * v * v * v));
        tsa_v4f_store(y + i, half * v * (one + t));
    }
#endif
    for (; i < n; i++) {
        float v = x[i];
        float t = tsa_nn_tanhf(GELU_C * (v + GELU_A * v * v * v));
        y[i] = 0.5f * v * (1.0f + t);
    }
}

void tsa_nn_gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    size_t i = 0;
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2())
        i = gelu_backward_avx2(dx, dy, x, n);
#endif
#if TSA_NN_VEC
    const tsa_v4f c = tsa_v4f_set(GELU_C), a = tsa_v4f_set(GELU_A), a3 = tsa_v4f_set(3.0f * GELU_A),
                  half = tsa_v4f_set(0.5f), one = tsa_v4f_set(1.0f);
    for (; i + 4 <= n; i += 4) {
        tsa_v4f v = tsa_v4f_load(x + i);
        tsa_v4f t = tsa_v4f_tanh(c * (v + a * v * v * v));
        tsa_v4f dt = (one - t * t) * c * (one + a3 * v * v);
        tsa_v4f_store(dx + i, tsa_v4f_load(dx + i) +
                                  tsa_v4f_load(dy + i) * (half * (one + t) + half * v * dt));
    }
#endif
    for (; i < n; i++) {
        float v = x[i];
        float t = tsa_nn_tanhf(GELU_C * (v + GELU_A * v * v * v));
        float dt = (1.0f - t * t) * GELU_C * (1.0f + (3.0f * GELU_A) * v * v);
        dx[i] += dy[i] * (0.5f * (1.0f + t) + 0.5f * v * dt);
    }
}

void tsa_nn_tanh_forward(float *y, const float *x, size_t n)
{
    size_t i = 0;
#if TSA_NN_VEC
    for (; i + 4 <= n; i += 4)
        tsa_v4f_store(y + i, tsa_v4f_tanh(tsa_v4f_load(x + i)));
#endif
    for (; i < n; i++)
        y[i] = tsa_nn_tanhf(x[i]);
}

void tsa_nn_tanh_backward(float *dx, const float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void tsa_nn_sigmoid_forward(float *y, const float *x, size_t n)
{
    size_t i = 0;
#if TSA_NN_VEC
    for (; i + 4 <= n; i += 4)
        tsa_v4f_store(y + i, tsa_v4f_sigmoid(tsa_v4f_load(x + i)));
#endif
    for (; i < n; i++)
        y[i] = tsa_nn_sigmoidf(x[i]);
}

void tsa_nn_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}
