# castwatch build and test entry points. `make demo` and `make test` are the two commands in the README.
GO        ?= go
BIN       := bin/castwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/castwatch/castwatch/internal/version.Version=$(VERSION)
WEB_STAMP := internal/web/static/vendor/.built

.PHONY: all build web demo test test-long bench bench-panels-full fuzz vet clean

# Every fuzz target, as package:Target. `make test` runs each briefly; `make fuzz` runs them longer.
FUZZ_TARGETS := ./internal/parse:FuzzParseAuditInfo ./internal/parse:FuzzParseSIEMLine ./internal/parse:FuzzParseExabeamLine \
	./internal/parse:FuzzParseCEF ./internal/syslog:FuzzParseHeader
# Fuzz budgets are execution counts (Nx), not durations: a duration-bounded run can fail with a
# spurious "context deadline exceeded" when the machine is loaded (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 20000x

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
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

# Longer randomized crash trials and fuzzing.
test-long: web
	CASTWATCH_LONG=1 $(GO) test -count=1 -timeout 60m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=2000000x

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg), budget $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Throughput figures beside a peer measured in the same run (DuckDB read_json, jq); needs jq for the parse peer.
bench: build
	./$(BIN) bench ingest --rows 50000
	./$(BIN) bench parse --lines 20000
	./$(BIN) bench detect --events 100000
	./$(BIN) bench ueba --users 10000 --days 30
	# 2,000 mailboxes keep this short; bench-panels-full is the 10,000-mailbox month
	./$(BIN) bench panels --mailboxes 2000 --days 30

# Every panel over a 30-day, 10,000-mailbox tenant: generated into PANELS_DB on the first run (about 40 minutes
# and 23 GB here), timed again on later runs.
PANELS_DB ?= castwatch-panels-10k.duckdb
bench-panels-full: build
	./$(BIN) bench panels --mailboxes 10000 --days 30 --runs 3 --memory-limit 8GB --keep $(PANELS_DB)

clean:
	rm -rf bin internal/web/static/vendor web/node_modules
