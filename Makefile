# Builds ./train and the test binaries with nvcc (CUDA 13, cuDNN 9, cuBLAS) for sm_90 plus PTX.
# Overrides: CUDA_HOME, EXTRA_INCLUDES (e.g. -I.deps/include), EXTRA_LIBS, ARCH, HOST_ARCH.
# Targets: all (default), test, run, bench, bench-cpu, profile, plots, fuzz, fuzz-corpus, deps, report, clean.

CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CXX       ?= g++
ARCH      ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
BUILD     := build

# Where the libraries live: the CUDA install first, then the Debian/Ubuntu multiarch folders.
SEARCH_INCLUDES := $(CUDA_HOME)/include /usr/include/x86_64-linux-gnu /usr/include
SEARCH_LIBS     := $(CUDA_HOME)/lib64 /usr/lib/x86_64-linux-gnu /usr/lib
find_header = $(firstword $(foreach d,$(SEARCH_INCLUDES) $(patsubst -I%,%,$(EXTRA_INCLUDES)),$(wildcard $(d)/$(1))))
CUDNN_H   := $(call find_header,cudnn.h)
NCCL_H    := $(call find_header,nccl.h)
STB_H     := $(call find_header,stb/stb_image.h)
DOCTEST_H := $(call find_header,doctest/doctest.h)
DNNL_H    := $(call find_header,oneapi/dnnl/dnnl.hpp)
MPICXX    := $(shell command -v mpicxx 2>/dev/null)
LIB_DIRS  := $(sort $(foreach d,$(SEARCH_LIBS),$(if $(wildcard $(d)/libcudnn.so* $(d)/libnccl.so*),$(d))))

MPI_INCLUDES := $(if $(MPICXX),$(shell $(MPICXX) --showme:compile 2>/dev/null))
MPI_LIBS     := $(if $(MPICXX),$(shell $(MPICXX) --showme:link 2>/dev/null))
INCLUDES := -I. -isystem $(CUDA_HOME)/include $(if $(CUDNN_H),-I$(dir $(CUDNN_H))) \
            $(if $(NCCL_H),-I$(dir $(NCCL_H))) $(patsubst -I%,-isystem %,$(MPI_INCLUDES)) $(EXTRA_INCLUDES)
COMMON   := -std=c++17 -O2 -MMD -MP
# Host code never fuses a * b + c into one FMA (g++ would on a host with FMA in its base ISA, such
# as aarch64): the CPU references round as engine/exact_math.h has the GPU round.
HOST_FP  := -ffp-contract=off
# The CPU loops are vectorised for the machine that builds them (which is the one that runs them;
# set HOST_ARCH=-march=x86-64-v3, say, for binaries that run elsewhere).
HOST_ARCH ?= -march=native
# g++ vectorises no loop with a floating-point comparison in it (a ReLU, a ReLU's gradient) while
# it must keep the comparison's exceptions, which nothing here reads; and at -O2 only a loop that
# needs no remainder. Neither flag changes a result.
HOST_VEC := -fno-trapping-math -fvect-cost-model=dynamic
# oneDNN runs the CPU convolutions and products; without it they fall back to the slow reference.
ONEDNN   := $(if $(DNNL_H),-DHAVE_ONEDNN)
HOST_FLAGS := -Wall -Wextra -fopenmp $(HOST_FP) $(HOST_ARCH) $(HOST_VEC)
empty :=
comma := ,
CXXFLAGS := $(COMMON) $(HOST_FLAGS) $(ONEDNN) $(INCLUDES)
# nvcc hands the host compiler one comma-separated list.
NVCCFLAGS := $(COMMON) $(ARCH) --extended-lambda -Xcompiler $(subst $(empty) $(empty),$(comma),$(strip $(HOST_FLAGS))) $(ONEDNN) $(INCLUDES)
LDFLAGS  := -L$(CUDA_HOME)/lib64 $(foreach d,$(LIB_DIRS),-L$(d) -Xlinker -rpath=$(d)) $(filter -L%,$(MPI_LIBS)) \
            -Xlinker -rpath=$(CUDA_HOME)/lib64
LDLIBS   := -lnccl -lcudnn -lcublas -lcudart $(if $(DNNL_H),-ldnnl) -lgomp $(filter -l%,$(MPI_LIBS)) $(EXTRA_LIBS)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# What the objects were compiled with, rewritten only when it changes (a library found since the
# last build, another HOST_ARCH, a new commit for ./train's): every object depends on its file, so
# none compiled under other settings is linked, and none is rebuilt that is up to date.
remember = $(shell mkdir -p $(BUILD) && printf '%s\n' $(2) > $(1).new && { cmp -s $(1).new $(1) || mv -f $(1).new $(1); }; rm -f $(1).new)
FLAGS_FILE  := $(BUILD)/flags.txt
COMMIT_FILE := $(BUILD)/commit.txt
$(call remember,$(FLAGS_FILE),"$(CXXFLAGS)" "$(NVCCFLAGS)")
$(call remember,$(COMMIT_FILE),"$(GIT_COMMIT)")

