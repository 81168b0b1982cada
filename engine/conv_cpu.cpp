// oneDNN convolutions for the CPU. Thread safety: every context (one per rank, and a rank is one
// thread or one process) makes its own primitives and gives them its own buffers and scratchpad
// (scratchpad_mode::user, which oneDNN documents as safe to run from several threads at once as
// long as no two executions share a scratchpad). oneDNN is built on OpenMP here, so it runs each
// primitive on omp_get_max_threads() threads of the calling thread: the per-rank thread count
// train.cu's share_cores sets. The same thread count and CPU give the same bits on every run.
#include "engine/conv_cpu.h"

#include "engine/check.h"
#include "engine/conv_reference.h"
#include "engine/nvtx.h"

#ifndef HAVE_ONEDNN

void conv2d_forward_cpu(Context&, const ConvShape& shape, float* y, const float* x, const float* w) {
  conv2d_forward_reference(shape, y, x, w);
}
void conv2d_backward_data_cpu(Context&, const ConvShape& shape, float* dx, const float* dy, const float* w) {
  conv2d_backward_data_reference(shape, dx, dy, w);
}
void conv2d_backward_filter_cpu(Context&, const ConvShape& shape, float* dw, const float* dy, const float* x) {
  conv2d_backward_filter_reference(shape, dw, dy, x);
}
const char* cpu_convolution_library() { return "the reference (no oneDNN in this build)"; }
void CpuConvPlansDeleter::operator()(CpuConvPlans*) const {}

#else

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

