# detc build.
#   make            CLI (build/detc) and libraries (build/libdetc.a, libdetc.so, libdetc-image.{a,so})
#   make install PREFIX=/usr/local DESTDIR=   (make uninstall): libraries, detc.h, pkg-config, commands, Python
#   make examples   examples/*.c against the shared libraries;  make tsan / make test-tsan: ThreadSanitizer
#   make test       build and run every test (installs missing Debian packages first)
#   make asan       ASan+UBSan build in build-asan/;  make test-asan runs the tests with it
#   make aarch64    cross-build in build-aarch64/;     make test-aarch64 runs the unit tests under qemu
#   make armhf      32-bit ARM cross-build in build-armhf/; make test-armhf runs the unit tests under qemu
#   make test-arm-outputs  every tensor of the shared models, ARM builds under qemu against the native build
#   make bench-arm  instructions per inference under qemu (aarch64, armhf) next to Arm NN's
#   BLAS=none       no BLAS linked (detc's own SGEMM); BLAS=cblas CBLAS_LIBS=... any CBLAS; ARM_CPU=cortex-a72
#   make bench      benchmarks (speed is measured here, never in tests)
#   make demo       detection on a sample photo
#   make tv-archs-refs  seeded torchvision references for tests/test_torchvision_archs.py (tests/data/tv_archs)
#   make maskrcnn-refs  torchvision reference outputs for tests/test_maskrcnn_torchvision.py, written to
#                   tests/data/maskrcnn (needs python3-torch, python3-torchvision and ../shared; commit them)
#   CC=clang make   any of the above with clang
#   make fuzz CC=clang     libFuzzer harnesses (tests/fuzz/) with ASan+UBSan in build-fuzz/
#   make fuzz-run CC=clang FUZZ_SECONDS=60   each harness for that long on generated seeds; fails on any crash

CC ?= cc
BUILD ?= build
OPT ?= -O2
# gcc's -O2 vectorizes only loops whose trip count the vector width divides ("very cheap"); the elementwise
# and channel loops of ops (add, relu, ROI align's bilinear sums, ...) run over runtime lengths. "cheap"
# allows their epilogues and alias checks. Floating-point results are unchanged: gcc vectorizes no float
# reduction without -ffast-math. clang vectorizes these at -O2 already (it has no such option). Test
# programs are built without it: the aarch64 cross gcc 12 crashes (an internal error in its vectorizer) on
# tests/test_maskrcnn_ops.c with it, and their speed does not matter.
VECT_FLAGS ?= $(shell $(CC) -fvect-cost-model=cheap -Werror -E -x c /dev/null >/dev/null 2>&1 && echo -fvect-cost-model=cheap)
ARCH_FLAGS ?=
SAN ?=
# Float GEMM: BLAS=openblas (default) links OpenBLAS; BLAS=cblas links any CBLAS given by CBLAS_LIBS;
# BLAS=none links no BLAS and uses detc's own packed SGEMM (runtime/kernels/).
BLAS ?= openblas
CBLAS_LIBS ?= -lcblas
BLAS_LIBS_openblas = -lopenblas
BLAS_LIBS_cblas = $(CBLAS_LIBS)
BLAS_CFLAGS_openblas = -DDETC_HAVE_BLAS -DDETC_HAVE_OPENBLAS
BLAS_CFLAGS_cblas = -DDETC_HAVE_BLAS
ifeq ($(filter $(BLAS),openblas cblas none),)
$(error BLAS=$(BLAS): use openblas, cblas or none)
endif

