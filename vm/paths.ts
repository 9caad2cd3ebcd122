// Where vm/ keeps its files on the host.

/** Kernels, initramfs images and the acceleration probe's result; survives reboots. */
export const DEFAULT_CACHE_DIR = process.env.ISOLAB_CACHE_DIR ?? '/var/cache/isolab';

/**
 * One directory per VM (pidfile, serial log, work disk, keys), so that `isolab vm gc`
 * finds VMs whose harness died.
 */
export const DEFAULT_RUN_DIR = process.env.ISOLAB_VM_RUN_DIR ?? '/run/isolab-vm';
