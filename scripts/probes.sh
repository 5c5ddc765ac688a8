# shellcheck shell=bash
# Sourced by images-check.sh and compose-check.sh: how to talk to each service from the
# client container, and the ok/bad tally both scripts print.

# probes: sock arguments run in the client container ({fam} becomes -4 or -6, {v} 4 or 6)
# and a text the answer must contain; several probes per service are separated by ';'.
declare -A probes=(
	[welcome]="welcome {fam} welcome|over IPv{v}"
	[echo]="echo {fam} echo hello-tcp|hello-tcp;echo --udp {fam} echo hello-udp|hello-udp"
	[responder]="responder {fam} responder|over IPv{v}"
	[web]="browse {fam} --body-only web/whoami|family: IPv{v}"
	[chat]="chat {fam} chat --nick check{v} --join '#lab' --say hello|Welcome to the socketlab IRC network"
	[lookup]="lookup {fam} lookup search TCP|Transmission Control Protocol"
)

pass=0 fail=0
ok() { printf '  ok   %s\n' "$*"; pass=$((pass + 1)); }
bad() { printf '  FAIL %s\n' "$*"; fail=$((fail + 1)); }

# probe CLIENT SERVICE: runs the service's probes from container CLIENT, by name, over IPv4
# and over IPv6.
probe() {
	local client=$1 s=$2 p args want v a w out rc list
	IFS=';' read -ra list <<<"${probes[$s]:-}"
	for p in "${list[@]}"; do
		args=${p%%|*} want=${p#*|}
		if ! docker exec "$client" sock "${args%% *}" --help >/dev/null 2>&1; then
			bad "sock ${args%% *}: no such client sub-command in the client image"; continue
		fi
		for v in 4 6; do
			a=${args//\{fam\}/-$v}; a=${a//\{v\}/$v}; w=${want//\{v\}/$v}
			out=$(eval docker exec "$client" sock "$a" 2>&1) && rc=0 || rc=$?
			if [ "$rc" = 0 ] && grep -qF -- "$w" <<<"$out"; then
				ok "sock $a: $(head -1 <<<"$out" | cut -c1-90)"
			else
				bad "sock $a: exit $rc, want '$w' in: $(head -3 <<<"$out")"
			fi
		done
	done
}