# Target: the architecture folder of runtime/kernels/ comes from $(CC) -dumpmachine.
TARGET_MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
KERNEL_ARCH := $(if $(filter x86_64-%,$(TARGET_MACHINE)),x86,$(if $(filter aarch64-% arm-% armv7%,$(TARGET_MACHINE)),arm))
# ARM_CPU=cortex-a72 (any -mcpu name) tunes an ARM build for that core; on aarch64 it also allows that
# core's instructions everywhere (-mcpu), on 32-bit ARM it tunes only (the build stays armv7-a hard-float).
ARM_CPU ?=
ifneq ($(filter aarch64-%,$(TARGET_MACHINE)),)
ARM_CPU_FLAGS = $(if $(ARM_CPU),-mcpu=$(ARM_CPU))
# Dot-product kernels only: the rest of the build stays armv8.0-A, select.c calls them when the CPU has it.
# (-mcpu would conflict with -march there: that object is tuned with -mtune instead.)
KERNEL_FLAGS_neon_dotprod = -march=armv8.2-a+dotprod $(if $(ARM_CPU),-mtune=$(ARM_CPU))
DROP_FLAGS_neon_dotprod = $(ARM_CPU_FLAGS)
else ifneq ($(filter arm-% armv7%,$(TARGET_MACHINE)),)
ARM_CPU_FLAGS = $(if $(ARM_CPU),-mtune=$(ARM_CPU))
# NEON kernels only: armhf promises VFPv3-D16, select.c calls them when the CPU reports NEON and VFPv4.
KERNEL_FLAGS_neon = -mfpu=neon-vfpv4
KERNEL_FLAGS_eltwise_neon = -mfpu=neon-vfpv4
endif
# The VBMI depthwise kernels at -O3 with their loops at 64-byte boundaries. Aligned: SSD uint8's 19x19 depthwise
# layers had taken 0.052 ms instead of 0.044-0.047 with the group loop where gcc 12 happened to put it (Zen 4),
# the same code. -O3: SSD uint8's depthwise 0.79-0.81 -> 0.76-0.77 ms, whole model 4.65 -> 4.58 ms (median of 6
# alternating rounds, 1 thread).
KERNEL_FLAGS_dw_q8_vbmi = $(if $(filter x86_64-%,$(TARGET_MACHINE)),-O3 -falign-loops=64)

CFLAGS_BASE = -std=c11 -Wall -Wextra -Werror -g $(OPT) $(VECT_FLAGS) $(ARCH_FLAGS) $(ARM_CPU_FLAGS) $(SAN) -D_FILE_OFFSET_BITS=64 \
	$(BLAS_CFLAGS_$(BLAS)) -Iruntime -Iruntime/io -Iops -Imodels
CFLAGS += $(CFLAGS_BASE)
# The core (libdetc: engine, ops, kernels, pipelines, API) needs cJSON and the BLAS chosen above; the
# image layer (libdetc-image: JPEG/PNG files, drawing, .npy) adds libjpeg and libpng.
CORE_LDLIBS = -lcjson $(BLAS_LIBS_$(BLAS)) -lm -lpthread
IMAGE_LDLIBS = -ljpeg -lpng
LDLIBS = $(IMAGE_LDLIBS) $(CORE_LDLIBS)
LDFLAGS += $(SAN)

