# Smile — the front door. `make run` and `make test` install what is missing (Debian
# packages, as root), build, and run the service or every test.

BUILD_DEPS := gcc pkg-config meson ninja-build libmicrohttpd-dev libjansson-dev \
	libsqlite3-dev libsodium-dev libinih-dev libcmocka-dev tzdata ca-certificates
TEST_DEPS := $(BUILD_DEPS) python3 clang-format sqlite3
BENCH_DEPS := $(BUILD_DEPS) wrk python3
FUZZ_DEPS := $(BUILD_DEPS) clang

DB ?= data/smile.db
LISTEN ?= 127.0.0.1:8080

.PHONY: all build run test bench fuzz format clean deps-build deps-test

all: build

deps-build:
	@tools/deps.sh $(BUILD_DEPS)

deps-test:
	@tools/deps.sh $(TEST_DEPS)

build/build.ninja:
	meson setup build --buildtype=debugoptimized

build: deps-build build/build.ninja
	ninja -C build

build-san/build.ninja:
	meson setup build-san --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

run: build
	@mkdir -p $(dir $(DB))
	./build/smile serve --db $(DB) --listen $(LISTEN) --bootstrap-admin

test: deps-test build-san/build.ninja
	ninja -C build-san
	python3 tests/run.py build-san

bench: build
	@tools/deps.sh $(BENCH_DEPS)
	bench/run.sh

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

fuzz: build-fuzz/build.ninja
	@tools/deps.sh $(FUZZ_DEPS)
	ninja -C build-fuzz
	fuzz/run.sh build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz
