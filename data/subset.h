// A seeded sample of a dataset, balanced over its classes: what --train-subset and --test-subset keep.
#pragma once

#include <cstddef>
#include <cstdint>

#include "data/dataset.h"

// Keeps `n` images of `data` (all of them if it has no more): as many of each class as the class
// sizes allow, the same for every class up to one, each class's drawn at random by `seed`, kept in
// storage order. Image folders are sorted by class, so their first n images would be one or two
// classes: a quick run on them could not learn.
void keep_balanced_subset(Dataset& data, size_t n, uint64_t seed);
