// Device access on cgroup v1: a container may open only the devices the
// engine puts in its /dev, as runc's default rules allow. Without these rules
// a process with CAP_MKNOD could make and open any host device node.

/** runc's default device rules: mknod of any node, and use of /dev's own devices. */
export const DEFAULT_DEVICE_RULES = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm', // null
  'c 1:5 rwm', // zero
  'c 1:7 rwm', // full
  'c 1:8 rwm', // random
  'c 1:9 rwm', // urandom
  'c 5:0 rwm', // tty
  'c 5:2 rwm', // ptmx
  'c 136:* rwm', // pts
];

/** Writes a deny-all rule and then the default allow rules into a v1 devices cgroup directory. */
export async function applyDefaultDevicesV1(
  dir: string,
  write: (file: string, value: string) => Promise<void>,
): Promise<void> {
  await write(`${dir}/devices.deny`, 'a');
  for (const rule of DEFAULT_DEVICE_RULES) await write(`${dir}/devices.allow`, rule);
}
