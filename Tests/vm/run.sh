#!/usr/bin/env bash
# Runs one command inside a Debian kernel booted under qemu and returns its exit status.
#
#   Tests/vm/run.sh [--modules ip_vs,dummy] [--timeout SECONDS] [--] COMMAND [ARG...]
#
# Why: this project's machines run a kernel without IPVS, so the IPVS backend is tested in a
# Debian kernel that has it. The guest sees the host's whole file system read-only (9p) and
# runs COMMAND chrooted into it, in the current directory, so binaries built on the host run
# there unchanged. /tmp, /run and /dev/shm are fresh tmpfs in the guest; nothing the command
# writes reaches the host. The guest has no network card: tests make their own namespaces.
#
# The kernel package is whatever linux-image-amd64 depends on today (resolved through
# apt-cache, never a fixed version), fetched with apt-get download and unpacked, never
# installed. It and the initramfs are cached in .vm-cache/ (git-ignored), so a second run
# boots at once. Prints "vm: booted in N s" (kernel start to COMMAND start, guest clock).
#
# Exit status: COMMAND's; 0 with a "skipped" line when qemu cannot start at all (not
# installed, or it fails before the guest prints anything); 125 when the guest could not
# be set up (a module or the 9p mount failed); 124 on timeout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SLUICE_VM_CACHE:-$repo/.vm-cache}
modules=""
timeout_s=${SLUICE_VM_TIMEOUT:-900}
memory=${SLUICE_VM_MEMORY:-2048}

while (($#)); do
  case "$1" in
    --modules) modules=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "vm: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if (($# == 0)); then
  echo "usage: $0 [--modules m1,m2] [--timeout s] [--] COMMAND [ARG...]" >&2
  exit 2
fi

qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ] || ! "$qemu" -version >/dev/null 2>&1; then
  echo "vm: skipped: qemu-system-x86_64 cannot start (install qemu-system-x86: make setup)"
  exit 0
fi
for tool in busybox apt-get dpkg-deb depmod modprobe; do
  if ! command -v "$tool" >/dev/null; then
    echo "vm: $tool is missing (make setup installs it)" >&2
    exit 125
  fi
done

