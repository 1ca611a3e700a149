# castwatch build and test entry points. `make demo` and `make test` are the two commands in the README.
GO        ?= go
BIN       := bin/castwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/castwatch/castwatch/internal/version.Version=$(VERSION)
WEB_STAMP := internal/web/static/vendor/.built

.PHONY: all build web demo test test-long bench fuzz vet clean

all: build

# Front-end packages come from npm (web/package-lock.json) and are copied into the embedded assets.
$(WEB_STAMP): web/package.json web/package-lock.json web/scripts/vendor.mjs
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

web: $(WEB_STAMP)

build: web
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/castwatch

demo: build
	./$(BIN) demo

vet:
	$(GO) vet ./...

test: web vet
	$(GO) test -count=1 -timeout 20m ./...

# Longer randomized crash trials and fuzzing.
test-long: web
	CASTWATCH_LONG=1 $(GO) test -count=1 -timeout 60m ./...

# Throughput figures beside a peer measured in the same run (DuckDB read_json, jq); needs jq for the parse peer.
bench: build
	./$(BIN) bench ingest --rows 50000
	./$(BIN) bench parse --lines 20000
	./$(BIN) bench detect --events 100000

clean:
	rm -rf bin internal/web/static/vendor web/node_modules
