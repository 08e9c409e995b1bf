#!/usr/bin/env bash
# The demo: a client, a node and a pods namespace; Sluice programs the node from the embedded
# manifests (Deploy/demo/manifests.yaml); real TCP shows where connections land. Everything
# happens in network namespaces this script creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build --show-bin-path)/sluice
manifests=Deploy/demo/manifests.yaml
id=$$
c=sl-demo-c-$id n=sl-demo-n-$id p=sl-demo-p-$id
cleanup() {
  for ns in $c $n $p; do
    for pid in $(ip netns pids $ns 2>/dev/null); do kill -9 $pid 2>/dev/null || true; done
    ip netns delete $ns 2>/dev/null || true
  done
}
trap cleanup EXIT
for ns in $c $n $p; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add dc$id netns $c type veth peer name dn$id netns $n
ip link add dp$id netns $p type veth peer name dq$id netns $n
ip -n $c addr add 10.0.0.2/24 dev dc$id; ip -n $c link set dc$id up
ip -n $c route add 10.96.0.0/12 via 10.0.0.1
ip -n $n addr add 10.0.0.1/24 dev dn$id; ip -n $n link set dn$id up
ip -n $n addr add 10.1.0.1/24 dev dq$id; ip -n $n link set dq$id up
ip -n $n route add 10.96.0.0/12 via 10.1.0.254
ip netns exec $n sysctl -qw net.ipv4.ip_forward=1
for a in 2 3 4 5; do ip -n $p addr add 10.1.0.$a/24 dev dp$id; done
ip -n $p link set dp$id up; ip -n $p route add default via 10.1.0.1
ip netns exec $p python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(128)
while True:
    c, peer = s.accept(); c.sendall(("%s %s\n" % (c.getsockname()[0], peer[0])).encode()); c.close()
' &
disown
sleep 0.5

echo "== sluice $($bin version | cut -d" " -f2): what would change on an empty node"
ip netns exec $n "$bin" diff --manifests $manifests --node-name demo-node --cluster-cidr 10.1.0.0/16 --against empty | head -20 || true
echo "   ..."
echo
echo "== sluice apply"
ip netns exec $n "$bin" apply --manifests $manifests --node-name demo-node --cluster-cidr 10.1.0.0/16
echo
connect() {
  ip netns exec $c python3 -c '
import socket, sys, collections
seen = collections.Counter()
for _ in range(int(sys.argv[3])):
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect((sys.argv[1], int(sys.argv[2]))); seen[s.makefile().readline().split()[0]] += 1
    except ConnectionRefusedError: seen["refused"] += 1
    except OSError: seen["timeout"] += 1
    s.close()
print("   " + ", ".join(f"{k}: {v}" for k, v in sorted(seen.items())))
' "$@"
}
echo "== 100 connections to demo/web (ClusterIP 10.96.0.10:80): endpoint reached"
connect 10.96.0.10 80 100
echo "== 100 connections to demo/web's NodePort 10.0.0.1:30080"
connect 10.0.0.1 30080 100
echo "== 200 connections to demo/canary (slices weighted 9:1)"
connect 10.96.0.11 80 200
echo "== demo/nothing-behind has no endpoints: rejected"
connect 10.96.0.12 80 1
echo
echo "== sluice diff against the live node after apply (exit 0: nothing to change)"
ip netns exec $n "$bin" diff --manifests $manifests --node-name demo-node --cluster-cidr 10.1.0.0/16 && echo "   no changes"
echo
echo "== the ruleset, as nft lists it"
ip netns exec $n nft list table ip sluice | sed -n '1,60p'
echo
echo "== sluice cleanup"
ip netns exec $n "$bin" cleanup
