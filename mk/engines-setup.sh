#!/usr/bin/env bash
# What make engines and make test-engines run first: makes sure this machine has the Debian
# packages the rig engines named in the arguments need (docker29, podman). As root with apt,
# it installs the missing ones; otherwise it names the command that does and fails.
set -euo pipefail
say() { printf 'engines: %s\n' "$*"; }

pkgs=() whys=()
# need PACKAGE WHY TEST...: PACKAGE is wanted unless the command TEST succeeds.
need() {
	local pkg=$1 why=$2; shift 2
	"$@" >/dev/null 2>&1 && return
	pkgs+=("$pkg") whys+=("$pkg: $why")
}
has() { command -v "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
for e in "$@"; do
	case $e in
	docker29)
		need libseccomp-dev "runc 1.5 is built with cgo against libseccomp" test -f /usr/include/seccomp.h
		need pkg-config "runc's build finds libseccomp with it" has pkg-config
		need containerd "dockerd 29 starts Debian's containerd" has containerd
		need iproute2 "the rig's network namespace (ip netns)" has ip
		need util-linux "dockerd starts in the namespace with nsenter" has nsenter
		;;
	podman)
		need podman "the rootless engine" has podman
		need uidmap "the rig user's subordinate ids (newuidmap)" has newuidmap
		need slirp4netns "a rootless network namespace's way out" has slirp4netns
		need netavark "Podman's network backend" test -x /usr/lib/podman/netavark
		need aardvark-dns "Podman's DNS on its networks" test -x /usr/lib/podman/aardvark-dns
		need catatonit "the init of nodes with init: true" test -x /usr/libexec/podman/catatonit
		;;
	*) say "no such engine: $e (engines: docker29 podman)"; exit 2 ;;
	esac
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing what the rig engines use:"
	printf '  %s\n' "${whys[@]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${pkgs[@]}" >/dev/null
	exit 0
fi
say "missing here:"
printf '  %s\n' "${whys[@]}"
say "run once: sudo apt-get install -y ${pkgs[*]}"
exit 1
