# lookup: the interop test against the sockets tutorial's Python code, which
# is never part of this repository: fetch app-server.py, app-client.py,
# libserver.py and libclient.py (realpython/materials, python-sockets-tutorial)
# into a folder of your own and name it.
.PHONY: lookup-interop
lookup-interop: ## interop with the tutorial's Python client and server: LOOKUP_REFERENCE_DIR=/tmp/ref
	@test -n "$(LOOKUP_REFERENCE_DIR)" || { echo "set LOOKUP_REFERENCE_DIR to the folder holding the tutorial's app-server.py, app-client.py, libserver.py, libclient.py"; exit 2; }
	LOOKUP_REFERENCE_DIR=$(abspath $(LOOKUP_REFERENCE_DIR)) $(GO) test -count=1 -run Interop -v ./services/lookup/
