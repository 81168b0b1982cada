// Float arithmetic with one rounding per operation on both CPU and GPU. nvcc would otherwise fuse
// a * b + c into one FMA (one rounding instead of two) where the CPU rounds twice, and the
// compressors promise the same bytes on both. The host side is plain arithmetic: the Makefile
// builds host code with -ffp-contract=off, so the host compiler does not fuse it either.
#pragma once

#include "engine/host_device.h"

HOST_DEVICE inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

HOST_DEVICE inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

HOST_DEVICE inline float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

HOST_DEVICE inline float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
