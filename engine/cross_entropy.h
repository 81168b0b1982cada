// Softmax cross-entropy over logits [n, classes] with integer labels, fused with its gradient and
// the count of correct predictions.
#pragma once

#include <cstdint>

#include "engine/context.h"

// Writes dlogits = (softmax(logits) - onehot(label)) / n, the gradient of the mean loss, and adds
// the summed loss to stats[0] and the number of correct top-1 predictions to stats[1]. The sums
// stay on the device, so a training step never waits for the host to read them.
void softmax_cross_entropy(Context& ctx, float* dlogits, float* stats, const float* logits, const int32_t* labels,
                           int n, int classes);
