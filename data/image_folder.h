// Image-folder datasets: <root>/<split>/<class>/<image>, JPEG or PNG, classes sorted by name.
#pragma once

#include <string>

#include "data/dataset.h"

// Every image must have the size of the first; `size` 0 keeps it, half of it box-downsamples.
Dataset load_image_folder_split(const std::string& split_dir, int size);

// <root>/train and <root>/test; the test classes must be the training classes.
DatasetSplits load_image_folder(const std::string& root, int size, const std::string& name,
                                const Normalization& normalization);

bool is_image_file(const std::string& name);
