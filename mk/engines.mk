# Other engines: make test-engines runs the integration tests against engines of the
# rig's own (internal/labtest/rig), each a daemon in a network namespace of its own beside
# this machine's engine, which it never touches. Docker 29 is built here from the Go module
# proxy, once: its binaries stay in bin/engines/ (make clean removes them).
#
#   docker29: dockerd and docker-proxy 29.8.1 (moby v2.0.0-beta.24; beta.25 needs modules
#             the proxy refuses), runc 1.5.1 (Debian's 1.1 knows no time namespace, which
#             Docker 29 gives every container), Debian's containerd.
#   podman:   Debian's rootless Podman (podman uidmap slirp4netns netavark aardvark-dns catatonit) as
#             a user the rig makes, slrig-podman, serving the Docker API on its own socket.

ENGINES_BIN      := $(BIN)/engines
DOCKER29_REF     := v2.0.0-beta.24
DOCKER29_VERSION := 29.8.1
RUNC_REF         := v1.5.1
DOCKER29_BIN     := $(ENGINES_BIN)/docker29-$(DOCKER29_VERSION)
DOCKER29_TAGS    := netgo osusergo static_build nri_no_wasm exclude_graphdriver_btrfs exclude_graphdriver_devicemapper no_btrfs
# The tests each engine runs: the scenario library, capture and wire checks, impairment, faults,
# isolation between labs, and the lab's life cycle.
ENGINES_TESTS    ?= TestScenarios|TestCheckerFails|TestCapture|TestTestCapture|TestWireFails|TestImpair|TestFault|TestIsolation$$|TestLabsSideBySide|TestUpThenDownLeavesNothing|TestFailedUpRollsBack|TestNodeOperations|TestHelperContainers|TestCLI

.PHONY: engines test-engines

engines: $(DOCKER29_BIN)/dockerd $(DOCKER29_BIN)/runc ## build the rig engines' binaries into bin/engines (Docker 29: ~5 min cold, nothing when built)

$(DOCKER29_BIN)/dockerd:
	@mkdir -p $(DOCKER29_BIN)
	GOBIN=$(abspath $(DOCKER29_BIN)) CGO_ENABLED=0 $(GO) install -trimpath -tags '$(DOCKER29_TAGS)' \
		-ldflags '-s -w -X github.com/moby/moby/v2/dockerversion.Version=$(DOCKER29_VERSION)' \
		github.com/moby/moby/v2/cmd/dockerd@$(DOCKER29_REF) github.com/moby/moby/v2/cmd/docker-proxy@$(DOCKER29_REF)

# runc links libseccomp (cgo): Debian's libseccomp-dev; mk/engines-setup.sh installs what lacks.
$(DOCKER29_BIN)/runc:
	@mkdir -p $(DOCKER29_BIN)
	@mk/engines-setup.sh docker29
	GOBIN=$(abspath $(DOCKER29_BIN)) CGO_ENABLED=1 $(GO) install -trimpath -tags 'seccomp urfave_cli_no_docs' -ldflags '-s -w' \
		github.com/opencontainers/runc@$(RUNC_REF)

# Engines to run (ENGINES=docker29 runs one).
ENGINES ?= docker29 podman

test-engines: engines ## integration tests against each rig engine (Docker 29, rootless Podman) beside this machine's (root)
	@mk/engines-setup.sh $(ENGINES)
	@if [ "$$CI" = true ] || docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images toolbox; fi
	@rm -f $(ENGINES_BIN)/summary.txt; status=0; for e in $(ENGINES); do \
		$(GO) run ./internal/labtest/rig -bin $(abspath $(DOCKER29_BIN)) -json $(ENGINES_BIN)/$$e-test.json -summary $(ENGINES_BIN)/summary.txt $$e -- \
			$(GO) test -count=1 -timeout 20m -run '$(ENGINES_TESTS)' ./integration/ || status=1; \
	done; echo "== engines"; cat $(ENGINES_BIN)/summary.txt; exit $$status

# The classroom: CLASS default labs brought up at once, on rootless Podman one user (and one
# engine) each, on Docker 29 all on one engine; time, memory, and probes from each lab to the
# next one's nodes (none may answer). Not part of make test-engines: minutes, and memory.
CLASS ?= 10

.PHONY: bench-classroom
bench-classroom: engines build ## CLASS (10) default labs at once on rootless Podman (a user each) and on Docker 29 (root)
	@status=0; for e in $(ENGINES); do \
		$(GO) run ./internal/labtest/rig -classroom $(CLASS) -labctl $(BIN)/labctl -bin $(abspath $(DOCKER29_BIN)) $$e || status=1; \
	done; exit $$status
