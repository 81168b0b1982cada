// Error checking for MPI calls, with file and line.
#pragma once

#include <mpi.h>

#include "engine/check.h"

#define MPI_CHECK(call)                                                \
  do {                                                                 \
    const int status_ = (call);                                        \
    if (status_ != MPI_SUCCESS) {                                      \
      char text_[MPI_MAX_ERROR_STRING];                                \
      int length_ = 0;                                                 \
      MPI_Error_string(status_, text_, &length_);                      \
      fail_internal(__FILE__, __LINE__, "MPI: %s (%s)", text_, #call); \
    }                                                                  \
  } while (0)
