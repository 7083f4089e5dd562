# The two set-up commands are `make dev` and `make test`; both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
PORT ?= 1999

.PHONY: all setup build dev test clean

all: build

setup:
	@SETUP_NPM=0 ./scripts/setup.sh

setup-tests:
	@./scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: setup $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

dev: build
	./$(BUILD)/partyd dev --port $(PORT) examples/chat

test: setup-tests $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

clean:
	rm -rf $(BUILD)
