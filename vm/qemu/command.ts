// The QEMU command line of a VM.
import path from 'node:path';

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface QemuCommand {
  dir: string;
  kernelImage: string;
  initrd: string;
  accel: 'kvm' | 'tcg';
  cpus: number;
  memoryMiB: number;
  sshPort: number;
  /** Sets the kernel's console log level to everything instead of warnings and worse. */
  verboseConsole: boolean;
  /** Forks into the background once started, for a VM that outlives its command. */
  daemonize: boolean;
}

/** Returns the kernel command line: serial console, panics exit QEMU, and the VM's directory. */
export function kernelCommandLine(options: QemuCommand): string {
  return [
    'console=ttyS0',
    // The 8250 UART is slow under TCG: with `quiet` the console prints only
    // errors, and oopses and panics raise the level themselves.
    options.verboseConsole ? 'loglevel=7' : 'quiet',
    // panic=-1 reboots at once, and -no-reboot turns the reboot into QEMU's exit.
    'panic=-1',
    // QEMU's `-cpu max` offers RDRAND under TCG: trusting it initializes the
    // RNG early in boot, so sshd does not block on getrandom().
    'random.trust_cpu=on',
    `isolab.dir=${options.dir}`,
  ].join(' ');
}

/** Returns QEMU's arguments: q35, PVH or bzImage kernel, 9p host root, user network, work disk. */
export function qemuArguments(options: QemuCommand): string[] {
  const file = (name: string): string => path.join(options.dir, name);
  const args = [
    '-name', `isolab-${path.basename(options.dir)},process=isolab-qemu`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', 'q35',
    '-accel', options.accel === 'kvm' ? 'kvm' : 'tcg,thread=multi',
    '-cpu', options.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(options.cpus),
    '-m', `${options.memoryMiB}M`,
    '-kernel', options.kernelImage,
    '-initrd', options.initrd,
    '-append', kernelCommandLine(options),
    '-no-reboot',
    '-serial', `file:${file('serial.log')}`,
    '-pidfile', file('qemu.pid'),
    // The host root, read-only; the guest puts a tmpfs overlay over it.
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    // restrict=on cuts the guest off from the host and the outside; only the
    // SSH forward on the host's loopback address reaches it.
    '-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${options.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-drive', `file=${file('work.img')},if=none,id=work,format=raw,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=work',
  ];
  if (options.daemonize) args.push('-daemonize');
  return args;
}
