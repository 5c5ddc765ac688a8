#!/usr/bin/env bash
# Checks compose.yaml the way a user would: brings the lab up under a project name of its
# own, and checks that every service is healthy and hardened, that published ports are on
# 127.0.0.1 only, that every node has an IPv4 and an IPv6 address, and that from the client
# container every client reaches every service by name over IPv4 and over IPv6; then takes
# the lab down and checks that nothing is left. Uses `docker compose` (v2) when present,
# else docker-compose (1.29); COMPOSE=... chooses. Needs the images: make images.
set -euo pipefail
cd "$(dirname "$0")/.."

project=${COMPOSE_CHECK_PROJECT:-slcheck$$}
if [ -n "${COMPOSE:-}" ]; then read -ra compose <<<"$COMPOSE"   # e.g. COMPOSE=docker-compose
elif docker compose version >/dev/null 2>&1; then compose=(docker compose)
else compose=(docker-compose); fi
dc() { "${compose[@]}" -p "$project" -f compose.yaml "$@"; }
. scripts/probes.sh
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

services=(welcome echo chat responder lookup web)
for s in "${services[@]}" client; do
	docker image inspect "socketlab/$s:latest" >/dev/null 2>&1 || { echo "compose-check: socketlab/$s is not built; run make images" >&2; exit 1; }
done

down() { dc down --remove-orphans --timeout 5 >/dev/null 2>&1 || true; }
trap down EXIT

echo "compose-check: $("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -1), project $project"
# The file's own subnets first; when another network holds them (another copy of the lab),
# random ones through the SOCKETLAB_* variables compose.yaml reads.
log=$(mktemp)
for _ in $(seq 1 10); do
	t0=$(date +%s%N)
	dc up -d >"$log" 2>&1 && break
	grep -q 'Pool overlaps' "$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
	down
	SOCKETLAB_FRONT_IPV4=10.214.$((RANDOM % 128 * 2)).0/24
	SOCKETLAB_BACK_IPV4=10.214.$((RANDOM % 128 * 2 + 1)).0/24
	SOCKETLAB_FRONT_IPV6=$(printf 'fd00:5c:1ab:%x::/64' $((256 + RANDOM)))
	SOCKETLAB_BACK_IPV6=$(printf 'fd00:5c:1ab:%x::/64' $((33024 + RANDOM % 32000)))
	export SOCKETLAB_FRONT_IPV4 SOCKETLAB_BACK_IPV4 SOCKETLAB_FRONT_IPV6 SOCKETLAB_BACK_IPV6
	echo "compose-check: subnets taken; trying $SOCKETLAB_FRONT_IPV4 $SOCKETLAB_FRONT_IPV6 $SOCKETLAB_BACK_IPV4 $SOCKETLAB_BACK_IPV6"
done
if grep -q 'Pool overlaps' "$log"; then cat "$log" >&2; rm -f "$log"; exit 1; fi
rm -f "$log"
ok "up -d returned in $(ms "$t0") ms (every service healthy, then the client started)"

# cid SERVICE: its container, found by Compose's labels (both versions set them; `ps -q`
# differs between them for stopped containers).
cid() { docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"; }
client=$(cid client)
echo "== every node"
for s in "${services[@]}" client; do
	c=$(cid "$s")
	IFS='|' read -r health ro caps sec mem pids user < <(docker inspect -f \
		'{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}|{{.HostConfig.ReadonlyRootfs}}|{{.HostConfig.CapDrop}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.Memory}}|{{.HostConfig.PidsLimit}}|{{.Config.User}}' "$c")
	want_health=healthy; [ "$s" != client ] || want_health=none
	if [ "$health" = "$want_health" ] && [ "$ro" = true ] && [ "$caps" = "[ALL]" ] &&
		[[ $sec == *no-new-privileges* ]] && [ "$mem" -gt 0 ] && [ "${pids:-0}" -gt 0 ] && [ "$user" = 10001:10001 ]; then
		ok "$s: health $health, read-only, cap_drop $caps, $sec, memory $((mem / 1048576)) MiB, pids $pids, user $user"
	else
		bad "$s: health $health ro $ro caps $caps sec $sec memory $mem pids $pids user $user"
	fi
	addrs=$(docker inspect -f '{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}},{{$e.GlobalIPv6Address}} {{end}}' "$c")
	if [[ $addrs =~ =[0-9.]+,[0-9a-f:]+ ]] && ! [[ $addrs =~ =,|,\  ]]; then ok "$s: $addrs"; else bad "$s: an address is missing: $addrs"; fi
	hostips=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostIp}} {{end}}{{end}}' "$c")
	for ip in $hostips; do
		[ "$ip" = 127.0.0.1 ] && ok "$s: published on $ip only" || bad "$s: published on $ip (want 127.0.0.1 only)"
	done
done
nets() { docker inspect -f '{{range $n, $e := .NetworkSettings.Networks}}{{$n}} {{end}}' "$(cid "$1")"; }
shared=$(comm -12 <(nets echo | xargs -n1 | sort) <(nets web | xargs -n1 | sort))
[ -z "$shared" ] && ok "echo ($(nets echo)) and web ($(nets web)) share no network" || bad "echo and web share $shared"

for s in "${services[@]}"; do
	echo "== client -> $s"
	probe "$client" "$s"
done

echo "== stop and down"
t0=$(date +%s%N)
dc stop --timeout 5 >/dev/null 2>&1
took=$(ms "$t0")
codes=$(for s in "${services[@]}" client; do printf '%s=%s ' "$s" "$(docker inspect -f '{{.State.ExitCode}}' "$(cid "$s")")"; done)
[[ $codes =~ ^(([a-z]+)=0\ )+$ ]] && ok "stop in $took ms, every exit code 0: $codes" || bad "stop in $took ms, exit codes: $codes"
t0=$(date +%s%N)
dc down --timeout 5 >/dev/null 2>&1
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; docker network ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] && ok "down in $(ms "$t0") ms; no container or network left" || bad "left behind: $left"
echo "compose-check: $pass passed, $fail failed"
[ "$fail" = 0 ]
