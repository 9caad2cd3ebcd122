// Device access: a container may open only the devices the engine puts in its
// /dev, as runc's default rules allow. Without these rules a process with
// CAP_MKNOD could make and open any host device node. On cgroup v1 they go to
// the devices hierarchy, on cgroup v2 into a BPF program that the native
// helper attaches to the cgroup.
import type { DeviceRuleStep } from '../spec/steps.js';

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

/** Returns the deny-all rule and the default allow rules as steps of the v2 device filter. */
export function defaultDeviceRuleSteps(): DeviceRuleStep[] {
  const denyAll: DeviceRuleStep = {
    directive: 'device_rule', allow: false, type: 'a', major: -1, minor: -1, access: 'rwm',
  };
  return [denyAll, ...DEFAULT_DEVICE_RULES.map((rule): DeviceRuleStep => {
    const [type, numbers, access] = rule.split(' ');
    const [major, minor] = numbers.split(':').map((n) => (n === '*' ? -1 : Number(n)));
    return { directive: 'device_rule', allow: true, type: type as 'b' | 'c', major, minor, access };
  })];
}
