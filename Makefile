# Smile — the front door. `make run` and `make test` install what is missing (Debian
# packages, as root), build, and run the service or every test.

BUILD_DEPS := gcc pkg-config meson ninja-build libmicrohttpd-dev libjansson-dev \
	libsqlite3-dev libsodium-dev libinih-dev libcmocka-dev zlib1g-dev tzdata ca-certificates \
	libcurl4-openssl-dev libgmime-3.0-dev libcsv-dev libxlsxwriter-dev
# Browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser),
# and a CJK font so Chinese pages render (and screenshot) as text, not boxes.
# Mail tests run a real Dovecot IMAP server and an aiosmtpd SMTP receiver; XLSX exports are
# read back with openpyxl.
TEST_DEPS := $(BUILD_DEPS) python3 clang-format sqlite3 chromium fonts-wqy-microhei \
	dovecot-imapd python3-aiosmtpd python3-openpyxl
BENCH_DEPS := $(BUILD_DEPS) wrk python3
FUZZ_DEPS := $(BUILD_DEPS) clang

DB ?= data/smile.db
LISTEN ?= 127.0.0.1:8080

.PHONY: all build run test bench fuzz format clean deps-build deps-test deps-node web screenshots

all: build

deps-build:
	@tools/deps.sh $(BUILD_DEPS)

deps-test:
	@tools/deps.sh $(TEST_DEPS)

# Node.js and npm build the web UI (web/). Debian's nodejs and npm are installed only when
# node or npm is not on PATH (a newer Node from elsewhere is kept; Vite 8 needs Node ≥ 20.19).
deps-node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		tools/deps.sh nodejs npm; fi

# The web UI: npm ci when package-lock.json changed, then the Vite build into web/dist,
# which meson embeds into the binary (tools/embed_web.c). Missing web/dist fails the build.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.installed: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SRC)
	cd web && npm run build
	@touch $@

web: deps-node web/dist/index.html

build/build.ninja:
	meson setup build --buildtype=debugoptimized

build: deps-build web build/build.ninja
	ninja -C build

build-san/build.ninja:
	meson setup build-san --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

# A new database is filled with the demo history first (smile serve --demo; DEMO=0 skips it).
DEMO ?= 1
run: build
	@mkdir -p $(dir $(DB))
	./build/smile serve --db $(DB) --listen $(LISTEN) --bootstrap-admin \
		$(if $(filter 1,$(DEMO)),$$(test -e $(DB) || echo --demo))

test: deps-test web build-san/build.ninja
	ninja -C build-san
	python3 tests/run.py build-san

bench: build
	@tools/deps.sh $(BENCH_DEPS)
	bench/run.sh

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

fuzz: web build-fuzz/build.ninja
	@tools/deps.sh $(FUZZ_DEPS)
	ninja -C build-fuzz
	fuzz/run.sh build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz web/dist

# Screenshots of the main screens on the demo history (`smile serve --demo`), in both
# languages, 1280x800, squeezed by pngquant, into docs/screenshots/ (tests/e2e/demo_shots.mjs).
# The e2e run's own screenshots (its test data) go there with SMILE_SCREENSHOTS=1.
screenshots: deps-test web build-san/build.ninja
	@tools/deps.sh pngquant
	ninja -C build-san
	node tests/e2e/demo_shots.mjs build-san/smile
