#!/usr/bin/env bash
# Container identity: processes in cgroups named as Docker (systemd driver), containerd and
# Podman name them get processes.container and runtime from their cgroup path, and
# flowq flows --container finds their flows by a short id prefix. The Docker cgroup exists
# before the recorder starts (its first walk of the cgroup tree finds it); the other two are
# made after (found by a later walk).
. "$(dirname "$0")/lib.sh"
fq() { "$FLOWQ" --db "$DB" "$@"; }
e2e_begin container

ID_D=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ID_C=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ID_P=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SUB_D="$CG/docker-$ID_D.scope"
SUB_C="$CG/cri-containerd-$ID_C.scope"
SUB_P="$CG/libpod-$ID_P.scope"

new_ns frC$$
mkdir "$SUB_D"
start_recorder
mkdir "$SUB_C" "$SUB_P"
sleep 1.1 # past the recorder's once-a-second limit on walking the cgroup tree again

# The server stays in the test cgroup itself: no container.
bg_ns frC$$ python3 "$PEER" --comm srv-ct --pidfile "$T/srv.pid" --ready "$T/srv.ready" \
	tcp-server 127.0.0.1 7301 --accepts 3 > "$T/srv.out"
wait_file "$T/srv.ready"
# in_sub SUBCGROUP COMM: a short TCP client, in that cgroup, in the test namespace.
in_sub() {
	bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$1" ip netns exec frC$$ \
		python3 "$PEER" --comm "$2" --pidfile "$T/$2.pid" tcp-client 127.0.0.1 7301 1000 > /dev/null
}
in_sub "$SUB_D" cli-docker
in_sub "$SUB_C" cli-containerd
in_sub "$SUB_P" cli-podman
wait "$LAST_BG"
check "server read all three clients" "1000 1000 1000" "$(cat "$T/srv.out" | tr '\n' ' ' | sed 's/ $//')"
sleep 0.5
stop_recorder

SRV=$(cat "$T/srv.pid")
PD=$(cat "$T/cli-docker.pid"); PC=$(cat "$T/cli-containerd.pid"); PP=$(cat "$T/cli-podman.pid")
check "docker client: container, runtime, no pod" "$ID_D|docker|" \
	"$(q "SELECT container, runtime, pod_uid FROM processes WHERE pid=$PD")"
check "containerd client: container, runtime, no pod" "$ID_C|containerd|" \
	"$(q "SELECT container, runtime, pod_uid FROM processes WHERE pid=$PC")"
check "podman client: container, runtime, no pod" "$ID_P|podman|" \
	"$(q "SELECT container, runtime, pod_uid FROM processes WHERE pid=$PP")"
check "server outside containers: NULLs" "srv-ct|1|1|1" \
	"$(q "SELECT comm, container IS NULL, runtime IS NULL, pod_uid IS NULL FROM processes WHERE pid=$SRV")"

for x in "$ID_D $PD cli-docker" "$ID_C $PC cli-containerd" "$ID_P $PP cli-podman"; do
	set -- $x
	check "flows --container ${1:0:12} ($3): exactly its out flow" "$2,$3,out,127.0.0.1,7301" \
		"$(fq --format csv flows --container "${1:0:12}" |
			tail -n +2 | cut -d, -f5,7,12,15,16)"
	check "flows --container with the full id ($3)" 1 \
		"$(fq --format jsonl flows --container "$1" | wc -l)"
done
check "flows --container: header keeps every column" \
	"id,start_ns,last_ns,end_ns,pid,tid,comm,uid,netns,proto,family,direction,laddr,lport,raddr,rport,rname,bytes_out,bytes_in,packets_out,packets_in,packets_captured,parent_flow_id,end_reason,verdict,rule" \
	"$(fq --format csv flows --container "${ID_D:0:12}" | head -1 | tr -d '\r')"
check "flows --container combines with other filters" 0 \
	"$(fq --format jsonl flows --container "${ID_D:0:12}" --comm srv-ct | wc -l)"
check "flows --container of no container" 0 \
	"$(fq --format jsonl flows --container 000000000000 | wc -l)"
# flowq pcap --container: the packets of the container's flow, as --flow with its id.
FID=$(fq --format jsonl flows --container "${ID_P:0:12}" | jq -r .id)
fq pcap --container "${ID_P:0:12}" -w "$T/ct.pcap" 2> /dev/null
fq pcap --flow "$FID" -w "$T/ct-id.pcap" 2> /dev/null
check "pcap --container: its flow's packets, as --flow gives them" \
	"$(tcpdump -nn -r "$T/ct-id.pcap" 2>/dev/null | wc -l)" "$(tcpdump -nn -r "$T/ct.pcap" 2>/dev/null | wc -l)"
check_range "pcap --container: packets there" 4 100 "$(tcpdump -nn -r "$T/ct.pcap" 2>/dev/null | wc -l)"
fq flows --container xyz > /dev/null 2> "$T/err"
check "flows --container rejects a non-hex id (usage error)" 2 $?
check "report containers: each container's flows under its id and runtime, the server by cgroup" \
	"$ID_C containerd cli-containerd 1|$ID_D docker cli-docker 1|$ID_P podman cli-podman 1|null null srv-ct 3" \
	"$(fq --format json report containers | jq -r 'sort_by(.runtime // "~") | map("\(.container) \(.runtime) \(.comms) \(.flows)") | join("|")')"
check "four process rows, three in containers" "4|3" \
	"$(q "SELECT count(*), count(container) FROM processes WHERE pid IN ($SRV, $PD, $PC, $PP)")"
