#!/usr/bin/env bash
# Times the default lab coming up and going down, with warm images, two ways in one run:
#   labctl up / down of scenarios/default.yaml (up returns when every node passed its
#   healthcheck), and docker-compose up -d / down of compose.yaml (up -d returns once the
#   containers run; "up+healthy" waits further until Docker reports each healthy, which is
#   what a person needs before using the lab), and the floor: the same networks and
#   containers created, connected and started with bare API calls in parallel, with no
#   readiness wait (bin/labfloor). With LABCTL_OLD=path, that labctl is timed too, in the
#   same runs (e.g. a build of main before a change). Prints min, median and max of RUNS
#   runs and the ratios. Goals: labctl up ≤ 2 s, ≤ 0.5× compose and ≤ 1.3× the floor.
# Every lab and compose project gets a unique name, so nothing else running is touched.
# The two-host default lab (labctl on a swarm of two Docker hosts: the integration tests'
# rig, a second dockerd in a network namespace) is timed in the same run, RUNS times after
# one warm-up, with MULTIHOST=1, or with MULTIHOST=auto (the default) when this is root
# with dockerd installed and the engine is not in swarm mode; MULTIHOST=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-5}
scenario=${SCENARIO:-scenarios/default.yaml}
labctl=bin/labctl
old=${LABCTL_OLD:-}
name=bench-$$
project=socketlab-bench-$$
# compose.yaml has fixed subnets; give this project its own, apart from any compose lab up.
x=$(( RANDOM % 128 * 2 ))
export SOCKETLAB_FRONT_IPV4=10.253.$x.0/24 SOCKETLAB_FRONT_IPV6=fd5c:1ab:fffd:$x::/64
export SOCKETLAB_BACK_IPV4=10.253.$((x + 1)).0/24 SOCKETLAB_BACK_IPV6=fd5c:1ab:fffd:$((x + 1))::/64

if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else echo "bench-lab: neither 'docker compose' nor docker-compose is installed" >&2; exit 1; fi

