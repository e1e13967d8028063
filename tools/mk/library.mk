# detc as a library: shared libraries, examples, install/uninstall, ThreadSanitizer build.
# Included from the Makefile after its object lists; uses CORE_OBJ, IMAGE_OBJ, CORE_LDLIBS, IMAGE_LDLIBS,
# BUILD, CFLAGS, OPT, SAN, LDFLAGS from there, so source moves (kernels per architecture) need no change here.
#
#   make                    also builds BUILD/libdetc.so.1 and BUILD/libdetc-image.so.1 (+ .so links)
#   make examples           BUILD/examples/{detect_file,camera,threads} against the shared libraries
#   make install PREFIX=/usr/local DESTDIR=   libraries, detc.h, detc.pc + detc-core.pc, the detc and
#                           detc-convert commands, Python packages detc and detc_convert
#   make uninstall PREFIX=... DESTDIR=...     removes exactly what install wrote
#   make tsan               ThreadSanitizer build (build-tsan/); make test-tsan runs 4 threads on one model

DETC_VERSION := $(shell sed -n 's/^\#define DETC_VERSION_STRING "\(.*\)"/\1/p' runtime/detc.h)
DETC_ABI := $(shell sed -n 's/^\#define DETC_ABI_VERSION \([0-9][0-9]*\).*/\1/p' runtime/detc.h)

# Every library object is position-independent and exports only what detc.h marks DETC_API (the static
# archives use the same objects: hidden visibility changes nothing for static linking).
LIB_ONLY_CFLAGS := -fPIC -fvisibility=hidden
$(CORE_OBJ) $(IMAGE_OBJ): CFLAGS += $(LIB_ONLY_CFLAGS)
# Objects compiled before these flags existed (or with others) are rebuilt once: they depend on a stamp
# file that changes with the flags.
LIB_FLAGS_STAMP := $(BUILD)/obj/.library-cflags
$(shell mkdir -p $(BUILD)/obj && echo '$(LIB_ONLY_CFLAGS)' | cmp -s - $(LIB_FLAGS_STAMP) 2>/dev/null || \
	echo '$(LIB_ONLY_CFLAGS)' > $(LIB_FLAGS_STAMP))
$(CORE_OBJ) $(IMAGE_OBJ): $(LIB_FLAGS_STAMP)

SO_CORE := $(BUILD)/libdetc.so
SO_IMAGE := $(BUILD)/libdetc-image.so
SO_CORE_REAL := $(SO_CORE).$(DETC_VERSION)
SO_IMAGE_REAL := $(SO_IMAGE).$(DETC_VERSION)
SO_CORE_NAME := libdetc.so.$(DETC_ABI)
SO_IMAGE_NAME := libdetc-image.so.$(DETC_ABI)
SO_ALL := $(SO_CORE_REAL) $(SO_CORE).$(DETC_ABI) $(SO_CORE) $(SO_IMAGE_REAL) $(SO_IMAGE).$(DETC_ABI) $(SO_IMAGE)
# The image layer calls four small helpers of runtime/pixels.c (detc_image_free, ...) that libdetc does not
# export; libdetc-image.so carries its own hidden copy of that object.
IMAGE_SO_EXTRA_OBJ := $(BUILD)/obj/runtime/pixels.o
# Every symbol resolved at link time (not with sanitizers: clang leaves their runtime to the executable).
SO_LDFLAGS = -shared $(if $(SAN),,-Wl,-z,defs) -Wl,--as-needed

all: $(SO_ALL)

$(SO_CORE_REAL): $(CORE_OBJ)
	$(CC) $(SO_LDFLAGS) -Wl,-soname,$(SO_CORE_NAME) $(LDFLAGS) $^ $(CORE_LDLIBS) -o $@

$(SO_IMAGE_REAL): $(IMAGE_OBJ) $(IMAGE_SO_EXTRA_OBJ) $(SO_CORE).$(DETC_ABI)
	$(CC) $(SO_LDFLAGS) -Wl,-soname,$(SO_IMAGE_NAME) $(LDFLAGS) $(IMAGE_OBJ) $(IMAGE_SO_EXTRA_OBJ) \
		$(SO_CORE).$(DETC_ABI) $(IMAGE_LDLIBS) -lm -o $@

$(BUILD)/%.so.$(DETC_ABI): $(BUILD)/%.so.$(DETC_VERSION)
	ln -sf $(notdir $<) $@

$(BUILD)/%.so: $(BUILD)/%.so.$(DETC_ABI)
	ln -sf $(notdir $<) $@

# ---- examples (built against the shared libraries of this tree; they find them via $ORIGIN/..) ----
EXAMPLES := detect_file camera threads
EXAMPLE_BIN := $(EXAMPLES:%=$(BUILD)/examples/%)
EXAMPLE_CFLAGS = -std=c11 -Wall -Wextra -Werror -g $(OPT) $(ARCH_FLAGS) $(SAN) -pthread -Iruntime
EXAMPLE_RPATH = -Wl,-rpath,'$$ORIGIN/..'

.PHONY: examples install uninstall tsan test-tsan

examples: $(EXAMPLE_BIN)
tests-bin: $(EXAMPLE_BIN)