KERNEL_SRC := $(wildcard runtime/kernels/*.c runtime/kernels/portable/*.c) \
	$(if $(filter none,$(BLAS)),,$(wildcard runtime/kernels/blas/*.c)) \
	$(if $(KERNEL_ARCH),$(wildcard runtime/kernels/$(KERNEL_ARCH)/*.c))

CORE_SRC := $(wildcard runtime/*.c) $(wildcard runtime/api/*.c) $(KERNEL_SRC) $(wildcard ops/*.c) $(wildcard models/*.c)
IMAGE_SRC := $(wildcard runtime/io/*.c)
LIB_SRC := $(CORE_SRC) $(IMAGE_SRC)
CLI_SRC := $(wildcard tools/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_SUPPORT_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
IMAGE_OBJ := $(IMAGE_SRC:%.c=$(BUILD)/obj/%.o)
LIBS_A := $(BUILD)/libdetc-image.a $(BUILD)/libdetc.a
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.SECONDARY:

.PHONY: tests-bin all deps test asan test-asan aarch64 test-aarch64 armhf test-armhf test-arm-outputs bench bench-arm demo clean check-deps zoo fuzz fuzz-run

all: $(BUILD)/detc $(LIBS_A)

# Everything is rebuilt when the compiler, flags or libraries change (e.g. BLAS=none into the same BUILD).
CONFIG_STAMP := $(BUILD)/.config
CONFIG_LINE := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(shell mkdir -p $(BUILD) && (echo '$(CONFIG_LINE)' | cmp -s - $(CONFIG_STAMP) || echo '$(CONFIG_LINE)' > $(CONFIG_STAMP)))

$(BUILD)/obj/%.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(DROP_FLAGS_$(basename $(notdir $<))),$(CFLAGS)) $(KERNEL_FLAGS_$(basename $(notdir $<))) \
		-MMD -MP -c $< -o $@

$(BUILD)/libdetc.a: $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libdetc-image.a: $(IMAGE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/detc: $(CLI_OBJ) $(LIBS_A)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIBS_A) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT_OBJ) $(LIBS_A) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(VECT_FLAGS),$(CFLAGS)) -Itests $< $(TEST_SUPPORT_OBJ) $(LIBS_A) $(LDFLAGS) $(LDLIBS) -o $@

tests-bin: $(TEST_BIN)

# The replay test compiles the fuzz harnesses in (tests/fuzz/README.md).
$(BUILD)/tests/test_fuzz_regressions: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# Installs missing Debian packages (needs root and apt); a no-op when everything is present.
deps:
	@tools/install-deps.sh

test: deps
	$(MAKE) all tests-bin
	tests/run_tests.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all tests-bin

test-asan: deps asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run_tests.sh build-asan --quick

AARCH64_CC ?= aarch64-linux-gnu-gcc
aarch64:
	@tools/install-deps.sh --aarch64
	$(MAKE) BUILD=build-aarch64 CC=$(AARCH64_CC) AR=aarch64-linux-gnu-ar all tests-bin

# qemu runs the binaries with the arm64 multiarch loader and libc (/lib/ld-linux-aarch64.so.1, libc6:arm64),
# not with -L /usr/aarch64-linux-gnu: that mixes the cross toolchain's older ld.so with the newer arm64 libc.so.6
# the libraries pull in, and glibc then loops forever in pthread_create.
test-aarch64: aarch64
	OPENBLAS_NUM_THREADS=1 DETC_RUNNER="timeout 600 qemu-aarch64" tests/run_tests.sh build-aarch64 --unit

ARMHF_CC ?= arm-linux-gnueabihf-gcc
armhf:
	@tools/install-deps.sh --armhf
	$(MAKE) BUILD=build-armhf CC=$(ARMHF_CC) AR=arm-linux-gnueabihf-ar all tests-bin

# As test-aarch64: the armhf multiarch loader and libc (/lib/ld-linux-armhf.so.3, libc6:armhf), no -L.
test-armhf: armhf
	OPENBLAS_NUM_THREADS=1 DETC_RUNNER="timeout 600 qemu-arm" tests/run_tests.sh build-armhf --unit

# Every tensor of the shared models from the aarch64 and armhf builds under qemu against the native build's
# (uint8 exactly, float within the spread of x86's own tables): tools/arm_outputs.sh.
test-arm-outputs: all aarch64 armhf
	tools/arm_outputs.sh build build-aarch64 build-armhf

# Instructions per inference under qemu (tools/bench_arm.sh, ../shared/tools/arm-insn), aarch64 and armhf.
bench-arm: aarch64 armhf
	tools/bench_arm.sh build-aarch64 build-armhf

bench: deps all
	tools/bench.sh $(BUILD)
	tools/bench_maskrcnn.sh $(BUILD)
	tools/bench_int8.sh $(BUILD)
	tools/bench_dask.sh $(BUILD)
	tools/bench_ort.sh $(BUILD)

demo: deps all
	tools/demo.sh $(BUILD)

# Small torchvision reference files (< 3 MB) so that the Mask R-CNN comparison runs where torch is not
# installed (CI): two images' stage outputs (small tensors whole, feature maps sampled) and torchvision's
# detections on the 40 shapes validation images. tools/torchvision_ref.py --help has the layout.
MASKRCNN_SHAPES ?= ../shared/models/maskrcnn_r18fpn_shapes
MASKRCNN_REF = /usr/bin/python3 tools/torchvision_ref.py $(MASKRCNN_SHAPES)/maskrcnn_r18fpn_shapes.pth \
	--config $(MASKRCNN_SHAPES)/config.json --threads 4
maskrcnn-refs:
	@/usr/bin/python3 -c "import torch, torchvision" || { echo "maskrcnn-refs: apt-get install python3-torch python3-torchvision" >&2; exit 1; }
	rm -rf tests/data/maskrcnn/shapes_* tests/data/maskrcnn/tv_results.json
	$(MASKRCNN_REF) --image $(MASKRCNN_SHAPES)/val/shapes_000.png --image $(MASKRCNN_SHAPES)/val/shapes_003.png \
		--out tests/data/maskrcnn --compact
	$(MASKRCNN_REF) --image $(MASKRCNN_SHAPES)/val --out tests/data/maskrcnn --no-dumps \
		--results tests/data/maskrcnn/tv_results.json --gt $(MASKRCNN_SHAPES)/val/instances_val.json
	@du -sh tests/data/maskrcnn

# Seeded torchvision references for tests/test_torchvision_archs.py (Faster R-CNN v1/v2, Mask R-CNN v2,
# ResNeXt and ResNet-152 trunks; tools/torchvision_archs.py --help), about 0.4 MB; commit them.
tv-archs-refs:
	@/usr/bin/python3 -c "import torch, torchvision" || { echo "tv-archs-refs: apt-get install python3-torch python3-torchvision" >&2; exit 1; }
	rm -rf tests/data/tv_archs
	/usr/bin/python3 tools/torchvision_archs.py --write-refs tests/data/tv_archs --threads 2
	@du -sh tests/data/tv_archs

# Coverage-guided fuzzing of every loader of untrusted bytes (tests/fuzz/README.md). Own flags and folder:
# the main build's CFLAGS, BUILD and objects are not touched. Needs clang (libFuzzer).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := model image npy
FUZZ_CFLAGS = -std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer -D_FILE_OFFSET_BITS=64 $(BLAS_CFLAGS_$(BLAS)) \
	-Iruntime -Iruntime/io -Iops -Imodels -Itests/fuzz \
	-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: $(FUZZ_BIN)

$(FUZZ_BUILD)/obj/%.o: %.c
	@case "$$($(CC) --version 2>/dev/null)" in *clang*) ;; *) echo "make fuzz: needs clang (libFuzzer): make fuzz CC=clang" >&2; exit 1;; esac
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_LIB_OBJ)
	$(CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) $(LDLIBS) -o $@

# Each harness runs FUZZ_SECONDS on its corpus (build-fuzz/corpus/<harness>, grown run after run) seeded
# from tests/fuzz/make_seeds.py and the saved regressions. Crash inputs land in build-fuzz/crashes/<harness>/.
fuzz-run: fuzz
	/usr/bin/python3 tests/fuzz/make_seeds.py $(FUZZ_BUILD)/seeds
	@fail=0; for h in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/crashes/$$h tests/fuzz/regressions/$$h; \
		echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(FUZZ_BUILD)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$h/ \
			$(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/seeds/$$h tests/fuzz/regressions/$$h \
			> $(FUZZ_BUILD)/fuzz_$$h.log 2>&1 || fail=1; \
		grep -E 'ERROR|runtime error|SUMMARY|stat::|Done ' $(FUZZ_BUILD)/fuzz_$$h.log | tail -n 25; \
		[ -z "$$(ls -A $(FUZZ_BUILD)/crashes/$$h)" ] || { echo "fuzz_$$h: crash inputs in $(FUZZ_BUILD)/crashes/$$h/"; fail=1; }; \
	done; exit $$fail

# Shared libraries, examples, make install/uninstall, make tsan (tools/mk/library.mk).
include tools/mk/library.mk

clean:
	rm -rf build build-asan build-aarch64 build-armhf build-tsan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SUPPORT_OBJ:.o=.d)
-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d $(FUZZ_BUILD)/obj/*/*/*.d $(FUZZ_BUILD)/obj/*/*/*/*.d)