// The C API returns a status; the C++ API throws dnnl::error. Either way: one line with the call's place.
#define DNNL_CHECK(call)                                                                     \
  do {                                                                                       \
    const dnnl_status_t status_ = (call);                                                    \
    if (status_ != dnnl_success)                                                             \
      fail_internal(__FILE__, __LINE__, "oneDNN: status %d (%s)", static_cast<int>(status_), #call); \
  } while (0)

#define DNNL_TRY(statement)                                                                       \
  do {                                                                                            \
    try {                                                                                         \
      statement;                                                                                  \
    } catch (const dnnl::error& e) {                                                              \
      fail_internal(__FILE__, __LINE__, "oneDNN: %s (status %d, %s)", e.what(), static_cast<int>(e.status), #statement); \
    }                                                                                             \
  } while (0)

namespace {

using dnnl::memory;

// Grows to the largest request and is then reused; 64-byte aligned, as oneDNN's kernels prefer.
class GrowingBuffer {
 public:
  GrowingBuffer() = default;
  GrowingBuffer(const GrowingBuffer&) = delete;
  GrowingBuffer& operator=(const GrowingBuffer&) = delete;
  ~GrowingBuffer() { std::free(data_); }

  void reserve(size_t bytes) {
    if (bytes <= bytes_) return;
    std::free(data_);
    bytes_ = (bytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, bytes_);
    if (data_ == nullptr) fail_input("out of memory: the CPU convolutions need %zu MiB more", bytes_ >> 20);
  }
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// One primitive with its arguments, kept so that running it allocates nothing of ours: the memory
// objects stay, their data handles are set before each run, and the C API takes the array as is.
struct Launch {
  dnnl::primitive primitive;
  std::vector<dnnl_exec_arg_t> args;

  void run(const dnnl::stream& stream) const {
    DNNL_CHECK(dnnl_primitive_execute(primitive.get(), stream.get(), static_cast<int>(args.size()), args.data()));
  }
};

// Where a direction's operands live in oneDNN's layout: one buffer per role, shared by every
// shape's plan of the context (they run one after another) and grown to the largest.
enum Slot { kFirstInput, kSecondInput, kOutput, kScratchpad, kSlots };

// An operand in our plain layout and, when the primitive wants another one, its copy in that
// layout and the reorder between the two (into the copy for an input, out of it for the output).
struct Operand {
  memory plain, inner;
  bool reordered = false;
  Launch reorder;
};

struct Direction {
  Operand operands[3];  // first input, second input, output: the slots of the same numbers
  memory scratchpad;
  Launch convolution;
  size_t bytes[kSlots] = {};
};

struct Plan {
  Direction forward, backward_data, backward_filter;
};

}  // namespace

struct CpuConvPlans {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<ConvShape, std::unique_ptr<Plan>> plans;
  GrowingBuffer slots[kSlots];
};

void CpuConvPlansDeleter::operator()(CpuConvPlans* plans) const { delete plans; }

namespace {

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

Operand make_operand(const dnnl::engine& engine, const memory::desc& plain, const memory::desc& wanted, bool output,
                     size_t* slot_bytes, size_t* scratchpad_bytes) {
  Operand op;
  op.plain = memory(plain, engine, DNNL_MEMORY_NONE);
  op.reordered = wanted != plain;
  if (!op.reordered) {
    op.inner = op.plain;
    return op;
  }
  op.inner = memory(wanted, engine, DNNL_MEMORY_NONE);
  *slot_bytes = wanted.get_size();
  const memory& from = output ? op.inner : op.plain;
  const memory& to = output ? op.plain : op.inner;
  const dnnl::reorder::primitive_desc pd(from, to, user_scratchpad());
  *scratchpad_bytes = std::max(*scratchpad_bytes, pd.scratchpad_desc().get_size());
  op.reorder.primitive = dnnl::reorder(pd);
  op.reorder.args = {{DNNL_ARG_FROM, from.get()}, {DNNL_ARG_TO, to.get()}};
  return op;
}

// `wanted` are the primitive's layouts of its three operands, `plain` ours, `roles` the arguments
// the primitive knows them by.
template <typename PrimitiveDesc, typename Primitive>
Direction make_direction(const dnnl::engine& engine, const PrimitiveDesc& pd, const memory::desc (&plain)[3],
                         const memory::desc (&wanted)[3], const int (&roles)[3]) {
  Direction d;
  d.bytes[kScratchpad] = pd.scratchpad_desc().get_size();
  for (int i = 0; i < 3; ++i) {
    // The reorders run on their own, before or after the convolution: they share its scratchpad.
    d.operands[i] = make_operand(engine, plain[i], wanted[i], i == kOutput, &d.bytes[i], &d.bytes[kScratchpad]);
  }
  d.bytes[kScratchpad] = std::max<size_t>(d.bytes[kScratchpad], 1);  // a memory of no bytes is not one
  d.scratchpad = memory(memory::desc({static_cast<memory::dim>(d.bytes[kScratchpad])}, memory::data_type::u8,
                                     memory::format_tag::x),
                        engine, DNNL_MEMORY_NONE);
  d.convolution.primitive = Primitive(pd);
  for (int i = 0; i < 3; ++i) d.convolution.args.push_back({roles[i], d.operands[i].inner.get()});
  d.convolution.args.push_back({DNNL_ARG_SCRATCHPAD, d.scratchpad.get()});
  for (Operand& op : d.operands)
    if (op.reordered) op.reorder.args.push_back({DNNL_ARG_SCRATCHPAD, d.scratchpad.get()});
  return d;
}

std::unique_ptr<Plan> make_plan(const dnnl::engine& engine, const ConvShape& s) {
  using Tag = memory::format_tag;
  const memory::data_type f32 = memory::data_type::f32;
  const memory::dims src{s.n, s.c, s.h, s.w}, weights{s.k, s.c, s.r, s.s}, dst{s.n, s.k, s.out_h(), s.out_w()};
  const memory::dims strides{s.stride, s.stride}, padding{s.pad, s.pad};
  const memory::desc any_src(src, f32, Tag::any), any_weights(weights, f32, Tag::any), any_dst(dst, f32, Tag::any);
  const memory::desc x(src, f32, Tag::nchw), w(weights, f32, Tag::oihw), y(dst, f32, Tag::nchw);
  const dnnl::primitive_attr attr = user_scratchpad();
  const auto direct = dnnl::algorithm::convolution_direct;

  const dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, any_src, any_weights, any_dst,
                                      strides, padding, padding),
      attr, engine);
  const dnnl::convolution_backward_data::primitive_desc backward_data(
      dnnl::convolution_backward_data::desc(direct, any_src, any_weights, any_dst, strides, padding, padding), attr,
      engine, forward);
  const dnnl::convolution_backward_weights::primitive_desc backward_filter(
      dnnl::convolution_backward_weights::desc(direct, any_src, any_weights, any_dst, strides, padding, padding),
      attr, engine, forward);

  auto plan = std::make_unique<Plan>();
  plan->forward = make_direction<decltype(forward), dnnl::convolution_forward>(
      engine, forward, {x, w, y}, {forward.src_desc(), forward.weights_desc(), forward.dst_desc()},
      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
  plan->backward_data = make_direction<decltype(backward_data), dnnl::convolution_backward_data>(
      engine, backward_data, {y, w, x},
      {backward_data.diff_dst_desc(), backward_data.weights_desc(), backward_data.diff_src_desc()},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC});
  plan->backward_filter = make_direction<decltype(backward_filter), dnnl::convolution_backward_weights>(
      engine, backward_filter, {y, x, w},
      {backward_filter.diff_dst_desc(), backward_filter.src_desc(), backward_filter.diff_weights_desc()},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS});
  return plan;
}

CpuConvPlans& plans_of(Context& ctx) {
  if (!ctx.cpu_conv_plans) DNNL_TRY(ctx.cpu_conv_plans.reset(new CpuConvPlans));
  return *ctx.cpu_conv_plans;
}

const Plan& plan_for(CpuConvPlans& plans, const ConvShape& shape) {
  auto found = plans.plans.find(shape);
  if (found == plans.plans.end()) {
    std::unique_ptr<Plan> plan;
    DNNL_TRY(plan = make_plan(plans.engine, shape));
    for (const Direction* d : {&plan->forward, &plan->backward_data, &plan->backward_filter})
      for (int slot = 0; slot < kSlots; ++slot) plans.slots[slot].reserve(d->bytes[slot]);
    found = plans.plans.emplace(shape, std::move(plan)).first;
  }
  return *found->second;
}

// Points the direction's memory at this call's operands and the context's buffers, brings the
// inputs into the primitive's layouts, convolves, and brings the output back into ours.
void run(CpuConvPlans& plans, const Direction& d, const void* first, const void* second, void* output) {
  void* const ours[3] = {const_cast<void*>(first), const_cast<void*>(second), output};
  for (int i = 0; i < 3; ++i) {
    const Operand& op = d.operands[i];
    DNNL_CHECK(dnnl_memory_set_data_handle(op.plain.get(), ours[i]));
    if (op.reordered) DNNL_CHECK(dnnl_memory_set_data_handle(op.inner.get(), plans.slots[i].data()));
  }
  DNNL_CHECK(dnnl_memory_set_data_handle(d.scratchpad.get(), plans.slots[kScratchpad].data()));
  for (int i = 0; i < 2; ++i)
    if (d.operands[i].reordered) d.operands[i].reorder.run(plans.stream);
  d.convolution.run(plans.stream);
  if (d.operands[kOutput].reordered) d.operands[kOutput].reorder.run(plans.stream);
  DNNL_CHECK(dnnl_stream_wait(plans.stream.get()));
}

}  // namespace

void conv2d_forward_cpu(Context& ctx, const ConvShape& shape, float* y, const float* x, const float* w) {
  CpuConvPlans& plans = plans_of(ctx);
  run(plans, plan_for(plans, shape).forward, x, w, y);
}

void conv2d_backward_data_cpu(Context& ctx, const ConvShape& shape, float* dx, const float* dy, const float* w) {
  CpuConvPlans& plans = plans_of(ctx);
  run(plans, plan_for(plans, shape).backward_data, dy, w, dx);
}

void conv2d_backward_filter_cpu(Context& ctx, const ConvShape& shape, float* dw, const float* dy, const float* x) {
  CpuConvPlans& plans = plans_of(ctx);
  run(plans, plan_for(plans, shape).backward_filter, dy, x, dw);
}

const char* cpu_convolution_library() {
  static const std::string name = [] {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  }();
  return name.c_str();
}

#endif
