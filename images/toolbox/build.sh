#!/usr/bin/env bash
# Builds socketlab/toolbox, the one socketlab image that is not FROM scratch: a Debian
# bookworm root made by debootstrap (minbase plus the packages listed in ./packages), with
# bin/sock and ./idle copied in, imported with `docker import`. Nothing is pulled from a
# registry: debootstrap fetches Debian's packages from the mirror apt on this machine uses.
#
#   images/toolbox/build.sh               debootstrap + docker import (what make toolbox runs)
#   images/toolbox/build.sh --dockerfile  docker build of ./Dockerfile instead (needs a registry)
#
# The image is tagged by a hash of its recipe (this script, ./packages, ./idle and bin/sock):
# socketlab/toolbox:r-<hash>, and also socketlab/toolbox:latest. When the image of the hash is
# already there, nothing is built. The package versions are whatever the mirror serves at
# build time: the hash names the recipe, not the bytes.
#
# Caches: the downloaded .deb files in $TOOLBOX_CACHE (default /var/cache/socketlab/debootstrap,
# kept across fresh clones; bin/.toolbox/debs when that is not writable), and the unpacked root
# in bin/.toolbox/root, reused while this script and ./packages are unchanged (a new sock binary
# then costs only the import).
#
# Environment: IMAGE_PREFIX (socketlab), IMAGE_TAG (latest: the alias tag), TOOLBOX_MIRROR (the
# first bookworm "main" URI in /etc/apt/sources.list*, else http://deb.debian.org/debian),
# TOOLBOX_SUITE (bookworm), TOOLBOX_CACHE (see above).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

prefix=${IMAGE_PREFIX:-socketlab}
alias_tag=${IMAGE_TAG:-latest}
suite=${TOOLBOX_SUITE:-bookworm}
repo=$prefix/toolbox
work=bin/.toolbox
sock=bin/sock
uid=10001 # the non-root user of every socketlab image, named "learner" here

say() { printf 'toolbox: %s\n' "$*"; }
die() { printf 'toolbox: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f s", (b-a)/1e9}'; }
t0=$(date +%s%N)

mode=debootstrap
case ${1:-} in
'') ;;
--dockerfile) mode=dockerfile ;;
*) die "unknown argument ${1}: the only option is --dockerfile (build from images/toolbox/Dockerfile, needs a registry)" ;;
esac

command -v docker >/dev/null || die "docker is not installed; the toolbox image needs a Docker engine"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker engine (is it running, may this user use it?): $(docker version 2>&1 | tail -1)"
[ -f "$sock" ] || die "$sock is missing; run make build (or make toolbox, which builds it)"
if head -c 4096 "$sock" | grep -qa -e '/ld-linux' -e '/ld-musl'; then
	die "$sock is dynamically linked; run make build (CGO_ENABLED=0)"
fi

# The recipe: what decides the image's content. base is the part that decides the root.
base=$(cat "$here/build.sh" "$here/packages" | sha256sum | cut -c1-16)
recipe=$({ echo "$base"; cat "$here/idle" "$sock"; } | sha256sum | cut -c1-12)
[ "$mode" = dockerfile ] && recipe=$({ echo "$recipe"; cat "$here/Dockerfile"; } | sha256sum | cut -c1-12)
ref=$repo:r-$recipe
previous=$(docker image inspect -f '{{.Id}}' "$repo:$alias_tag" 2>/dev/null || true)

# retag: point the alias tag at ref, then drop the hash tag the alias pointed at before
# (one toolbox image is kept per alias, not one per recipe ever built). Docker refuses to
# remove an image a container still uses, which is what we want.
retag() {
	docker tag "$ref" "$repo:$alias_tag"
	local new old_tag
	new=$(docker image inspect -f '{{.Id}}' "$ref")
	if [ -n "$previous" ] && [ "$previous" != "$new" ]; then
		for old_tag in $(docker image inspect -f '{{join .RepoTags " "}}' "$previous" 2>/dev/null); do
			[[ $old_tag == "$repo:r-"* ]] && docker image rm "$old_tag" >/dev/null 2>&1 || true
		done
	fi
	local size
	size=$(docker image inspect -f '{{.Size}}' "$ref")
	printf 'toolbox: %s = %s:%s  %s  %s MiB  %s\n' "$ref" "$repo" "$alias_tag" "${new:7:12}" \
		"$(awk -v s="$size" 'BEGIN{printf "%.0f", s/1048576}')" "$1"
}

if docker image inspect "$ref" >/dev/null 2>&1; then
	retag "unchanged (recipe $recipe), $(elapsed)"
	exit 0
fi

