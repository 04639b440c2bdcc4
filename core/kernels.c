/* kernels.c - compiles kernels_tmpl.h for float (training) and double (gradient checks), and
 * the vectorisable single-precision exponential the float softmax uses. */
#include "ncl_kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* exp(x) for the softmax: glibc's expf is a library call the compiler cannot vectorise without
 * -ffast-math, and the softmax evaluates ~20 million of them per batch. Cephes' reduction to
 * 2^n e^f, |f| <= ln2/2, with its degree-5 polynomial: about 1 ulp on [-87, 88]. Inputs below
 * -87.3 (results below FLT_MIN) return 0; inputs above 88 are clamped to 88. */
float nc_expf_fast(float x) {
    const float lo = -87.33654f, hi = 88.0f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick, which needs no libm call */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float f = xc - n * 0.693359375f;
    f = f - n * -2.12194440e-4f;
    float z = f * f;
    float p = 1.9875691500e-4f;
    p = p * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * z + f + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < lo ? 0.0f : p * scale;
}

#define REAL float
#define NC_R(f) f##_f
#define NC_GEMM cblas_sgemm
#define NC_EXP(x) nc_expf_fast(x)
#include "kernels_tmpl.h"
#undef REAL
#undef NC_R
#undef NC_GEMM
#undef NC_EXP

#define REAL double
#define NC_R(f) f##_d
#define NC_GEMM cblas_dgemm
#define NC_EXP(x) exp(x)
#include "kernels_tmpl.h"
#undef REAL
#undef NC_R
#undef NC_GEMM
#undef NC_EXP
