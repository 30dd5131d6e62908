#!/usr/bin/env bash
# Runs the AVX-512 paths on a CPU without AVX-512, in an emulated one: Bochs (Debian's
# package, CPU model corei7_skylake_x, AVX-512F) boots Debian's kernel into an initramfs
# holding static builds of the unit tests and of runner, which then run
#   1. the unit tests of the vector kernels (`avx512` in the name, the direct
#      convolution, weight gradient, pooling and ReLU tests, every path the CPU has),
#      with the avx512 ones that `cargo test` skips here included;
#   2. every golden variant (tests/golden/goldens.toml) with RUNNER_CPU=avx512, each
#      compared by `runner diff` with its committed golden: the same bytes, or a failure.
# The guest's console is written to $AVX512_EMU_DIR/serial.out (default target/avx512-emu);
# it reads "EMU: all done" at the end. Slow, on one host core: on a Zen 3, about 3
# minutes to build, then 28 for the guest to boot, run the unit tests and the goldens
# (the MNIST ones the longest); AVX512_EMU_MINUTES (default 90) bounds it. For a session on an AVX2-only machine after changing AVX-512 code; an
# AVX-512 machine runs these tests natively (`cargo test`), which is the real check.
#
# Needs root and Debian 12's package archive (apt). What it works around, all found the
# hard way: Bochs 2.7's sound mixer crashes (sound: dummy); its debugger stops at the first
# instruction (-rc with `c`); its CPUID reports PKRU with size 0 and a compacted XSAVE size
# that Linux 6.1 rejects, which turns XSAVE (and so AVX-512) off (nopku,
# clearcpuid=pku,ospke,xsaves,xsavec); the tigerlake model hangs after the mount cache,
# the skylake_x one boots.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${AVX512_EMU_DIR:-$repo/target/avx512-emu}
minutes=${AVX512_EMU_MINUTES:-90}
mkdir -p "$work"
say() { echo "--- $*"; }

say "packages: bochs, a BIOS, busybox, isolinux, xorriso"
export DEBIAN_FRONTEND=noninteractive
pkgs="bochs bochsbios vgabios bochs-term busybox-static isolinux syslinux-common xorriso cpio"
# shellcheck disable=SC2086
dpkg -s $pkgs >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $pkgs >/dev/null; }

say "Debian's kernel"
if [ ! -f "$work/vmlinuz" ]; then
  (cd "$work" && rm -rf kernel && mkdir kernel && cd kernel &&
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}') &&
    apt-get download "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./*.deb x && cp x/boot/vmlinuz-* ../vmlinuz)
fi

say "static builds of the unit tests and runner (no target-cpu=native: the guest is a Skylake-X)"
target=$work/cargo-target
CARGO_TARGET_DIR=$target RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target x86_64-unknown-linux-gnu --bin runner
libtests=$(CARGO_TARGET_DIR=$target RUSTFLAGS="-C target-feature=+crt-static" \
  cargo test --release --target x86_64-unknown-linux-gnu --lib --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])' | tail -1)

say "initramfs: busybox, the binaries, experiments, data, goldens, and the script to run"
root=$work/root
# The repository's files at the path they have here: tests find them by the build's
# CARGO_MANIFEST_DIR.
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,bins} "$root$repo/tests"
cp /bin/busybox "$root/bin/"
strip -o "$root/bins/libtests" "$libtests"
strip -o "$root/bins/runner" "$target/x86_64-unknown-linux-gnu/release/runner"
cp -r experiments data "$root$repo/"
cp -r tests/golden "$root$repo/tests/"
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "EMU: flags: $(grep -o -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
sh /run.sh
# The console's last lines are still on their way out: poweroff -f would cut them.
sleep 5
poweroff -f
EOF
chmod +x "$root/init"
python3 - "$root/run.sh" "$repo" <<'EOF'
import shlex, sys, tomllib
goldens = tomllib.load(open("tests/golden/goldens.toml", "rb"))["golden"]
first = ["mnist_cnn", "xor", "diamond", "mnist_cnn_bn"]  # the conv, pool and GEMM paths first
goldens.sort(key=lambda g: first.index(g["name"]) if g["name"] in first else len(first))
lines = ["cd " + shlex.quote(sys.argv[2]), "export RUNNER_CPU=avx512", 'echo "EMU: unit tests"',
         "/bins/libtests --include-ignored --test-threads=1 avx512 direct_conv weight_grad pool relu 2>&1"
         " | grep -E '^test |^test result|panicked|assert'"]
