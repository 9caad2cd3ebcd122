// The guest's boot scripts. Stage 1 is the initramfs's /init: it loads the
// early modules, mounts the host root read-only over 9p under a tmpfs overlay,
// starts sshd in it and switches to it. Stage 2 runs from busybox init in the
// new root: network, the remaining modules, cgroups, the work disk and the
// taint watcher. Each step prints "isolab-boot: <step> <uptime>" so the host
// can tell where boot time goes.

/** The kernel messages prefix that the guest's scripts write their progress with. */
export const BOOT_MARK = 'isolab-boot:';

/** The line the taint watcher writes to the kernel log when /proc/sys/kernel/tainted changes. */
export const TAINT_MARK = 'isolab-watch: taint changed';

export const STAGE1 = `#!/bin/busybox sh
bb=/bin/busybox
mark() { read -r up rest < /proc/uptime; echo "${BOOT_MARK} $1 $up"; }
fail() { echo "${BOOT_MARK} failed: $1"; $bb poweroff -f; }

$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
mark init
vmdir=
for arg in $($bb cat /proc/cmdline); do
  case "$arg" in isolab.dir=*) vmdir=\${arg#isolab.dir=} ;; esac
done

$bb modprobe -a $($bb cat /etc/isolab/early-modules) || fail "load the early modules"
mark modules
# The work disk's modules load beside the root's setup; switch_root waits for them.
$bb modprobe -a $($bb cat /etc/isolab/disk-modules) &
disk_modules=$!

# 9p needs multidevs=remap: the host root spans several filesystems, and
# without it inode numbers from /proc, /sys and /dev collide in the guest.
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,multidevs=remap,cache=loose,msize=524288 \\
  hostroot /mnt/host || fail "mount the host root over 9p"
$bb mount -t tmpfs -o mode=0755 isolab-overlay /mnt/overlay
$bb mkdir /mnt/overlay/upper /mnt/overlay/work
$bb mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/overlay/upper,workdir=/mnt/overlay/work \\
  isolab-root /newroot || fail "mount the overlay root"
$bb mount -t tmpfs -o mode=0755,nosuid,nodev run /newroot/run
guest=/newroot/run/isolab
$bb mkdir -p $guest/host $guest/overlay
$bb mount --move /mnt/host $guest/host
$bb mount --move /mnt/overlay $guest/overlay
$bb cp -a "$guest/host$vmdir/guest/." $guest/ || fail "copy the guest files from $vmdir"
$bb cp /bin/busybox /etc/isolab/stage2 /etc/isolab/extra-modules $guest/
$bb cp -a /lib/modules $guest/initramfs-modules
printf '::sysinit:/run/isolab/busybox sh /run/isolab/stage2\\n' > /newroot/etc/inittab
mark root
for dir in proc sys dev; do $bb mount --move /$dir /newroot/$dir; done

# sshd starts here, chrooted into the new root, so its start (seconds of CPU
# under TCG) overlaps switch_root and stage 2. Before it: root's home is the
# guest's own, since the host's dotfiles would run at every login, and no DNS
# server is reachable (restrict=on), so an empty resolv.conf fails lookups at once.
$bb mkdir -p /newroot/run/sshd
$bb mount -t tmpfs -o mode=0700 roothome /newroot/root
: > /newroot/etc/resolv.conf
# -r: no re-exec per connection, which saves loading sshd again under TCG (OpenSSH 9.2).
# -D: sshd stays the background job, so its PID is known from the fork on;
# looking it up by name races with the exec of chroot and sshd under TCG.
# A failed start shows in sshd.log, which stage 2 prints.
# ash opens /dev/null for a background job, and devtmpfs has moved to the new root.
$bb mknod /dev/null c 1 3
$bb chroot /newroot /usr/sbin/sshd -D -r -f /run/isolab/sshd_config -E /run/isolab/sshd.log &
echo $! > $guest/sshd.job
wait $disk_modules || fail "load the disk modules"
exec $bb switch_root /newroot /run/isolab/busybox init
`;

