// Mailbox: the buffers, and the choice between the fixed-size and the variable-size exchanges.
#include "comm/mailbox.h"

#include "comm/patterns.h"

Mailbox::Mailbox(Context& ctx, size_t capacity, int peers) : capacity_(capacity), outgoing_(ctx, capacity) {
  for (int k = 0; k < peers; ++k) {
    inbox_storage_.emplace_back(ctx, capacity);
    inbox_.push_back(inbox_storage_.back().data());
  }
}

std::vector<size_t> Mailbox::gather_to_server(Transport& t, const Roles& roles, const Compressor& c, size_t bytes) {
  if (c.variable_size()) return gather_to_server_variable(t, roles, outgoing_.data(), bytes, capacity_, inbox_);
  ::gather_to_server(t, roles, outgoing_.data(), bytes, inbox_);
  return std::vector<size_t>(inbox_.size(), bytes);
}

size_t Mailbox::broadcast_from_server(Transport& t, const Compressor& c, size_t bytes) {
  if (c.variable_size()) return broadcast_from_server_variable(t, outgoing_.data(), bytes, capacity_);
  ::broadcast_from_server(t, outgoing_.data(), bytes);
  return bytes;
}

std::vector<size_t> Mailbox::exchange_with_neighbors(Transport& t, const std::vector<int>& neighbors, const Compressor& c,
                                                     size_t bytes) {
  if (c.variable_size())
    return exchange_with_neighbors_variable(t, neighbors, outgoing_.data(), bytes, capacity_, inbox_);
  ::exchange_with_neighbors(t, neighbors, outgoing_.data(), bytes, inbox_);
  return std::vector<size_t>(neighbors.size(), bytes);
}
