// Who does what in a server/worker run. Rank 0 is the server. It is also worker 0 unless the server
// is dedicated (--dedicated-server); then the workers are ranks 1 to ranks - 1. Worker k gets the
// same data and computes the same gradients either way, so a dedicated server changes where the
// server's arithmetic runs (on a rank of its own) and which messages cross the wire, not a result.
#pragma once

struct Roles {
  int rank = 0, ranks = 1;
  bool dedicated_server = false;

  int workers() const { return dedicated_server ? ranks - 1 : ranks; }
  int first_worker() const { return dedicated_server ? 1 : 0; }  // the rank of worker 0
  bool is_server() const { return rank == 0; }
  bool is_worker() const { return rank >= first_worker(); }
  int worker() const { return rank - first_worker(); }  // this rank's worker index (-1: a dedicated server)
  int rank_of(int worker) const { return first_worker() + worker; }
};
