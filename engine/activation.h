// ReLU's element rules, shared by the ReLU op and by batch normalisation's fused ReLU, so that a
// fused layer computes the same bits as the two ops one after the other.
#pragma once

#include "engine/host_device.h"

enum class Activation { None, ReLU };

HOST_DEVICE inline float relu(float x) { return x > 0.0f ? x : 0.0f; }

// The gradient through ReLU given its output y (the gradient at 0 is taken as 0).
HOST_DEVICE inline float relu_gradient(float dy, float y) { return y > 0.0f ? dy : 0.0f; }
