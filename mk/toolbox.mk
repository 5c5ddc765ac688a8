# The toolbox: socketlab/toolbox, a Debian root (debootstrap, offline) with python3, the usual
# network tools and sock, for a learner's own programs; see images/toolbox/build.sh.

.PHONY: toolbox toolbox-check toolbox-clean

toolbox: ## socketlab/toolbox: Debian by debootstrap + python3, network tools, sock (seconds when unchanged)
	@mkdir -p $(BIN)
	@$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/sock ./services/sock
	@images/toolbox/build.sh

toolbox-clean: ## remove the socketlab/toolbox images and the unpacked root (the .deb cache stays)
	@refs=$$(docker images --format '{{.Repository}}:{{.Tag}}' --filter 'reference=socketlab/toolbox'); \
		if [ -n "$$refs" ]; then docker image rm $$refs; fi
	rm -rf $(BIN)/.toolbox $(BIN)/.images/toolbox

toolbox-check: ## run the toolbox hardened (read-only, no caps) and check bash, python3, sock, nc, curl, dig, ip, ping, tcpdump
	@images/toolbox/check.sh
