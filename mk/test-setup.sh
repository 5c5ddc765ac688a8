#!/usr/bin/env bash
# What `make test` runs first: makes sure this machine has the programs the tests use. As root
# with apt, it installs the missing Debian packages; otherwise it names the one command that
# does (the tests that need a missing program skip and say why, or fail when CI=true). The
# toolbox's own needs (mmdebstrap, uidmap, subordinate ids) come from images/toolbox/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test: %s\n' "$*"; }

pkgs=() whys=()
# need PACKAGE WHY TEST...: PACKAGE is wanted unless the command TEST succeeds.
need() {
	local pkg=$1 why=$2; shift 2
	"$@" >/dev/null 2>&1 && return
	pkgs+=("$pkg") whys+=("$pkg: $why")
}
has() { command -v "$1" || [ -x "/usr/sbin/$1" ]; }
need python3 "examples/python runs the lessons' programs" has python3
need tshark "labctl/capture and tools/wireshark read captures with it" has tshark
need graphviz "labctl graph's dot output is checked with dot" has dot
need chromium "the HTML report is loaded in a headless browser" has chromium
need netcat-openbsd "the README's by-hand examples use nc -N" sh -c 'nc -h 2>&1 | grep -q OpenBSD'
need util-linux "the README's examples run in a network namespace (unshare)" has unshare
need iproute2 "the capture and impairment helpers are tested in network namespaces (ip)" has ip
# The toolbox (make toolbox) and the test that builds it as a user who is not root.
need mmdebstrap "builds socketlab/toolbox without root" has mmdebstrap
need uidmap "mmdebstrap's user namespace (newuidmap)" has newuidmap

ids=$(images/toolbox/build.sh --subids-command) # empty when this user has subordinate ids or is root
[ ${#pkgs[@]} -eq 0 ] && [ -z "$ids" ] && exit 0

if [ ${#pkgs[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing what the tests use:"
	printf '  %s\n' "${whys[@]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
	exit 0
fi

cmd=
[ ${#pkgs[@]} -gt 0 ] && cmd="apt-get install -y ${pkgs[*]}"
[ -n "$ids" ] && cmd=${cmd:+$cmd && }$ids
say "missing here:"
[ ${#pkgs[@]} -gt 0 ] && printf '  %s\n' "${whys[@]}"
[ -n "$ids" ] && echo "  subordinate ids for $(id -un) (/etc/subuid, /etc/subgid): mmdebstrap maps the toolbox's users onto them"
case $cmd in *'&&'*) cmd="sudo sh -c '$cmd'" ;; *) cmd="sudo $cmd" ;; esac
say "run once: $cmd"
if [ "${CI:-}" = true ]; then
	say "CI=true: stopping here (elsewhere the tests that need these skip, saying why)"
	exit 1
fi
say "going on without: the tests that need these skip and say why"
