#!/usr/bin/env bash
# Checks the built socketlab images the way a user would notice, without labctl:
# for each socketlab/<service> image present (and socketlab/client, which runs the probes):
#   - inspect: FROM scratch (one layer), non-root numeric user, the entrypoint, EXPOSE,
#     a HEALTHCHECK running the binary's own `healthcheck`, size within the budget;
#   - run it with --read-only --cap-drop ALL --security-opt no-new-privileges (plus memory
#     and pids limits) on a fresh dual-stack network, and wait until Docker says healthy;
#   - the process really runs as that user with no capabilities and no_new_privs (/proc);
#   - from the client container, by name, the service answers over IPv4 and over IPv6;
#   - docker stop: exit code 0, well under a second; every log line on stdout is JSON.
# Every container and network it creates carries the label socketlab.imagecheck=<run> and
# is removed on exit. Usage: scripts/images-check.sh [SERVICE...] (default: every image built)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${IMAGE_PREFIX:-socketlab}
tag=${IMAGE_TAG:-latest}
max_mib=${IMAGE_MAX_MIB:-8}
run=imgcheck-$$-$RANDOM
label=socketlab.imagecheck=$run

declare -A expose=(
	[welcome]="9999/tcp"
	[echo]="7/tcp 7/udp"
	[chat]="6667/tcp 1042/tcp"
	[responder]="9999/udp"
	[lookup]="65432/tcp"
	[web]="80/tcp"
)
. scripts/probes.sh
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

