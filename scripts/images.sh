#!/usr/bin/env bash
# Builds the socketlab images from the static binaries in bin/ (run `make build` first):
# socketlab/<service> for every service whose services/<service>/cmd exists, and
# socketlab/client carrying bin/sock, and socketlab/<helper> for every helpers/<helper>/cmd
# (socketlab/capture). Every image is FROM scratch: nothing is pulled, and
# docker events is read afterwards to prove it.
#
# Reproducible: each image's build context is a small folder bin/.images/<name>/ holding
# the Dockerfile and the binary with its mode normalised to 0755. The classic builder's
# cache key for COPY is the file's content, mode and owner, not its mtime, so a rebuilt but
# identical binary hits the cache and the image ID does not change.
#
# Environment: IMAGE_PREFIX (socketlab), IMAGE_TAG (latest), IMAGE_MAX_MIB (8, the budget
# of a service image), IMAGES_BUILDKIT (0: the classic builder, which needs no buildx).
# Usage: scripts/images.sh [NAME...] builds only the images named (e.g. capture), default all.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${IMAGE_PREFIX:-socketlab}
tag=${IMAGE_TAG:-latest}
max_mib=${IMAGE_MAX_MIB:-8}
services=(welcome echo chat responder lookup web)
ctx_root=bin/.images

say() { printf 'images: %s\n' "$*"; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed; images need a Docker engine"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker engine (is it running, may this user use it?): $(docker version 2>&1 | tail -1)"

# Services not in the list above but with a cmd/ folder are built too, if they have a Dockerfile.
for d in services/*/cmd; do
	[ -d "$d" ] || continue
	s=${d#services/}; s=${s%/cmd}
	[[ " ${services[*]} " == *" $s "* ]] || services+=("$s")
done

helpers=()
for d in helpers/*/cmd; do
	[ -d "$d" ] || continue
	h=${d#helpers/}; helpers+=("${h%/cmd}")
done
# wanted NAME: true when NAME is to be built (no arguments: every image).
wanted() { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }
only=("$@")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
names=()

# stage NAME DOCKERFILE BINARY: prepares bin/.images/NAME/ and starts its build in the
# background: the engine spends most of a build waiting on the storage driver, so builds
# side by side are far quicker (here: seven in 6.5 s together, 35 s one after another).
stage() {
	local name=$1 dockerfile=$2 binary=$3 ref=$prefix/$1:$tag ctx=$ctx_root/$1 exe
	exe=$(basename "$binary")
	if [ ! -f "$binary" ]; then
		say "$ref: $binary is missing; run make build"; failed=1; return
	fi
	# A scratch image has no dynamic loader: the binary must be static (make build's CGO_ENABLED=0).
	if head -c 4096 "$binary" | grep -qa -e '/ld-linux' -e '/ld-musl'; then
		say "$ref: $binary is dynamically linked; run make build (CGO_ENABLED=0)"; failed=1; return
	fi
	mkdir -p "$ctx"
	cp "$dockerfile" "$ctx/Dockerfile"
	# Copy only a changed binary, so the context's files keep their mtimes when nothing changed.
	cmp -s "$binary" "$ctx/$exe" || cp "$binary" "$ctx/$exe"
	chmod 0755 "$ctx/$exe"
	docker image inspect -f '{{.Id}}' "$ref" >"$tmp/$name.old" 2>/dev/null || true
	names+=("$name")
	(
		t0=$(date +%s%N)
		DOCKER_BUILDKIT=${IMAGES_BUILDKIT:-0} docker build -q -t "$ref" "$ctx" >"$tmp/$name.log" 2>&1
		echo $? >"$tmp/$name.rc"
		echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$tmp/$name.ms"
	) &
}

# report NAME: one line per image; removes the image the tag named before, if now unused.
report() {
	local name=$1 ref=$prefix/$1:$tag old new size what
	if [ "$(cat "$tmp/$name.rc")" != 0 ]; then
		say "$ref: docker build failed:"
		grep -v -e DEPRECATED -e 'legacy builder' -e buildx -e BuildKit "$tmp/$name.log" | sed 's/^/    /' >&2
		failed=1; return
	fi
	old=$(cat "$tmp/$name.old")
	new=$(docker image inspect -f '{{.Id}}' "$ref")
	size=$(docker image inspect -f '{{.Size}}' "$ref")
	if [ "$new" = "$old" ]; then
		what="unchanged"
	else
		what="built in $(cat "$tmp/$name.ms") ms"
		# The tag's previous image is now dangling: remove it, but only while it has no tag
		# at all (another `make images` may have tagged it again meanwhile); Docker refuses
		# anyway while a container uses it.
		if [ -n "$old" ] && [ "$(docker image inspect -f '{{len .RepoTags}}' "$old" 2>/dev/null)" = 0 ]; then
			docker image rm "$old" >/dev/null 2>&1 || true
		fi
	fi
	printf 'images: %-26s %s  %4s MiB  %s\n' "$ref" "${new:7:12}" \
		"$(awk -v s="$size" 'BEGIN{printf "%.1f", s/1048576}')" "$what"
	if [ "$name" != client ] && [ "$size" -gt $((max_mib * 1048576)) ]; then
		say "$ref is over the ${max_mib} MiB budget of a service image"; failed=1
	fi
}

since=$(date +%s.%N)
for s in "${services[@]}"; do
	wanted "$s" || continue
	if [ ! -d "services/$s/cmd" ]; then
		say "skipped $s: services/$s/cmd is not there yet"
	elif [ ! -f "services/$s/Dockerfile" ]; then
		say "skipped $s: services/$s/Dockerfile is missing"
	else
		stage "$s" "services/$s/Dockerfile" "bin/$s"
	fi
done
wanted client && stage client services/sock/Dockerfile bin/sock
for h in "${helpers[@]}"; do
	wanted "$h" || continue
	if [ ! -f "helpers/$h/Dockerfile" ]; then
		say "skipped helper $h: helpers/$h/Dockerfile is missing"
	else
		stage "$h" "helpers/$h/Dockerfile" "bin/$h"
	fi
done
[ ${#names[@]} -gt 0 ] || die "nothing to build: no image is named ${only[*]}"
wait
for n in "${names[@]}"; do report "$n"; done

pulls=$(docker events --since "$since" --until "$(date +%s.%N)" --filter type=image --filter event=pull \
	--format '{{.Actor.ID}}')
[ -z "$pulls" ] || { say "images were pulled during the build (there must be none): $pulls"; failed=1; }
[ "$failed" = 0 ] || exit 1
say "nothing pulled (docker events); try: make images-check"
