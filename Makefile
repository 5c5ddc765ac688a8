# socketlab — build, test and run the lab. `make help` lists the targets.

GO        ?= go
BIN       := bin
GOFLAGS_BUILD := -trimpath -ldflags='-s -w' -buildvcs=false
# labctl version says which commit it was built from (and -dirty when the tree had changes).
LABCTL_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
LABCTL_VERSION := $(or $(shell git describe --tags --dirty 2>/dev/null),devel)
LABCTL_FLAGS  := -trimpath -buildvcs=false -ldflags='-s -w -X main.version=$(LABCTL_VERSION) -X main.commit=$(LABCTL_COMMIT)'
# Every services/<name>/cmd is a server binary bin/<name>; every helpers/<name>/cmd a helper bin/<name>.
SERVICES  := $(patsubst services/%/cmd,%,$(wildcard services/*/cmd))
HELPERS   := $(patsubst helpers/%/cmd,%,$(wildcard helpers/*/cmd))
CLIENTS   := sock
export CGO_ENABLED := 0

.PHONY: help build test unit lint fuzz clean

# Each area adds its targets in its own file: images, lab, bench.
-include mk/*.mk

# The name column is as wide as the longest target name, whatever it is.
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
		'{ n[NR] = $$1; d[NR] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= NR; i++) printf "  %-*s  %s\n", w, n[i], d[i] }'

build: ## static binaries for every service, helper, the sock client and labctl, in bin/
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/$$s ./services/$$s/cmd || exit 1; \
	done
	@for h in $(HELPERS); do \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/$$h ./helpers/$$h/cmd || exit 1; \
	done
	@$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/sock ./services/sock
	@if [ -f labctl/main.go ]; then $(GO) build $(LABCTL_FLAGS) -o $(BIN)/labctl ./labctl; fi
	@ls -l $(BIN) | awk 'NR>1 {printf "  %-10s %5.1f MiB\n", $$9, $$5/1048576}'

unit: ## unit tests (no Docker): every server and client over 127.0.0.1 and ::1
	$(GO) test -count=1 ./services/... ./labctl/... ./helpers/...

# staticcheck 2026.2.2, pinned by its module version: the module proxy knows
# staticcheck's releases only as module versions (2026.2.2 is v0.8.2).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## gofmt, go vet and staticcheck (pinned): passes only with no findings
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then printf 'gofmt -l: not formatted (gofmt -w them):\n%s\n' "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test: ## everything CI runs: sets the machine up (mk/test-setup.sh), images, then unit and integration tests
	@mk/test-setup.sh
	@if [ "$$CI" = true ] || docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory images || exit 1; \
		$(MAKE) --no-print-directory toolbox || { [ "$$CI" != true ] && \
			echo "test: the toolbox was not built (why: above); the tests that need it skip (with CI=true they fail)"; }; \
	else echo "test: no Docker engine: images (and the toolbox) not built; integration tests will skip (with CI=true they fail)"; fi
	@# The two-host rig (TestMultiHost) is two daemons of its own in network namespaces:
	@# it never puts this engine in swarm mode, so it runs with everything else.
	$(GO) test -count=1 ./...

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@for p in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

clean: ## remove bin/ and test caches
	rm -rf $(BIN)
	$(GO) clean -testcache
