#!/usr/bin/env bash
# The tour: three network namespaces (a client, a node running Sluice's rules, a pods namespace
# with listeners that say which address they were reached on), the manifests in
# Deploy/examples, and real TCP connections. Nothing outside the namespaces is touched; they
# are removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SLUICE:-$(swift build --show-bin-path)/sluice}
id=$$
c=sl-demo-c-$id n=sl-demo-n-$id p=sl-demo-p-$id
work=$(mktemp -d /tmp/sluice-demo.XXXXXX)
cp Deploy/examples/*.yaml "$work"/
flags=(--hostname-override demo-node --cluster-cidr 10.1.0.0/16)

cleanup() {
  ip netns exec $n "$bin" cleanup >/dev/null 2>&1 || true
  for ns in $c $n $p; do
    for pid in $(ip netns pids $ns 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete $ns 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

for ns in $c $n $p; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add dc$id netns $c type veth peer name dn$id netns $n
ip link add dp$id netns $p type veth peer name dq$id netns $n
ip -n $c addr add 10.0.0.2/24 dev dc$id
# A thousand client addresses, for the Maglev part.
python3 -c '
import sys
for i in range(1000): print(f"addr add 10.0.{4 + i // 250}.{1 + i % 250}/32 dev {sys.argv[1]}")' dc$id | ip -n $c -batch -
ip -n $c link set dc$id up
ip -n $c route add 10.96.0.0/12 via 10.0.0.1
ip -n $n addr add 10.0.0.1/24 dev dn$id; ip -n $n link set dn$id up
ip -n $n addr add 10.1.0.1/24 dev dq$id; ip -n $n link set dq$id up
ip -n $n route add 10.0.4.0/22 via 10.0.0.2
ip -n $n route add 10.96.0.0/12 via 10.1.0.254
ip netns exec $n sysctl -qw net.ipv4.ip_forward=1
for a in 2 3 11 12 13 21 $(seq 31 40); do ip -n $p addr add 10.1.0.$a/24 dev dp$id; done
ip -n $p link set dp$id up; ip -n $p route add default via 10.1.0.1
ip netns exec $p python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(1024)
while True:
    c, peer = s.accept(); c.sendall((c.getsockname()[0] + "\n").encode()); c.close()
' &
disown

# probe split VIP N: where N connections land.  probe clients VIP: each client address → endpoint.
probe() {
  ip netns exec $c python3 -c '
import socket, sys, time, collections
mode, vip = sys.argv[1], sys.argv[2]
def ask(src=None):
    s = socket.socket(); s.settimeout(2)
    if src: s.bind((src, 0))
    try:
        s.connect((vip, 80)); return s.makefile().readline().strip()
    except ConnectionRefusedError: return "refused"
    except OSError: return "timeout"
    finally: s.close()
if mode == "split":
    seen = collections.Counter(ask() for _ in range(int(sys.argv[3])))
    print(" ".join(f"{k}={v}" for k, v in sorted(seen.items())))
elif mode == "clients":
    for i in range(1000):
        src = f"10.0.{4 + i // 250}.{1 + i % 250}"
        print(src, ask(src))
elif mode == "refused":
    t = time.monotonic(); r = ask(); print(r, f"{(time.monotonic() - t) * 1000:.1f}")
' "$@"
}
# Wait (up to 5 s) for the listener.
ip netns exec $p python3 -c '
import socket, time
for _ in range(100):
    try:
        socket.create_connection(("10.1.0.2", 8080), timeout=0.2).close(); break
    except OSError: time.sleep(0.05)'

share() {  # share "<counts>" → "v1 N % (…), v2 M %"
  python3 -c '
import sys
counts = dict(kv.split("=") for kv in sys.argv[1].split())
v1 = sum(int(v) for k, v in counts.items() if k in ("10.1.0.11", "10.1.0.12", "10.1.0.13"))
v2 = int(counts.get("10.1.0.21", 0)); other = sum(int(v) for v in counts.values()) - v1 - v2
print(f"bookstore-v1 {100 * v1 / (v1 + v2):.1f} %, bookstore-v2 {100 * v2 / (v1 + v2):.1f} %" + (f" ({other} elsewhere)" if other else ""))' "$1"
}

echo "== sluice $("$bin" version | cut -d' ' -f2) on a node of three namespaces; manifests: Deploy/examples"
ip netns exec $n "$bin" apply --manifests "$work" "${flags[@]}" | sed 's/^/   /'
echo
echo "== 1. L4 canary: bookstore split 90:10 (sluice.dev/traffic-split) — 1,000 new connections"
echo "   configured: bookstore-v1 90 %, bookstore-v2 10 %"
echo "   measured:   $(share "$(probe split 10.96.0.20 1000)")"
echo
echo "== 2. Edit the annotation to 50:50. sluice diff (what apply would change; exit 1 = changes):"
sed -i 's/bookstore-v1=90,bookstore-v2=10/bookstore-v1=50,bookstore-v2=50/' "$work/bookstore.yaml"
set +e
ip netns exec $n "$bin" diff --manifests "$work" "${flags[@]}" > "$work/diff.txt"; status=$?
set -e
sed 's/^/   /' "$work/diff.txt" | head -12
lines=$(wc -l < "$work/diff.txt")
[ "$lines" -gt 12 ] && echo "   ... ($lines lines in all: element changes only, no rule is touched)"
echo "   (exit status $status)"
ip netns exec $n "$bin" apply --manifests "$work" "${flags[@]}" | sed 's/^/   applied: /'
echo "   configured: bookstore-v1 50 %, bookstore-v2 50 %"
echo "   measured:   $(share "$(probe split 10.96.0.20 1000)")"
echo
echo "== 3. Maglev: cart has 10 endpoints; 1,000 client addresses each connect once"
probe clients 10.96.0.30 > "$work/before.txt"
sed -i '/10.1.0.40\]/d' "$work/maglev.yaml"
ip netns exec $n "$bin" apply --manifests "$work" "${flags[@]}" > /dev/null
echo "   endpoint 10.1.0.40 leaves (removed from the EndpointSlice, applied); the same clients connect again"
probe clients 10.96.0.30 > "$work/after.txt"
python3 -c '
import sys
before = dict(l.split() for l in open(sys.argv[1])); after = dict(l.split() for l in open(sys.argv[2]))
on_gone = [c for c, e in before.items() if e == "10.1.0.40"]
others = [c for c, e in before.items() if e != "10.1.0.40"]
moved = [c for c in others if after[c] != before[c]]
print(f"   clients that were on 10.1.0.40: {len(on_gone)}, all moved: {all(after[c] != before[c] for c in on_gone)}")
print(f"   clients on the other 9 endpoints: {len(others)}; moved: {len(moved)} ({100 * len(moved) / max(1, len(others)):.1f} %)")
' "$work/before.txt" "$work/after.txt"
echo
echo "== 4. nothing-behind has no endpoints: rejected at once (no timeout)"
read -r verdict ms < <(probe refused 10.96.0.12)
echo "   connect to 10.96.0.12:80 → $verdict after $ms ms"
echo
echo "== 5. What the kernel holds (nft list table ip sluice, key lines):"
ip netns exec $n nft list table ip sluice > "$work/ruleset.txt"
python3 - "$work/ruleset.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def show(line): print("   " + line.strip())
show(next(l for l in text.splitlines() if l.strip().startswith("ip daddr . meta l4proto . th dport vmap @service-ips")) + "      # the one dispatch lookup")
for vip in ("10.96.0.20", "10.96.0.30", "10.96.0.12"):
    m = re.search(re.escape(vip) + r" \. tcp \. 80 comment [^,}]*", text)
    if m: show(m.group(0))
chain = re.search(r'10\.96\.0\.20 \. tcp \. 80 comment "[^"]*" : goto ([a-z0-9-]+)', text).group(1)
m = re.search(r"chain (" + re.escape(chain) + r") \{[^}]*?(dnat ip to[^\n]*)", text)
if m: show(f"chain {m.group(1)}: {m.group(2)}")
m = re.search(r"10\.96\.0\.20 \. tcp \. 80 \. 0 comment [^,}]*", text)
if m: show(m.group(0) + "      # slot 0 of bookstore")
PY
echo "   ... $(wc -l < "$work/ruleset.txt") lines in all: one dispatch map, a few fixed chains, endpoints as map elements."
echo "   (see them all: ip netns exec <node> nft list ruleset; the layout is explained in Sources/Proxier/Layout.swift)"
echo
echo "== sluice cleanup"
ip netns exec $n "$bin" cleanup | sed 's/^/   /'