export const STAGE2 = `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
bb=/run/isolab/busybox
g=/run/isolab
mark() { read -r up rest < /proc/uptime; echo "${BOOT_MARK} $1 $up"; }
fail() { echo "${BOOT_MARK} failed: $1"; $bb poweroff -f; }
mark stage2
. $g/params

# The initramfs's own module copies load in a private mount namespace that
# sees them at /lib/modules; everyone else sees the full tree there.
$bb mkdir -p "/lib/modules/$ISOLAB_RELEASE"
modprobe_initramfs() {
  $bb unshare -m $bb sh -c "$bb mount --bind $g/initramfs-modules/$ISOLAB_RELEASE /lib/modules/$ISOLAB_RELEASE &&
    $bb modprobe -a $*"
}

# The work disk is mounted in the background and waited for before ready; the
# extra modules follow it and are not waited for.
setup_disk() {
  $bb mkdir -p "$ISOLAB_WORKDIR"
  $bb mount -t ext4 -o discard /dev/vda "$ISOLAB_WORKDIR" || fail "mount the work disk"
  if [ "$ISOLAB_SWAP_MIB" -gt 0 ]; then
    $bb fallocate -l "\${ISOLAB_SWAP_MIB}M" "$ISOLAB_WORKDIR/swapfile"
    $bb chmod 600 "$ISOLAB_WORKDIR/swapfile"
    $bb mkswap "$ISOLAB_WORKDIR/swapfile" > /dev/null || fail "make the swap file"
    $bb swapon "$ISOLAB_WORKDIR/swapfile" || fail "enable the swap file"
  fi
  : > $g/disk-ready
  mark disk
  modprobe_initramfs $($bb cat $g/extra-modules) || echo "${BOOT_MARK} failed: load the extra modules"
  mark extra-modules
}
setup_disk &
disk_job=$!

# sshd was started by stage 1; the host connects once eth0 is up.
$bb mkdir -p /run/lock /dev/pts /dev/shm
echo "127.0.1.1 $ISOLAB_HOSTNAME" >> /etc/hosts
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$bb mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
$bb mount -t tmpfs -o mode=1777 tmp /tmp
$bb hostname "$ISOLAB_HOSTNAME"
$bb ip link set lo up
$bb ip link set eth0 up
$bb ip addr add 10.0.2.15/24 dev eth0
$bb ip route add default via 10.0.2.2
# The host connects after this mark, so it waits until sshd listens on port 22
# (0016 in /proc/net/tcp, state 0A) or has exited.
sshd_pid=$($bb cat $g/sshd.job)
until $bb grep -q ':0016 00000000:0000 0A' /proc/net/tcp; do
  if ! $bb kill -0 "$sshd_pid" 2> /dev/null; then
    $bb sed 's/^/${BOOT_MARK} sshd.log: /' $g/sshd.log
    fail "start sshd"
  fi
  $bb usleep 20000
done
mark sshd

$bb mount --bind "$ISOLAB_MODULES" "/lib/modules/$ISOLAB_RELEASE"
$bb cp "$ISOLAB_CONFIG" "/boot/config-$ISOLAB_RELEASE"
echo 1 > /proc/sys/kernel/sysrq
if [ "$ISOLAB_CGROUP" = v1 ]; then
  $bb mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup /sys/fs/cgroup
  # A controller the kernel has no v1 support for (6.12's memory) fails to mount and stays on v2.
  while read -r name hierarchy count enabled; do
    case "$name" in '#'*) continue ;; esac
    [ "$enabled" = 1 ] || continue
    $bb mkdir -p /sys/fs/cgroup/$name
    $bb mount -t cgroup -o $name cgroup /sys/fs/cgroup/$name 2>/dev/null || $bb rmdir /sys/fs/cgroup/$name
  done < /proc/cgroups
  $bb mkdir -p /sys/fs/cgroup/unified
  $bb mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
else
  $bb mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
mark cgroup

watch_taint() {
  read -r base < /proc/sys/kernel/tainted
  while $bb sleep 1; do
    read -r now < /proc/sys/kernel/tainted
    if [ "$now" != "$base" ]; then
      echo "<2>${TAINT_MARK} from $base to $now" > /dev/kmsg
      base=$now
    fi
  done
}
while [ ! -e $g/disk-ready ] && kill -0 $disk_job 2>/dev/null; do $bb usleep 20000; done
[ -e $g/disk-ready ] || fail "set up the work disk"
watch_taint &
mark ready
: > $g/ready
`;

/** A stage 1 that powers the guest off at once: the floor for boot benchmarks and the KVM probe. */
export const POWEROFF_INIT = `#!/bin/busybox sh
echo "${BOOT_MARK} poweroff"
/bin/busybox poweroff -f
`;