if [ "$mode" = dockerfile ]; then
	ctx=bin/.images/toolbox
	mkdir -p "$ctx"
	cp "$here/Dockerfile" "$here/packages" "$ctx/"
	install -m 0755 "$here/idle" "$sock" "$ctx/"
	DOCKER_BUILDKIT=${IMAGES_BUILDKIT:-0} docker build -q -t "$ref" "$ctx" >/dev/null
	retag "built from images/toolbox/Dockerfile in $(elapsed)"
	exit 0
fi

# From here on: the offline path, debootstrap and docker import.
if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
	die "debootstrap is missing: install it with 'apt-get install debootstrap' (Debian, Ubuntu),
  'dnf install debootstrap' (Fedora) or 'pacman -S debootstrap' (Arch); or, with a registry,
  build from the Dockerfile instead: images/toolbox/build.sh --dockerfile"
fi
PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" = 0 ] || die "debootstrap must run as root (it chroots and creates device nodes): sudo make toolbox"

# mirror: the first URI apt here uses for SUITE's main component, in either sources format.
mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# one-line: deb [options] URI SUITE COMPONENT...
		awk -v s="$suite" '$1 == "deb" { sub(/\[[^]]*\] */, "")
			if ($3 == s) for (j = 4; j <= NF; j++) if ($j == "main") { print $2; exit } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: stanzas separated by blank lines; keep the first URI of a "deb" stanza with
		# SUITE among its Suites and main among its Components.
		awk -v s="$suite" 'function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && (" " comps " ") ~ / main /) { split(uris, u, " "); print u[1]; found = 1; exit }
				types = uris = suites = comps = "" }
			/^[ \t]*$/ { flush(); next } /^#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 } tolower($1) == "uris:" { $1 = ""; uris = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 } tolower($1) == "components:" { $1 = ""; comps = $0 }
			END { if (!found) flush() }' "$f"
	done
}
url=${TOOLBOX_MIRROR:-$(mirror | head -1)}
url=${url:-http://deb.debian.org/debian}

cache=${TOOLBOX_CACHE:-/var/cache/socketlab/debootstrap}
mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || cache=$PWD/$work/debs
mkdir -p "$cache" "$work"
cache=$(cd "$cache" && pwd) # debootstrap wants an absolute path
root=$work/root

if [ "$(cat "$work/root.recipe" 2>/dev/null)" != "$base" ]; then
	rm -rf "$root" "$work/root.recipe"
	include=$(grep -v -e '^#' -e '^[[:space:]]*$' "$here/packages" | paste -sd, -)
	say "debootstrap $suite minbase from $url (+ $include); debs cached in $cache"
	log=$work/debootstrap.log
	# Two builds at once would write the same cached files: take turns.
	if ! flock "$cache/.lock" debootstrap --variant=minbase --include="$include" \
		--cache-dir="$cache" "$suite" "$root" "$url" >"$log" 2>&1; then
		tail -20 "$log" >&2
		die "debootstrap failed (the full log: $log); the mirror is $url: set TOOLBOX_MIRROR to another"
	fi
	# Docker provides these per container; a copy of the build machine's would mislead.
	: >"$root/etc/resolv.conf"
	: >"$root/etc/hostname"
	: >"$root/etc/machine-id"
	# What a node never reads: package lists and archives, logs, documentation (the copyright
	# files stay), and debootstrap's own leftovers.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
		"$root"/var/log/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/debootstrap
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	chroot "$root" groupadd -g $uid learner
	chroot "$root" useradd -m -u $uid -g $uid -s /bin/bash learner
	# Where a scenario's files go (issue 12: files: ["./x.py:/lab/x.py"]).
	mkdir -p "$root/lab"
	echo "$base" >"$work/root.recipe"
	say "root ready in $(elapsed): $(du -sm "$root" | cut -f1) MiB"
fi

install -m 0755 "$sock" "$root/usr/local/bin/sock"
install -m 0755 "$here/idle" "$root/usr/local/bin/idle"

# --numeric-owner: the ids inside the root are the image's, not the build machine's names.
# /dev, /proc and /sys are Docker's to fill.
tar --numeric-owner --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -C "$root" -c . |
	docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'ENV PYTHONUNBUFFERED=1' \
		--change 'ENV PYTHONDONTWRITEBYTECODE=1' \
		--change "USER $uid:$uid" \
		--change 'WORKDIR /lab' \
		--change "LABEL org.opencontainers.image.title=socketlab/toolbox socketlab.toolbox.recipe=$recipe" \
		--change 'CMD ["/usr/local/bin/idle"]' \
		--message "socketlab/toolbox: Debian $suite minbase + $(grep -vc -e '^#' -e '^[[:space:]]*$' "$here/packages") packages + sock (recipe $recipe)" \
		- "$ref" >/dev/null
retag "built in $(elapsed)"
