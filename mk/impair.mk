# bench-impair: accuracy and cost of the impairment helper's fallback on this kernel
# (delay 10/50/200 ms, loss 1/10/30 %, rate 1/10/100 Mbit/s, the 50 ms delay line's
# packets/s, and the fault line's with 0, 1 and 16 fault rules: packets/s through NFQUEUE
# and CPU per packet). Needs root (network namespaces imp-*, flt-*); about 2 min. Not
# part of make test.
.PHONY: bench-impair
bench-impair: ## impairment accuracy (configured vs measured) and delay-line packets/s (root)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -v ./helpers/impair/shaper/
