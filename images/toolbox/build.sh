#!/usr/bin/env bash
# Builds socketlab/toolbox, the one socketlab image that is not FROM scratch: a Debian
# bookworm root (minbase plus the packages listed in ./packages, finished by finish-root.sh),
# with bin/sock and ./idle copied in, imported with `docker import`. Nothing is pulled from a
# registry: the root's packages come from the mirror apt on this machine uses.
#
#   images/toolbox/build.sh               a Debian root + docker import (what make toolbox runs)
#   images/toolbox/build.sh --dockerfile  docker build of ./Dockerfile instead (needs a registry)
#
# Two tools make the same root: as root, debootstrap when it is installed; otherwise mmdebstrap,
# which needs no root (--mode=unshare: a user namespace over the user's subordinate ids in
# /etc/subuid and /etc/subgid) and writes a tar for docker import. TOOLBOX_BUILDER picks one.
#
# The image is tagged by a hash of its recipe (the suite, this script, ./packages, finish-root.sh,
# ./idle and bin/sock): socketlab/toolbox:r-<hash>, and also socketlab/toolbox:latest. When the image of the
# hash is already there, nothing is built. The package versions are whatever the mirror serves at
# build time: the hash names the recipe, not the bytes.
#
# Caches: the downloaded .deb files in $TOOLBOX_CACHE (default /var/cache/socketlab/debootstrap,
# kept across fresh clones; bin/.toolbox/debs when that is not writable), and the finished root
# as a tar in bin/.toolbox/root.tar, reused while the root's part of the recipe is unchanged (a
# new sock binary then costs only the import).
#
# Environment: IMAGE_PREFIX (socketlab), IMAGE_TAG (latest: the alias tag), TOOLBOX_MIRROR (the
# first bookworm "main" URI in /etc/apt/sources.list*, else http://deb.debian.org/debian),
# TOOLBOX_SUITE (bookworm), TOOLBOX_CACHE (see above), TOOLBOX_BUILDER (debootstrap|mmdebstrap).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

prefix=${IMAGE_PREFIX:-socketlab}
alias_tag=${IMAGE_TAG:-latest}
suite=${TOOLBOX_SUITE:-bookworm}
repo=$prefix/toolbox
work=bin/.toolbox
sock=bin/sock
uid=10001 # the non-root user of every socketlab image (finish-root.sh makes it)

say() { printf 'toolbox: %s\n' "$*"; }
die() { printf 'toolbox: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f s", (b-a)/1e9}'; }
t0=$(date +%s%N)

have() { command -v "$1" >/dev/null; }
user=$(id -un)
# subuids: mmdebstrap's user namespace maps the root's ids onto the user's subordinate ids.
has_subids() { grep -qE "^($user|$(id -u)):" /etc/subuid 2>/dev/null && grep -qE "^($user|$(id -u)):" /etc/subgid 2>/dev/null; }
# subids_command: what gives this user 65536 subordinate ids after the highest one given; nothing
# for root or a user who has them.
subids_command() {
	[ "$(id -u)" = 0 ] || has_subids && return
	local first
	first=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print (m < 100000 ? 100000 : m) }' /etc/subuid 2>/dev/null || echo 100000)
	echo "usermod --add-subuids $first-$((first + 65535)) --add-subgids $first-$((first + 65535)) $user"
}
# fix: the one command that lets this user build the toolbox without root.
fix() {
	local need=() ids
	have mmdebstrap || need+=(mmdebstrap)
	have newuidmap || need+=(uidmap)
	ids=$(subids_command)
	if [ ${#need[@]} -gt 0 ] && [ -n "$ids" ]; then
		echo "sudo sh -c 'apt-get install -y ${need[*]} && $ids'"
	elif [ ${#need[@]} -gt 0 ]; then
		echo "sudo apt-get install -y ${need[*]}"
	else
		echo "sudo $ids"
	fi
}

mode=debootstrap
case ${1:-} in
'') ;;
--dockerfile) mode=dockerfile ;;
--subids-command) subids_command; exit 0 ;;
*) die "unknown argument ${1}: --dockerfile builds from images/toolbox/Dockerfile (needs a registry); --subids-command prints what gives this user subordinate ids (mmdebstrap needs them)" ;;
esac

command -v docker >/dev/null || die "docker is not installed; the toolbox image needs a Docker engine"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker engine (is it running, may this user use it?): $(docker version 2>&1 | tail -1)"
[ -f "$sock" ] || die "$sock is missing; run make build (or make toolbox, which builds it)"
if head -c 4096 "$sock" | grep -qa -e '/ld-linux' -e '/ld-musl'; then
	die "$sock is dynamically linked; run make build (CGO_ENABLED=0)"
fi

# The recipe: what decides the image's content. base is the part that decides the root (the
# same whichever tool builds it).
base=$({ echo "$suite"; cat "$here/build.sh" "$here/packages" "$here/finish-root.sh"; } | sha256sum | cut -c1-16)
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

# From here on: the offline path, a Debian root by debootstrap or mmdebstrap, then docker import.
builder=${TOOLBOX_BUILDER:-}
if [ -z "$builder" ]; then
	if [ "$(id -u)" = 0 ] && have debootstrap; then builder=debootstrap; else builder=mmdebstrap; fi
