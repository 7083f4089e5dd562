# The two set-up commands are `make dev` and `make test`; both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
PORT ?= 1999
FUZZ_SECONDS ?= 60

SHELL := /bin/bash

.PHONY: all setup setup-tests build dev test fuzz asan-test clean

all: build

setup:
	@SETUP_NPM=0 ./scripts/setup.sh

setup-tests:
	@./scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: setup $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS) --target partyd

dev: build
	./$(BUILD)/partyd dev --port $(PORT) examples/chat

test: setup-tests $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure --timeout 900 2>&1 | tee ctest.log; \
	  status=$${PIPESTATUS[0]}; grep -E "tests passed|tests failed out of" ctest.log | tail -1; \
	  exit $$status

# Builds the libFuzzer targets of fuzz/ with clang into build-fuzz and runs each for FUZZ_SECONDS;
# fails on a crash. Not part of `make test`.
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) ./fuzz/run.sh

# Builds partyd with ASan and UBSan into build-asan and runs the e2e suites and a connection churn
# under it; fails on any sanitizer report (scripts/asan_test.sh). Not part of `make test`.
asan-test: setup-tests
	@JOBS=$(JOBS) ./scripts/asan_test.sh

clean:
	rm -rf $(BUILD)
