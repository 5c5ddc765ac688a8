# make bench: the servers measured on loopback next to references (bench/).
# Not part of make test: it takes about 4 minutes and wants a quiet machine.

BENCH_RUNS     ?= 5
BENCH_DURATION ?= 2s
# e.g. BENCHFLAGS='--only "echo|udp" --profile /tmp/prof'
BENCHFLAGS     ?=

.PHONY: bench bench-compare

bench: build ## measure the servers on loopback next to references; table + bench/results.json (~4 min)
	@command -v iperf3 >/dev/null 2>&1 || echo "bench: iperf3 is not installed, so the echo stream row will have no reference; install it with: apt-get install iperf3"
	@command -v taskset >/dev/null 2>&1 || echo "bench: taskset (util-linux) is not installed, so UDP servers run with GOMAXPROCS=1 but unpinned; install it with: apt-get install util-linux"
	@$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bench ./bench/cmd
	$(BIN)/bench --bin $(BIN) --runs $(BENCH_RUNS) --duration $(BENCH_DURATION) \
		--json bench/results.json --benchfmt bench/results.txt $(BENCHFLAGS)

OLD ?= bench/baseline.json
bench-compare: ## compare bench/results.json with OLD (default bench/baseline.json)
	@$(GO) run ./bench/cmd compare $(OLD) bench/results.json

.PHONY: bench-capture
bench-capture: ## capture helper across two network namespaces (root): pkts/s, drops, helper CPU, stream ratio with/without
	$(GO) test -count=1 -run '^$$' -bench CaptureEchoStream -benchtime 1x ./helpers/capture/
