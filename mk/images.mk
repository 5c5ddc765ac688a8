# Images: one FROM scratch image per service plus socketlab/client; see scripts/images.sh.

.PHONY: images images-check images-clean compose-check

images: build ## build socketlab/<service> and socketlab/client from bin/ (FROM scratch, nothing pulled)
	@scripts/images.sh

images-check: ## run each image hardened (read-only, no caps), check health, IPv4+IPv6 from the client, stop
	@scripts/images-check.sh

images-clean: ## remove the socketlab/* images and their build contexts
	@refs=$$(docker images --format '{{.Repository}}:{{.Tag}}' --filter 'reference=socketlab/*'); \
		if [ -n "$$refs" ]; then docker image rm $$refs; fi
	rm -rf $(BIN)/.images

compose-check: ## bring compose.yaml up (own project name), check health, hardening, IPv4+IPv6 from the client, down
	@scripts/compose-check.sh
