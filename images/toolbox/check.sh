#!/usr/bin/env bash
# Runs socketlab/toolbox as a hardened lab node runs (read-only root, tmpfs /tmp, no
# capabilities, no-new-privileges) on a dual-stack network of its own, and checks that a
# learner's tools work there: bash, python3 (a server and a client over IPv4 and IPv6), sock,
# nc, curl, dig, ip, ping; that the idle PID 1 stops at once; and that tcpdump works once the
# node runs as root with NET_RAW, SETUID and SETGID. Removes what it made.
set -euo pipefail
image=${IMAGE_PREFIX:-socketlab}/toolbox:${IMAGE_TAG:-latest}
name=toolbox-check-$$
hard=(--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --network "$name")
fail=0
say() { printf 'toolbox-check: %s\n' "$*"; }
cleanup() { docker rm -f "$name-srv" "$name-idle" >/dev/null 2>&1 || true; docker network rm "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker image inspect "$image" >/dev/null 2>&1 || { say "$image is missing: make toolbox"; exit 1; }
for _ in 1 2 3 4 5; do
	n=$((RANDOM % 200 + 20))
	docker network create --ipv6 --subnet "10.214.$n.0/24" --subnet "fd00:7b1:$n::/64" "$name" >/dev/null 2>&1 && break
done
docker network inspect "$name" >/dev/null 2>&1 || { say "cannot create a dual-stack network"; exit 1; }

# check NAME WANT CMD...: runs CMD in a hardened toolbox node; its output must contain WANT.
check() {
	local what=$1 want=$2 out; shift 2
	if out=$(docker run --rm "${hard[@]}" "$@" 2>&1) && [[ $out == *"$want"* ]]; then
		say "ok   $what"
	else
		say "FAIL $what: want $want, got: $(tail -3 <<<"$out")"; fail=1
	fi
}
docker run -d --name "$name-srv" "${hard[@]}" "$image" python3 -c '
import socket
s = socket.create_server(("::", 7), family=socket.AF_INET6, dualstack_ipv6=True)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    with c:
        while b := c.recv(4096):
            c.sendall(b)' >/dev/null
for _ in $(seq 50); do docker logs "$name-srv" 2>&1 | grep -q listening && break; sleep 0.1; done
srv=$name-srv
check "bash, as the learner, in /lab, root read-only" "10001 /lab ro" "$image" bash -c 'echo $(id -u) $PWD $(touch /x 2>/dev/null && echo rw || echo ro)'
check "python3 writes /tmp (tmpfs)" "3.11 ok" "$image" python3 -c 'import sys; open("/tmp/t","w").write("x"); print(sys.version[:4], "ok")'
check "sock echo to a python3 server, IPv6" "hello6" "$image" sock echo -6 "$srv" hello6
check "sock echo to a python3 server, IPv4" "hello4" "$image" sock echo -4 "$srv" hello4
check "nc, IPv6" "via nc" "$image" bash -c "echo via nc | nc -N -6 $srv 7"
check "curl" "curl 7." "$image" curl --version
check "dig at Docker's DNS: AAAA" "fd00:7b1:" "$image" dig +short AAAA "$srv" @127.0.0.11
check "ip addr shows both families" "fd00:7b1:" "$image" ip -br addr show eth0
check "ping without NET_RAW (ping_group_range)" "1 received" "$image" ping -6 -c1 -W2 "$srv"
check "tcpdump as root with NET_RAW+SETUID+SETGID" "1 packet captured" --user 0 --cap-add NET_RAW --cap-add SETUID --cap-add SETGID \
	"$image" bash -c 'timeout 10 tcpdump -c 1 -ni lo icmp & sleep 1; ping -c 2 127.0.0.1 >/dev/null; wait'
check "tcpdump needs more than NET_RAW (it drops to user tcpdump)" "Operation not permitted" --user 0 --cap-add NET_RAW \
	"$image" bash -c 'tcpdump -c 1 -ni lo; true'
docker run -d --name "$name-idle" "${hard[@]}" "$image" >/dev/null
t0=$(date +%s%N); docker stop -t 10 "$name-idle" >/dev/null; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$name-idle")
if [ "$code" = 0 ] && [ "$ms" -lt 5000 ]; then say "ok   idle PID 1 stops on SIGTERM (exit 0, $ms ms)"; else say "FAIL idle PID 1: exit $code after $ms ms"; fail=1; fi
[ "$fail" = 0 ] && say "all passed" || exit 1
