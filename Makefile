# Tollgate. `make run` needs no servers; `make test` starts the real Redis and
# Cassandra the integration tests need and stops them afterwards.
GO        ?= go
BIN       := bin/sidecar
RUN_ARGS  ?= --config examples/quickstart/sidecar.yaml

.PHONY: all build run test unit bench faults fuzz lint proto clean

all: lint build

build:
	$(GO) build -o $(BIN) ./cmd/sidecar

run: build
	./$(BIN) serve $(RUN_ARGS)

# Unit tests only: integration tests skip when their backend is not started.
unit:
	$(GO) test ./...

# Everything: lint, then every test against real Redis and Cassandra.
test: lint
	bash scripts/test.sh

bench: build
	bash scripts/bench.sh

# The fault scenarios alone, with their figures (make test runs them too).
faults:
	$(GO) test -count=1 -v -run . ./faults/

# Each fuzz target for FUZZTIME (package:target). Their seed corpora in the
# packages' testdata/fuzz/ run with the ordinary tests.
FUZZTIME    ?= 60s
# Bounds the minimizing of each new input, which counts in FUZZTIME.
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := \
	./ratelimit:FuzzParseConfig \
	./ratelimit:FuzzRequestValidate \
	./internal/settings:FuzzLoad \
	./metering:FuzzParseConfig \
	./metering/spool:FuzzCodec \
	./envoy:FuzzCheck \
	./envoy:FuzzAccessLogEntry \
	./envoy:FuzzJSONHandler \
	./counter/api:FuzzHTTPBodies \
	./internal/apiauth:FuzzParseAuthorization

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg; \
	done

# vet, gofmt, the house rules (internal/lint: no process-wide clock, logger
# or registry in library code; gRPC codes only in the adapters) and
# staticcheck, installed at its pinned version when missing.
STATICCHECK_VERSION := 0.8.2
STATICCHECK = $$($(GO) env GOPATH)/bin/staticcheck

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files -o --exclude-standard '*.go' 2>/dev/null)); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) test -count=1 ./internal/lint/
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION))' || \
	  GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)
	$(STATICCHECK) ./...

# Regenerates the counter API's Go code from counter/counterpb/counter.proto.
proto:
	command -v protoc >/dev/null || apt-get install -y protobuf-compiler
	GOFLAGS= $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOFLAGS= $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative counter/counterpb/counter.proto

clean:
	rm -rf bin data