cleanup() {
	local ids nets
	mapfile -t ids < <(docker ps -aq --filter "label=$label")
	[ ${#ids[@]} = 0 ] || docker rm -f "${ids[@]}" >/dev/null
	mapfile -t nets < <(docker network ls -q --filter "label=$label")
	[ ${#nets[@]} = 0 ] || docker network rm "${nets[@]}" >/dev/null
}
trap cleanup EXIT

docker image inspect "$prefix/client:$tag" >/dev/null 2>&1 || { echo "images-check: $prefix/client:$tag is not built; run make images" >&2; exit 1; }

if [ $# -gt 0 ]; then
	services=("$@")
else
	services=()
	for s in welcome echo chat responder lookup web; do
		docker image inspect "$prefix/$s:$tag" >/dev/null 2>&1 && services+=("$s") ||
			echo "images-check: skipping $s: $prefix/$s:$tag is not built"
	done
fi

# A dual-stack network with subnets no other network uses: Docker refuses overlaps, so try.
net=$run
for _ in $(seq 1 30); do
	v4="10.213.$((RANDOM % 256)).0/24"
	v6=$(printf 'fd00:5c:1ab:%x::/64' $((1 + RANDOM % 65535)))
	docker network create --ipv6 --subnet "$v4" --subnet "$v6" --label "$label" "$net" >/dev/null 2>&1 && break
	v4=
done
[ -n "$v4" ] || { echo "images-check: found no free subnet for the check network" >&2; exit 1; }
echo "images-check: network $net $v4 $v6"

hardening=(--read-only --cap-drop ALL --security-opt no-new-privileges --memory 64m --pids-limit 64)
client=$run-client
docker run -d --name "$client" --network "$net" --label "$label" "${hardening[@]}" "$prefix/client:$tag" >/dev/null

# proc_check CONTAINER: the main process's uid, capabilities and no_new_privs, from /proc.
proc_check() {
	local pid st
	pid=$(docker inspect -f '{{.State.Pid}}' "$1")
	st=/proc/$pid/status
	if [ ! -r "$st" ]; then ok "process: /proc/$pid not visible here (engine in a VM?), skipped"; return; fi
	local uid capeff nnp
	uid=$(awk '/^Uid:/{print $2}' "$st"); capeff=$(awk '/^CapEff:/{print $2}' "$st"); nnp=$(awk '/^NoNewPrivs:/{print $2}' "$st")
	if [ "$uid" != 0 ] && [ "$capeff" = 0000000000000000 ] && [ "$nnp" = 1 ]; then
		ok "process: uid $uid, CapEff $capeff, NoNewPrivs $nnp"
	else
		bad "process: uid $uid, CapEff $capeff, NoNewPrivs $nnp (want non-root, no capabilities, 1)"
	fi
}

# stop_check CONTAINER: docker stop (SIGTERM) must end it with exit code 0, well under a
# second. Two figures: until the process ended (State.FinishedAt) and until docker stop
# returned (which adds the engine's own teardown).
stop_check() {
	local t0 took code fin exited
	t0=$(date +%s%N)
	docker stop -t 10 "$1" >/dev/null
	took=$(ms "$t0")
	IFS='|' read -r code fin < <(docker inspect -f '{{.State.ExitCode}}|{{.State.FinishedAt}}' "$1")
	exited=$(( ($(date -d "$fin" +%s%N) - t0) / 1000000 ))
	if [ "$code" = 0 ] && [ "$exited" -lt 1000 ]; then
		ok "docker stop: exit 0, process ended $exited ms after the stop began (docker stop returned in $took ms)"
	else
		bad "docker stop: exit $code, process ended after $exited ms (want 0, < 1000 ms)"
	fi
}

declare -A started
for s in "${services[@]}"; do
	img=$prefix/$s:$tag
	echo "== $img"
	# Inspect: what the image promises.
	IFS='|' read -r user entry health exposed layers size < <(docker image inspect -f \
		'{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck.Test}}|{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}|{{len .RootFS.Layers}}|{{.Size}}' "$img")
	[[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] && ok "user $user (numeric, non-root)" || bad "user '$user' (want a numeric non-root UID)"
	[ "$entry" = "[\"/bin/$s\"]" ] && ok "entrypoint $entry" || bad "entrypoint $entry (want [\"/bin/$s\"])"
	[ "$health" = "[\"CMD\",\"/bin/$s\",\"healthcheck\"]" ] && ok "healthcheck $health" || bad "healthcheck $health"
	want=$(tr ' ' '\n' <<<"${expose[$s]:-}" | sort | xargs); got=$(xargs -n1 <<<"$exposed" | sort | xargs)
	[ "$got" = "$want" ] && ok "expose $got" || bad "expose '$got' (want '$want')"
	[ "$layers" = 1 ] && ok "one layer (FROM scratch + the binary)" || bad "$layers layers (want 1)"
	mib=$(awk -v s="$size" 'BEGIN{printf "%.1f", s/1048576}')
	[ "$size" -le $((max_mib * 1048576)) ] && ok "size $mib MiB (budget $max_mib MiB)" || bad "size $mib MiB over $max_mib MiB"

	# Run hardened; all services start now and become healthy side by side.
	docker run -d --name "$run-$s" --network "$net" --network-alias "$s" --label "$label" "${hardening[@]}" "$img" >/dev/null
	started[$s]=$(date +%s%N)
done

for s in "${services[@]}"; do
	img=$prefix/$s:$tag c=$run-$s t0=${started[$s]}
	echo "== $img running"
	state=starting
	for _ in $(seq 1 300); do
		state=$(docker inspect -f '{{.State.Health.Status}}' "$c" 2>/dev/null || echo gone)
		[ "$state" = starting ] || break
		sleep 0.1
	done
	# Time to healthy as Docker saw it: from the start to the end of the first passing check.
	IFS='|' read -r started_at first_ok < <(docker inspect -f \
		'{{.State.StartedAt}}|{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{json .End}} {{end}}{{end}}' "$c")
	first_ok=${first_ok%% *}; first_ok=${first_ok//\"/}
	took='?'
	[ -z "$first_ok" ] || took=$(( ($(date -d "$first_ok" +%s%N) - $(date -d "$started_at" +%s%N)) / 1000000 ))
	[ "$state" = healthy ] && ok "healthy $took ms after the start, under ${hardening[*]}" ||
		{ bad "health: $state after $(ms "$t0") ms"; docker logs "$c" 2>&1 | tail -5 | sed 's/^/       /'; }
	proc_check "$c"

	# Talk to it from the client container, by name, over each family.
	probe "$client" "$s"

	# Graceful stop, and logs.
	stop_check "$c"
	lines=$(docker logs "$c" 2>/dev/null | wc -l)
	nonjson=$(docker logs "$c" 2>/dev/null | while IFS= read -r l; do
		if command -v jq >/dev/null; then jq -e 'type == "object"' <<<"$l" >/dev/null 2>&1 || echo "$l"
		else [[ $l == \{*\} ]] || echo "$l"; fi
	done)
	errs=$(docker logs "$c" 2>&1 >/dev/null)
	[ -z "$nonjson" ] && [ "$lines" -gt 0 ] && ok "logs: $lines lines on stdout, all JSON" || bad "logs: not JSON: $(head -2 <<<"$nonjson")"
	[ -z "$errs" ] && ok "logs: nothing on stderr" || bad "logs: stderr: $(head -2 <<<"$errs")"
done

echo "== $prefix/client:$tag"
proc_check "$client"
stop_check "$client"

echo "images-check: $pass passed, $fail failed"
[ "$fail" = 0 ]
