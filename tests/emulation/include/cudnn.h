// Stand-in for <cudnn.h> in the emulated build: only the types that the repository's headers name (no cuDNN call is emulated).
#pragma once

typedef struct cudnnContext* cudnnHandle_t;
typedef struct cudnnTensorStruct* cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct* cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct* cudnnConvolutionDescriptor_t;
enum cudnnConvolutionFwdAlgo_t {};
enum cudnnConvolutionBwdDataAlgo_t {};
enum cudnnConvolutionBwdFilterAlgo_t {};
enum cudnnStatus_t { CUDNN_STATUS_SUCCESS = 0 };
inline const char* cudnnGetErrorString(cudnnStatus_t) { return "cuDNN is not emulated"; }