cleanup() {
	rm -f /tmp/bench-lab-$$.log
	"$labctl" down -q "$name" >/dev/null 2>&1 || true
	[ -z "$old" ] || "$old" down -q "$name-old" >/dev/null 2>&1 || true
	"${compose[@]}" -p "$project" down -t 1 >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# compose_healthy waits until every container of the project runs and is healthy (or has
# no healthcheck).
compose_healthy() {
	local ids
	mapfile -t ids < <("${compose[@]}" -p "$project" ps -q)
	while docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' "${ids[@]}" |
		grep -qv '^running healthy$'; do
		sleep 0.05
	done
}

go build -o bin/labfloor ./bench/labfloor
declare -a lab_up lab_down c_up c_healthy c_down f_up f_down old_up old_down
echo "bench-lab: $runs runs of each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
	t=$(now); "$labctl" up -q --name "$name" "$scenario" >/dev/null; lab_up+=("$(since "$t")")
	t=$(now); "$labctl" down -q "$name" >/dev/null; lab_down+=("$(since "$t")")
	if [ -n "$old" ]; then
		t=$(now); "$old" up -q --name "$name-old" "$scenario" >/dev/null; old_up+=("$(since "$t")")
		t=$(now); "$old" down -q "$name-old" >/dev/null; old_down+=("$(since "$t")")
	fi
	read -r fu fd < <(bin/labfloor "$scenario"); f_up+=("$fu"); f_down+=("$fd")

	t=$(now)
	if ! "${compose[@]}" -p "$project" up -d --no-build >/tmp/bench-lab-$$.log 2>&1; then
		echo "bench-lab: ${compose[*]} up failed:" >&2; cat /tmp/bench-lab-$$.log >&2; exit 1
	fi
	c_up+=("$(since "$t")")
	compose_healthy; c_healthy+=("$(since "$t")")
	t=$(now); "${compose[@]}" -p "$project" down >/dev/null 2>&1; c_down+=("$(since "$t")")
	echo "  run $i: labctl up ${lab_up[-1]}s down ${lab_down[-1]}s | floor up ${f_up[-1]}s down ${f_down[-1]}s | compose up -d ${c_up[-1]}s up+healthy ${c_healthy[-1]}s down ${c_down[-1]}s"
done

# stats prints "min median max" of its arguments.
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f", v[1], m, v[NR] }'; }
median() { stats "$@" | cut -d' ' -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

multi=${MULTIHOST:-auto}
if [ "$multi" = auto ]; then
	multi=0
	if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null &&
		[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then multi=1; fi
fi
mh_up='' mh_down=''
if [ "$multi" = 1 ]; then
	echo "bench-lab: the default lab across two Docker hosts (a swarm: the integration tests' rig)"
	if ! out=$(TESTCONTAINERS_RYUK_DISABLED=true go test -count=1 -run '^$' -bench '^BenchmarkMultiHostUpDown$' \
		-benchtime "${runs}x" ./integration/ 2>&1); then
		echo "bench-lab: the two-host benchmark failed:" >&2; echo "$out" >&2; exit 1
	fi
	read -r mh_up mh_down < <(echo "$out" | awk '/^BenchmarkMultiHostUpDown/ {
		for (i = 1; i < NF; i++) { if ($(i+1) == "up-s") u = $i; if ($(i+1) == "down-s") d = $i }
		print u, d }')
fi

printf '\n%-24s %7s %7s %7s\n' "seconds ($runs runs)" min median max
# row prints a label and the min, median and max of the rest.
row() {
	local label=$1 mn md mx
	shift
	read -r mn md mx <<<"$(stats "$@")"
	printf '%-24s %7s %7s %7s\n' "$label" "$mn" "$md" "$mx"
}
row "labctl up" "${lab_up[@]}"
row "labctl down" "${lab_down[@]}"
if [ -n "$old" ]; then
	row "old labctl up" "${old_up[@]}"
	row "old labctl down" "${old_down[@]}"
fi
row "floor up (bare API)" "${f_up[@]}"
row "floor down (bare API)" "${f_down[@]}"
row "${compose[*]} up -d" "${c_up[@]}"
row "${compose[*]} up+healthy" "${c_healthy[@]}"
row "${compose[*]} down" "${c_down[@]}"
up=$(median "${lab_up[@]}")
printf '\nlabctl up / compose up+healthy: %s (goal ≤ 0.50)\n' "$(ratio "$up" "$(median "${c_healthy[@]}")")"
printf 'labctl up / compose up -d:      %s\n' "$(ratio "$up" "$(median "${c_up[@]}")")"
printf 'labctl down / compose down:     %s\n' "$(ratio "$(median "${lab_down[@]}")" "$(median "${c_down[@]}")")"
printf 'labctl up / floor up:           %s (goal ≤ 1.30)\n' "$(ratio "$up" "$(median "${f_up[@]}")")"
printf 'labctl down / floor down:       %s\n' "$(ratio "$(median "${lab_down[@]}")" "$(median "${f_down[@]}")")"
if [ -n "$old" ]; then
	printf 'labctl up / old labctl up:      %s\n' "$(ratio "$up" "$(median "${old_up[@]}")")"
	printf 'labctl down / old labctl down:  %s\n' "$(ratio "$(median "${lab_down[@]}")" "$(median "${old_down[@]}")")"
fi
if [ -n "$mh_up" ]; then
	printf '\ntwo hosts (swarm), median of %s runs: labctl up %ss, down %ss\n' "$runs" "$mh_up" "$mh_down"
	printf 'two-host up / one-host up:      %s\n' "$(ratio "$mh_up" "$up")"
	printf 'two-host down / one-host down:  %s\n' "$(ratio "$mh_down" "$(median "${lab_down[@]}")")"
fi
printf 'labctl up median %ss (goal ≤ 2 s)\n' "$up"