# --- the kernel -------------------------------------------------------------------------
mkdir -p "$cache"
# Which kernel linux-image-amd64 means today. apt-cache rebuilds its whole cache on every call
# on machines that keep none (5 s on a loaded 2-core machine), so the answer is kept a day.
resolved=$cache/kernel-package
if [ -n "${SLUICE_VM_REFRESH:-}" ] || [ -z "$(find "$resolved" -mtime -1 2>/dev/null)" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  if [ -z "$pkg" ]; then
    echo "vm: apt-cache knows no linux-image-amd64 dependency; run apt-get update" >&2
    exit 125
  fi
  echo "$pkg" >"$resolved"
fi
pkg=$(cat "$resolved")
kdir=$cache/$pkg
# One kernel at a time: a run must not see another run's half-unpacked kernel.
exec 9>"$cache/.lock"
flock 9
if [ ! -e "$kdir/.ready" ]; then
  for old in "$cache"/linux-image-*; do [ -e "$old" ] && rm -rf "$old"; done
  echo "vm: fetching $pkg"
  mkdir -p "$kdir/deb"
  (cd "$kdir/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
    echo "vm: apt-get download $pkg failed" >&2; rm -rf "$kdir"; exit 125; }
  dpkg-deb -x "$kdir"/deb/*.deb "$kdir/root"
  rm -rf "$kdir/deb"
  touch "$kdir/.ready"
fi
kver=$(ls "$kdir/root/lib/modules")
vmlinux=$kdir/vmlinux
if [ ! -e "$vmlinux" ]; then
  # qemu boots the uncompressed ELF kernel straight into 64-bit code (PVH): under software
  # emulation the bzImage's real-mode setup and XZ decompressor cost about 15 s of every boot.
  python3 - "$kdir/root/boot/vmlinuz-$kver" "$vmlinux.tmp" <<'PY'
import lzma, sys
image = open(sys.argv[1], "rb").read()
start = image.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit(f"vm: no XZ payload in {sys.argv[1]}; the kernel is compressed some other way")
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(image[start:]))
PY
  mv "$vmlinux.tmp" "$vmlinux"
fi
if [ ! -e "$kdir/root/lib/modules/$kver/modules.dep" ]; then
  # Debian ships no modules.dep in the package: the postinst makes it.
  depmod -b "$kdir/root" "$kver"
fi

# --- the initramfs ----------------------------------------------------------------------
# Only what mounts the host: virtio, 9p and busybox. Every other module is loaded from the
# unpacked package over 9p, by the guest kernel's own modprobe requests (see init).
initrd=$kdir/initramfs.cpio.gz
if [ ! -e "$initrd" ] || [ "$initrd" -ot "$here/init.sh" ] || [ "$initrd" -ot "$here/run.sh" ]; then
  staging=$(mktemp -d "$cache/initramfs.XXXXXX")
  mkdir -p "$staging"/{bin,dev,proc,sys,host,modules}
  cp "$(command -v busybox)" "$staging/bin/busybox"
  # busybox-static: the initramfs has no libc. A dynamic busybox would fail to run as init.
  if ! file_out=$(LC_ALL=C readelf -d "$staging/bin/busybox" 2>&1) || grep -q NEEDED <<<"$file_out"; then
    echo "vm: $(command -v busybox) is not static; install busybox-static (make setup)" >&2
    rm -rf "$staging"; exit 125
  fi
  order=()
  while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    name=$(basename "$path")
    [ -e "$staging/modules/$name" ] && continue
    cp "$path" "$staging/modules/$name"
    order+=("$name")
  done < <(modprobe -d "$kdir/root" -S "$kver" --show-depends -a virtio_pci 9pnet_virtio 9p)
  printf '%s\n' "${order[@]}" >"$staging/modules/order"
  cp "$here/init.sh" "$staging/init"
  chmod +x "$staging/init"
  (cd "$staging" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$staging"
fi
flock -u 9

# --- the command ------------------------------------------------------------------------
# The guest reads the command from a script on the host (kernel arguments cannot carry
# arbitrary quoting). It runs in this directory with a small, explicit environment.
script=$(mktemp "$cache/command.XXXXXX")
{
  echo "cd $(printf %q "$PWD") || exit 125"
  # The distribution's tools only: per-user shims (pyenv's python3 is a shell script that
  # walks dozens of files) cost seconds per call over 9p under emulation.
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8"
  for v in $(compgen -v | grep -E '^SLUICE_' || true); do
    echo "export $v=$(printf %q "${!v}")"
  done
  echo "export SLUICE_IN_VM=1"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$script"

append="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off nokaslr sluice_run=$script sluice_modroot=$kdir/root"
[ -n "$modules" ] && append+=" sluice_modules=$modules"

log=$(mktemp "$cache/console.XXXXXX")
trap 'rm -f "$script" "$log"' EXIT
set +e
timeout --foreground "$timeout_s" "$qemu" \
  -accel tcg -cpu max -smp 2 -m "$memory" \
  -display none -nodefaults -no-user-config -no-reboot -serial stdio -monitor none \
  -kernel "$vmlinux" -initrd "$initrd" -append "$append" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null | sed -u 's/\r$//' | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# isa-debug-exit makes qemu exit with (value << 1) | 1, so qemu's own failure (1) looks like
# a guest's 0: the status line init prints tells them apart. No line from init at all, and
# qemu failed: it could not start here, which is the one case that skips.
if [ "$rc" = 124 ]; then
  echo "vm: timed out after ${timeout_s} s" >&2
  exit 124
fi
if ! grep -q '^sluice-vm: init$' "$log"; then
  if [ "$rc" != 0 ]; then
    echo "vm: skipped: qemu could not start the guest (status $rc; its message is above)"
    exit 0
  fi
  echo "vm: the guest kernel stopped before init ran" >&2
  exit 125
fi
status=$(sed -n 's/^sluice-vm: status \([0-9]*\)$/\1/p' "$log" | tail -1)
if [ -z "$status" ] || [ "$rc" != $(((status << 1) | 1)) ]; then
  echo "vm: the guest stopped without reporting a status (qemu status $rc; kernel panic?)" >&2
  exit 125
fi
exit "$status"