LIB_SOURCES := $(wildcard engine/*.cu engine/*.cpp models/*.cpp data/*.cu data/*.cpp compress/*.cu compress/*.cpp comm/*.cu comm/*.cpp)
LIB_OBJECTS := $(patsubst %,$(BUILD)/%.o,$(LIB_SOURCES))
TEST_SOURCES := $(filter-out tests/test_main.cpp,$(wildcard tests/test_*.cu tests/test_*.cpp))
TEST_BINARIES := $(patsubst tests/%,$(BUILD)/tests/%,$(basename $(TEST_SOURCES)))
TEST_HELPERS := $(BUILD)/tests/mpi_ranks  # programs the tests start

BENCH_SOURCES := $(wildcard tests/bench/bench_*.cu)
BENCH_BINARIES := $(patsubst tests/bench/%.cu,$(BUILD)/%,$(BENCH_SOURCES)) $(BUILD)/comm_bench

.PHONY: all test run bench bench-cpu plots profile clean deps report
all: report train $(TEST_BINARIES) $(TEST_HELPERS) $(BENCH_BINARIES)

report:
	@echo "CUDA:    $(if $(wildcard $(NVCC)),found $(NVCC),NOT FOUND at $(NVCC) (set CUDA_HOME))"
	@echo "cuDNN:   $(if $(CUDNN_H),found $(CUDNN_H),NOT FOUND (install cuDNN 9))"
	@echo "NCCL:    $(if $(NCCL_H),found $(NCCL_H),not found)"
	@echo "MPI:     $(if $(MPICXX),found $(MPICXX),not found (scripts/install-deps.sh installs it))"
	@echo "stb:     $(if $(STB_H),found $(STB_H),not found (scripts/install-deps.sh installs libstb-dev))"
	@echo "doctest: $(if $(DOCTEST_H),found $(DOCTEST_H),not found (scripts/install-deps.sh installs doctest-dev))"
	@echo "oneDNN:  $(if $(DNNL_H),found $(DNNL_H),not found: CPU convolutions run the slow reference (scripts/install-deps.sh installs libdnnl-dev))"

$(BUILD)/%.cu.o: %.cu $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/%.cpp.o: %.cpp $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/train.cu.o: NVCCFLAGS += -DGIT_COMMIT=\"$(GIT_COMMIT)\"
$(BUILD)/train.cu.o: $(COMMIT_FILE)

$(BUILD)/libengine.a: $(LIB_OBJECTS)
	@rm -f $@
	ar rcs $@ $^

train: $(BUILD)/train.cu.o $(BUILD)/train_config.cpp.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/mpi_ranks: $(BUILD)/tests/mpi_ranks.cpp.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.cu.o $(BUILD)/tests/test_main.cpp.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.cpp.o $(BUILD)/tests/test_main.cpp.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/comm_bench: $(BUILD)/tests/bench/comm_bench.cu.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/tests/bench/bench_%.cu.o $(BUILD)/libengine.a
	$(NVCC) $(ARCH) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# The kernels' own source on the CPU, under an emulation of the CUDA execution model, so that CI
# (no GPU) runs them (all but device-only `__CUDA_ARCH__` branches; tests/emulation/README.md says
# what it cannot show): tests/emulation/rewrite_cuda.py rewrites each .cu file's
# launches and __shared__ declarations (nothing else, same line numbers), and g++ compiles the
# result against tests/emulation/emulator.h with AddressSanitizer and UBSan. engine/batchnorm.cu
# is not compiled on its own: its test includes it (see tests/emulation/test_batchnorm.cpp).
EMU_DIR      := tests/emulation
EMU_BUILD    := $(BUILD)/emulation
EMU_KERNELS  := engine/elementwise.cu engine/bf16.cu engine/pool.cu engine/cross_entropy.cu engine/linear.cu \
                engine/sgd.cu engine/vector_ops.cu engine/step_clock.cu data/batch.cu $(wildcard compress/*.cu)
EMU_HOST     := engine/check.cpp engine/gemm_cpu.cpp compress/wire.cpp compress/entropy_coder.cpp
EMU_OBJECTS  := $(patsubst %,$(EMU_BUILD)/%.cpp.o,$(EMU_KERNELS)) $(patsubst %,$(EMU_BUILD)/%.o,$(EMU_HOST) \
                $(wildcard $(EMU_DIR)/*.cpp) tests/test_main.cpp)
EMU_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
EMU_CXXFLAGS := -std=c++17 -O1 -g1 -MMD -MP $(HOST_FP) -Wall -Wextra -Wno-unknown-pragmas -Wno-maybe-uninitialized -fopenmp $(EMU_SANITIZE) -D__CUDACC__ \
                -I$(EMU_DIR)/include -I$(EMU_DIR) -I$(EMU_BUILD) -I. -include $(EMU_DIR)/emulator.h

$(EMU_BUILD)/%.cu.cpp: %.cu $(EMU_DIR)/rewrite_cuda.py
	@mkdir -p $(dir $@)
	@command -v python3 >/dev/null || { echo "python3 is needed to rewrite the kernels for $(BUILD)/tests/test_kernels_emulated" >&2; exit 1; }
	python3 $(EMU_DIR)/rewrite_cuda.py $< $@

$(EMU_BUILD)/%.o: $(EMU_BUILD)/%
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@

$(EMU_BUILD)/%.o: %
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@

# batchnorm.cu's channels-last kernels live in a header it includes: rewritten beside it, where the
# rewritten batchnorm.cu.cpp finds it first.
$(EMU_BUILD)/%.cuh: %.cuh $(EMU_DIR)/rewrite_cuda.py
	@mkdir -p $(dir $@)
	python3 $(EMU_DIR)/rewrite_cuda.py $< $@

$(EMU_BUILD)/$(EMU_DIR)/test_batchnorm.cpp.o: $(EMU_BUILD)/engine/batchnorm.cu.cpp $(EMU_BUILD)/engine/batchnorm_channels_last.cuh
$(EMU_BUILD)/%.d: ;  # the compiler writes them; without this, make would try to build one from a .o
# Nothing built is an intermediate to delete: the test and benchmark objects, and the rewritten
# kernels (the sources of what the emulated tests ran), stay, so the next make rebuilds nothing.
.SECONDARY:

EMU_TEST := $(BUILD)/tests/test_kernels_emulated
$(EMU_TEST): $(EMU_OBJECTS)
	$(CXX) $(EMU_SANITIZE) -fopenmp $^ -o $@

# The parsers of untrusted bytes under libFuzzer (clang, AddressSanitizer, UBSan): data files, images,
# checkpoints, flags, and every compressor's messages (a peer's message is untrusted input). Built
# like the emulated kernels (the same rewritten .cu sources, the emulator in place of a GPU), but
# with clang's coverage instrumentation. tests/fuzz/README.md says what each harness feeds.
FUZZ_CXX     ?= clang++-14
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SOURCES := $(wildcard tests/fuzz/fuzz_*.cpp)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.cpp,$(FUZZ_BUILD)/%,$(FUZZ_SOURCES))
FUZZ_KERNELS := $(wildcard compress/*.cu) engine/vector_ops.cu
FUZZ_HOST    := engine/check.cpp engine/checkpoint.cpp engine/atomic_file.cpp engine/flags.cpp engine/lr_schedule.cpp \
                compress/wire.cpp compress/entropy_coder.cpp data/cifar.cpp data/files.cpp data/tiny_imagenet.cpp \
                data/image_decode.cpp data/jpeg_tables.cpp data/png_chunks.cpp data/image_folder.cpp data/stb_image.cpp data/dataset.cpp data/subset.cpp \
                data/load.cpp data/synthetic.cpp comm/algorithm_table.cpp comm/topology.cpp comm/transport.cpp engine/precision.cpp models/model_names.cpp train_config.cpp \
                $(EMU_DIR)/emulator.cpp $(EMU_DIR)/device_context.cpp
FUZZ_OBJECTS := $(patsubst %,$(FUZZ_BUILD)/%.cpp.o,$(FUZZ_KERNELS)) $(patsubst %,$(FUZZ_BUILD)/%.o,$(FUZZ_HOST))
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CXXFLAGS := -std=c++17 -O1 -g -MMD -MP $(HOST_FP) -Wall -Wextra -Wno-unknown-pragmas -Wno-unused-command-line-argument -ffunction-sections -fdata-sections \
                 $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link -D__CUDACC__ -I$(EMU_DIR)/include -I$(EMU_DIR) -I. \
                 -include $(EMU_DIR)/emulator.h
FUZZ_SECONDS ?= 180

$(FUZZ_BUILD)/%.cu.cpp: %.cu $(EMU_DIR)/rewrite_cuda.py
	@mkdir -p $(dir $@)
	python3 $(EMU_DIR)/rewrite_cuda.py $< $@

$(FUZZ_BUILD)/%.o: $(FUZZ_BUILD)/%
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_BUILD)/%.o: %
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

# stb_image's JPEG decoder shifts by 32 bits or more when a damaged scan runs out of data (its bit
# count goes negative; x86 masks the count, and no memory is touched): undefined behaviour that is
# stb_image's to fix, not ours, so UBSan leaves that one check out in its file alone (tests/fuzz/README.md).
$(FUZZ_BUILD)/data/stb_image.cpp.o: FUZZ_CXXFLAGS += -fno-sanitize=shift-exponent

$(FUZZ_BUILD)/%.d: ;  # as for the emulation: the compiler writes them

$(FUZZ_BUILD)/libfuzzed.a: $(FUZZ_OBJECTS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.cpp.o $(FUZZ_BUILD)/libfuzzed.a
	$(FUZZ_CXX) $(FUZZ_SANITIZE) -fsanitize=fuzzer -Wl,--gc-sections $^ -o $@

# The seed corpora's generated part (real messages of every compressor, a real checkpoint, CIFAR
# records), from the same code, into tests/fuzz/corpus/ (committed: run it after a format change).
$(FUZZ_BUILD)/make_corpus: $(FUZZ_BUILD)/tests/fuzz/make_corpus.cpp.o $(FUZZ_BUILD)/libfuzzed.a
	$(FUZZ_CXX) $(FUZZ_SANITIZE) -Wl,--gc-sections $^ -o $@

.PHONY: fuzz fuzz-check fuzz-corpus
fuzz-corpus: $(FUZZ_BUILD)/make_corpus
	$(FUZZ_BUILD)/make_corpus tests/fuzz/corpus

# make fuzz [FUZZ_SECONDS=180]: each harness that long, from its corpus; finds go to build/fuzz/.
fuzz: $(FUZZ_TARGETS)
	@bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# What make test runs: each harness for FUZZ_CHECK_SECONDS (30) over its corpus, a regression fails.
FUZZ_CHECK_SECONDS ?= 30
fuzz-check: $(FUZZ_TARGETS)
	@bash scripts/fuzz.sh $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

deps:
	@bash scripts/install-deps.sh

# The test binaries find ./train next to the Makefile.
test: deps
	@$(MAKE) --no-print-directory all $(EMU_TEST) $(FUZZ_TARGETS)
	@bash scripts/run-tests.sh $(TEST_BINARIES) $(EMU_TEST)
	@bash scripts/fuzz.sh $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

# Kernel timings against the copy bandwidth measured in the same run (GPU; the CPU where none),
# then training images/s beside PyTorch's and the 8-worker LIEC-SGD step cost (on the GPU, or
# where there is none on the CPU: scripts/bench_cpu.sh).
bench: all
	@status=0; for b in $(filter-out $(BUILD)/comm_bench,$(BENCH_BINARIES)); do $$b || status=1; done; exit $$status
	$(BUILD)/comm_bench --comm local --workers 4
	@if ./train --device cuda --print-params >/dev/null 2>&1; then bash scripts/bench_train.sh; else bash scripts/bench_cpu.sh; fi

# Training images/s on the CPU beside PyTorch's (python3-torch, installed here if it can be), the
# 8-worker LIEC-SGD step on the CPU, and the CPU compressors against a CPU copy.
bench-cpu: all
	@bash scripts/install-deps.sh --torch
	bash scripts/bench_cpu.sh

run: deps
	@$(MAKE) --no-print-directory all
	bash scripts/run-default.sh

# A few steps under Nsight Systems or Nsight Compute, with the NVTX phase names (needs a GPU).
profile: all
	bash scripts/profile.sh

# make plots RUN=runs/a RUN2=runs/b ... [PLOTS_DIR=plots]: accuracy against epoch, time and bits.
PLOTS_DIR ?= plots
plots:
	@[ -n "$(strip $(RUN) $(RUN2) $(RUN3) $(RUN4) $(RUN5) $(RUN6) $(RUN7) $(RUN8) $(RUNS))" ] || \
	  { echo "usage: make plots RUN=runs/a [RUN2=runs/b ... RUN8=...] [RUNS='runs/c runs/d'] [PLOTS_DIR=plots]" >&2; exit 2; }
	bash scripts/plots.sh $(PLOTS_DIR) $(RUN) $(RUN2) $(RUN3) $(RUN4) $(RUN5) $(RUN6) $(RUN7) $(RUN8) $(RUNS)

clean:
	rm -rf $(BUILD) train

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
