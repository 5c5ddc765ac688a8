# The lab: `make lab` brings the default lab up with labctl, `make lab-down` takes it down,
# `make bench-lab` times labctl up/down against docker-compose up/down of compose.yaml.

LAB_SCENARIO ?= scenarios/default.yaml
# LAB=name brings up (and takes down) a lab of that name, beside others.
LAB ?=

.PHONY: lab lab-down bench-lab

lab: images ## build what is missing, bring the default lab up, show its addresses and what to try
	@$(BIN)/labctl up $(if $(LAB),--name $(LAB)) $(LAB_SCENARIO)

lab-down: ## take the default lab down (every container and network it made)
	@if [ -x $(BIN)/labctl ]; then $(BIN)/labctl down $(if $(LAB),$(LAB),$(LAB_SCENARIO)); else echo "no bin/labctl: nothing to take down"; fi

BENCH_RUNS ?= 5
bench-lab: images ## time labctl up/down of the default lab and docker-compose up/down of compose.yaml
	@RUNS=$(BENCH_RUNS) SCENARIO=$(LAB_SCENARIO) scripts/bench-lab.sh