# camera.c uses the core only: no libdetc-image, hence no libjpeg or libpng.
$(BUILD)/examples/camera: examples/camera.c runtime/detc.h $(SO_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $< $(LDFLAGS) -L$(BUILD) -ldetc $(EXAMPLE_RPATH) -o $@

$(BUILD)/examples/%: examples/%.c runtime/detc.h $(SO_CORE) $(SO_IMAGE)
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $< $(LDFLAGS) -L$(BUILD) -ldetc-image -ldetc $(EXAMPLE_RPATH) -o $@

# ---- install ----
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Debian's layout for Python packages outside the interpreter's own directory
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
INSTALL ?= install
LDCONFIG ?= ldconfig

PY_CONVERT := $(wildcard tools/detc_convert/*.py)
PY_BINDING := $(wildcard tools/python/detc/*.py)
D := $(DESTDIR)

install: all
	$(INSTALL) -d $(D)$(BINDIR) $(D)$(LIBDIR) $(D)$(INCLUDEDIR) $(D)$(PKGCONFIGDIR) \
		$(D)$(PYTHONDIR)/detc_convert $(D)$(PYTHONDIR)/detc
	$(INSTALL) -m 644 runtime/detc.h $(D)$(INCLUDEDIR)/detc.h
	$(INSTALL) -m 644 $(BUILD)/libdetc.a $(BUILD)/libdetc-image.a $(D)$(LIBDIR)/
	$(INSTALL) -m 755 $(SO_CORE_REAL) $(SO_IMAGE_REAL) $(D)$(LIBDIR)/
	ln -sf libdetc.so.$(DETC_VERSION) $(D)$(LIBDIR)/$(SO_CORE_NAME)
	ln -sf $(SO_CORE_NAME) $(D)$(LIBDIR)/libdetc.so
	ln -sf libdetc-image.so.$(DETC_VERSION) $(D)$(LIBDIR)/$(SO_IMAGE_NAME)
	ln -sf $(SO_IMAGE_NAME) $(D)$(LIBDIR)/libdetc-image.so
	for pc in detc detc-core; do \
		sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
			-e 's|@VERSION@|$(DETC_VERSION)|g' -e 's|@CORE_LDLIBS@|$(CORE_LDLIBS)|g' \
			-e 's|@IMAGE_LDLIBS@|$(IMAGE_LDLIBS)|g' tools/mk/$$pc.pc.in > $(D)$(PKGCONFIGDIR)/$$pc.pc || exit 1; \
		chmod 644 $(D)$(PKGCONFIGDIR)/$$pc.pc; \
	done
	$(INSTALL) -m 755 $(BUILD)/detc $(D)$(BINDIR)/detc
	$(INSTALL) -m 644 $(PY_CONVERT) $(D)$(PYTHONDIR)/detc_convert/
	$(INSTALL) -m 644 $(PY_BINDING) $(D)$(PYTHONDIR)/detc/
	sed 's|@PYTHONDIR@|$(PYTHONDIR)|g' tools/mk/detc-convert.in > $(D)$(BINDIR)/detc-convert
	chmod 755 $(D)$(BINDIR)/detc-convert
	@# the dynamic loader's cache, for a root install into the system (not for DESTDIR staging; LDCONFIG=true: never)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v $(LDCONFIG) >/dev/null; then $(LDCONFIG); fi

uninstall:
	rm -f $(D)$(INCLUDEDIR)/detc.h $(D)$(LIBDIR)/libdetc.a $(D)$(LIBDIR)/libdetc-image.a \
		$(D)$(LIBDIR)/libdetc.so.$(DETC_VERSION) $(D)$(LIBDIR)/$(SO_CORE_NAME) $(D)$(LIBDIR)/libdetc.so \
		$(D)$(LIBDIR)/libdetc-image.so.$(DETC_VERSION) $(D)$(LIBDIR)/$(SO_IMAGE_NAME) $(D)$(LIBDIR)/libdetc-image.so \
		$(D)$(PKGCONFIGDIR)/detc.pc $(D)$(PKGCONFIGDIR)/detc-core.pc $(D)$(BINDIR)/detc $(D)$(BINDIR)/detc-convert \
		$(PY_CONVERT:tools/detc_convert/%=$(D)$(PYTHONDIR)/detc_convert/%) \
		$(PY_BINDING:tools/python/detc/%=$(D)$(PYTHONDIR)/detc/%)
	rm -rf $(D)$(PYTHONDIR)/detc_convert/__pycache__ $(D)$(PYTHONDIR)/detc/__pycache__
	-rmdir $(D)$(PYTHONDIR)/detc_convert $(D)$(PYTHONDIR)/detc 2>/dev/null

# ---- ThreadSanitizer: the library objects and the threaded example ----
TSAN_BUILD ?= build-tsan
tsan:
	$(MAKE) BUILD=$(TSAN_BUILD) OPT=-O1 SAN="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_BUILD)/examples/threads

# Four threads, one model, one context each, every result compared with a one-thread run; then two threads
# whose contexts have a pool of two threads each.
# OpenBLAS is not instrumented: its own worker threads are kept out (OPENBLAS_NUM_THREADS=1).
TSAN_MODEL ?= $(TSAN_BUILD)/ssd.detc
SSD_DIR ?= ../shared/models/ssd_mobilenet_v1_coco_quant
TSAN_IMAGES ?= ../shared/images/dog.jpg ../shared/images/horses.jpg
test-tsan: tsan
	@if [ ! -f $(SSD_DIR)/detect.tflite ]; then echo "test-tsan: $(SSD_DIR) absent, skipped"; exit 0; fi; \
	tools/detc-convert tflite $(SSD_DIR)/detect.tflite --labels $(SSD_DIR)/labelmap.txt -o $(TSAN_MODEL) && \
	export OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" && \
	$(TSAN_BUILD)/examples/threads $(TSAN_MODEL) $(TSAN_IMAGES) --threads 4 --iterations 2 && \
	$(TSAN_BUILD)/examples/threads $(TSAN_MODEL) $(TSAN_IMAGES) --threads 2 --context-threads 2