for g in goldens:
    sets = " ".join("--set " + shlex.quote(s) for s in g.get("set", []))
    name = g["name"]
    lines.append(
        f'd=$(/bins/runner run {g["spec"]} --quiet --results /tmp/r {sets} 2>/tmp/err | tail -1); '
        f'if [ -d "$d" ]; then /bins/runner diff "$d" tests/golden/{name} >/tmp/diff 2>&1; '
        f'echo "EMU: golden {name}: runner diff exit $?"; grep -v "^identical" /tmp/diff | tail -5; '
        f'else echo "EMU: golden {name}: the run failed"; tail -5 /tmp/err; fi')
lines.append('echo "EMU: all done"')
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
(cd "$root" && mknod -m 600 dev/console c 5 1 && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.img")

say "boot CD"
iso=$work/iso
rm -rf "$iso" && mkdir -p "$iso/isolinux"
cp "$work/vmlinuz" "$work/initrd.img" "$iso/"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
cat > "$iso/isolinux/isolinux.cfg" <<'EOF'
default emu
prompt 0
timeout 0
label emu
  kernel /vmlinuz
  append initrd=/initrd.img console=ttyS0,115200 mitigations=off nokaslr nopku clearcpuid=pku,ospke,xsaves,xsavec,tsc_deadline_timer,arat noxsaves idle=poll
EOF
xorriso -as mkisofs -quiet -o "$work/test.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table "$iso"

cat > "$work/bochsrc" <<EOF
megs: 1024
cpu: model=corei7_skylake_x, count=1, ips=400000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/test.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$work/serial.out
display_library: term
log: $work/bochs.log
clock: sync=none, time0=local
panic: action=fatal
error: action=report
info: action=ignore
speaker: enabled=0
sound: driver=dummy
EOF
printf 'c\nquit\n' > "$work/debugger"

say "booting (the console goes to $work/serial.out; at most $minutes minutes)"
rm -f "$work/serial.out"
TERM=xterm timeout "$((minutes * 60))" script -qfc "bochs -q -f $work/bochsrc -rc $work/debugger" /dev/null \
  > "$work/bochs.stdout" 2>&1 &
emulator=$!
# The term display draws the guest's screen into a pty of its own, which nothing reads:
# drained here, or Bochs blocks (the guest stops) once that pty's buffer is full.
pty=
for _ in $(seq 120); do
  pty=$(strings "$work/bochs.stdout" 2>/dev/null | sed -n 's/.*connected to screen "\(.*\)".*/\1/p' | head -1 || true)
  [ -n "$pty" ] && break
  sleep 1
done
[ -n "$pty" ] && { timeout "$((minutes * 60))" cat "$pty" >/dev/null 2>&1 & }
# Bochs exits when the guest powers off, but not when the kernel panics: watch the console.
while kill -0 "$emulator" 2>/dev/null; do
  if grep -q -E "EMU: all done|Kernel panic" "$work/serial.out" 2>/dev/null; then
    sleep 2; pkill -f "bochs -q -f $work/bochsrc" 2>/dev/null || true; break
  fi
  sleep 10
done
wait "$emulator" 2>/dev/null || true
grep -E '^EMU|^test |^test result|panicked|runner diff|failed|Kernel panic' "$work/serial.out" || true
if ! grep -q "EMU: all done" "$work/serial.out"; then
  echo "the guest did not finish (see $work/serial.out)"; exit 1
fi
if grep -E 'FAILED|panicked|the run failed|runner diff exit [^0]' "$work/serial.out" >/dev/null; then
  echo "AVX-512 (emulated): FAILURES above"; exit 1
fi
echo "AVX-512 (emulated): every test passed and every golden is the same bytes"
