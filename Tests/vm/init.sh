#!/bin/busybox sh
# PID 1 of the test guest (Tests/vm/run.sh builds it into the initramfs). Mounts the host's
# file system read-only over 9p, gives it fresh /proc, /sys, /dev and tmpfs scratch space,
# runs the command script run.sh wrote (chrooted into the host's files) and reports its exit
# status through the isa-debug-exit port, which becomes qemu's own exit status.
/bin/busybox --install -s /bin
export PATH=/bin
echo "sluice-vm: init"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

report() {
  echo "sluice-vm: status $1"
  # One byte to port 0xf4; qemu then exits with (byte << 1) | 1.
  printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
}

for m in $(cat /modules/order); do
  insmod "/modules/$m" || { echo "sluice-vm: insmod $m failed"; report 125; }
done
# msize: the largest 9p message; reads of big test binaries go much faster with it large.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host ||
  { echo "sluice-vm: mounting the host's files over 9p failed"; report 125; }

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
# The netns tooling (ip netns) keeps its mounts under /run/netns and /var/run/netns.
mkdir -p /host/run/netns /host/run/lock

# The kernel asks this program for every module it wants (IPVS schedulers, nft expressions,
# ipset types, veth, dummy). It runs in the initramfs's root, so it steps into the host's
# files and loads from the unpacked package, which matches this kernel (the host's own
# /lib/modules does not).
cat >/bin/sluice-modprobe <<EOF
#!/bin/busybox sh
exec /bin/chroot /host /sbin/modprobe -d "$sluice_modroot" "\$@"
EOF
chmod +x /bin/sluice-modprobe
echo /bin/sluice-modprobe >/proc/sys/kernel/modprobe

for m in $(echo "$sluice_modules" | tr ',' ' '); do
  chroot /host /sbin/modprobe -d "$sluice_modroot" "$m" || { echo "sluice-vm: modprobe $m failed"; report 125; }
done
ip link set lo up

read -r up _ </proc/uptime
echo "sluice-vm: booted in $up s"
chroot /host /bin/sh "$sluice_run"
report $?