fi
case $builder in
debootstrap)
	have debootstrap || die "debootstrap is missing: apt-get install -y debootstrap (or build without root: apt-get install -y mmdebstrap)"
	[ "$(id -u)" = 0 ] || die "debootstrap must run as root (it chroots and creates device nodes); without root, mmdebstrap builds the same root: $(fix)" ;;
mmdebstrap)
	if [ "$(id -u)" = 0 ]; then
		have mmdebstrap || die "neither debootstrap nor mmdebstrap is installed: apt-get install -y mmdebstrap (Debian, Ubuntu; or debootstrap), or, with a registry, images/toolbox/build.sh --dockerfile"
	elif ! have mmdebstrap || ! have newuidmap || [ -n "$(subids_command)" ]; then
		die "building the toolbox without root needs mmdebstrap, newuidmap (uidmap) and subordinate ids for $user (/etc/subuid, /etc/subgid); run once:
  $(fix)
  (or, as root: sudo make toolbox; with a registry: images/toolbox/build.sh --dockerfile)"
	fi ;;
*) die "TOOLBOX_BUILDER=$builder: use debootstrap (as root) or mmdebstrap (as root or not)" ;;
esac

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
rootfs=$work/root.tar # the finished root, without sock and idle: reused while base is unchanged

if [ "$(cat "$work/root.recipe" 2>/dev/null)" != "$base" ]; then
	rm -rf "$work/root" "$rootfs" "$work/root.recipe"
	include=$(grep -v -e '^#' -e '^[[:space:]]*$' "$here/packages" | paste -sd, -)
	say "$builder $suite minbase from $url (+ $include); debs cached in $cache"
	log=$work/$builder.log
	# Two builds at once would write the same cached files: take turns.
	if [ "$builder" = debootstrap ]; then
		root=$work/root
		flock "$cache/.lock" debootstrap --variant=minbase --include="$include" \
			--cache-dir="$cache" "$suite" "$root" "$url" >"$log" 2>&1 &&
			"$here/finish-root.sh" "$root" >>"$log" 2>&1 &&
			# --numeric-owner: the ids inside the root are the image's, not the build machine's
			# names. /dev, /proc and /sys are Docker's to fill.
			tar --numeric-owner --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -C "$root" -cf "$rootfs.tmp" . &&
			rm -rf "$root" || failed=1
	else
		# In unshare mode (not root) mmdebstrap runs the hooks as root of a user namespace. As
		# debootstrap does: /usr merged by the directory layout (usr-is-merged, not the usrmerge
		# package, which brings perl), no recommended packages; its own clean-ups are left to
		# finish-root.sh (/tmp, /run and ldconfig's cache stay as debootstrap leaves them); device
		# nodes are Docker's.
		flock "$cache/.lock" mmdebstrap --format=tar --variant=minbase --include="$include" \
			--skip=cleanup/apt,cleanup/tmp,cleanup/run,cleanup/reproducible \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
			--aptopt='APT::Install-Recommends "false"' \
			--customize-hook='rm "$1"/etc/apt/apt.conf.d/99mmdebstrap' \
			--setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
			--setup-hook="sync-in $cache /var/cache/apt/archives" \
			--customize-hook="sync-out /var/cache/apt/archives $cache" \
			--customize-hook="\"$here/finish-root.sh\" \"\$1\"" \
			"$suite" "$rootfs.tmp" "$url" >"$log" 2>&1 &&
			tar --delete --wildcards -f "$rootfs.tmp" './dev/?*' >>"$log" 2>&1 || failed=1
	fi
	if [ -n "${failed:-}" ]; then
		tail -20 "$log" >&2
		die "$builder failed (the full log: $log); the mirror is $url: set TOOLBOX_MIRROR to another"
	fi
	mv "$rootfs.tmp" "$rootfs"
	echo "$base" >"$work/root.recipe"
	say "root ready in $(elapsed): $(du -m "$rootfs" | cut -f1) MiB"
fi

# The image's tar: the root, then sock and idle (owned by root, 0755) appended to a copy.
stage=$work/stage
rm -rf "$stage" && mkdir -p "$stage/usr/local/bin"
install -m 0755 "$sock" "$stage/usr/local/bin/sock"
install -m 0755 "$here/idle" "$stage/usr/local/bin/idle"
cp "$rootfs" "$work/image.tar"
tar --numeric-owner --owner=0 --group=0 -rf "$work/image.tar" -C "$stage" ./usr/local/bin/sock ./usr/local/bin/idle
trap 'rm -f "$work/image.tar"' EXIT
docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV LANG=C.UTF-8' \
	--change 'ENV PYTHONUNBUFFERED=1' \
	--change 'ENV PYTHONDONTWRITEBYTECODE=1' \
	--change "USER $uid:$uid" \
	--change 'WORKDIR /lab' \
	--change "LABEL org.opencontainers.image.title=socketlab/toolbox socketlab.toolbox.recipe=$recipe socketlab.toolbox.base=$base" \
	--change 'CMD ["/usr/local/bin/idle"]' \
	--message "socketlab/toolbox: Debian $suite minbase + $(grep -vc -e '^#' -e '^[[:space:]]*$' "$here/packages") packages + sock (recipe $recipe)" \
	- "$ref" <"$work/image.tar" >/dev/null
retag "built in $(elapsed)"
