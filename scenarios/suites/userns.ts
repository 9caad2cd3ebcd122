// User-namespace root: uid 0 in a container with a user namespace (container
// ids 0-65535 mapped to host ids 100000-165535) has capabilities only over
// what its namespace owns. It cannot write a file of an unmapped uid on a
// read-write bind mount, change a host-wide sysctl through a writable
// /proc/sys, or set the hostname of the guest's UTS namespace that it shares.
// Control: the same container without a user namespace does all three.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildSpec, bundleDir, lastJsonLine, runForOutput, writeSpec } from '../framework/bundle.js';
import { atLeast, atMost } from '../framework/checks.js';
import { skippedPhase } from '../framework/phase.js';
import { pollUntilSettled } from '../framework/poll.js';
import { USERNS_HOST_ID, USERNS_SIZE } from '../../engine/spec/generate.js';
import type { NamespaceType } from '../../engine/spec/oci.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext, Series,
} from '../framework/types.js';
import { scenarios } from './index.js';

/** Owner of the foreign file: a host uid outside the container's mapping. */
const FOREIGN_UID = 54321;
/**
 * A sysctl that is global, not per namespace (fs/locks.c), and harmless to
 * change for a moment: how long the kernel waits for a lease holder.
 */
const SYSCTL = 'fs/lease-break-time';
const SYSCTL_NAME = SYSCTL.replace('/', '.');
/** The hostname the probe tries to set in the guest's UTS namespace. */
const PROBE_HOSTNAME = 'isolab-userns-probe';
/**
 * Mountpoint of the data directory: one the busybox rootfs already has,
 * because root in a user namespace cannot create a mountpoint in a rootfs
 * owned by the host's root.
 */
const BIND_DESTINATION = '/tmp';
/** Bound on the probe container's run, in ms. */
const RUN_TIMEOUT_MS = 30_000;
/** Capabilities the probe needs without a user namespace: the control must be able to succeed. */
const PROBE_CAPS = ['CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SYS_ADMIN'];
/** Every namespace of the default spec except uts, so the guest's hostname is in reach. */
const NAMESPACES: NamespaceType[] = ['pid', 'network', 'ipc', 'mount', 'cgroup'];

/** The guest's objects the probe aims at. */
interface GuestState { foreign: string; foreignUid: number; sysctl: string; hostname: string }

/** errno values the probe reports, 0 for success. */
interface ProbeResult { own_file: number; foreign_file: number; sysctl: number; hostname: number }

async function readGuest(foreignFile: string): Promise<GuestState> {
  const read = async (): Promise<GuestState> => ({
    foreign: await fs.readFile(foreignFile, 'utf8'),
    foreignUid: (await fs.stat(foreignFile)).uid,
    sysctl: (await fs.readFile(`/proc/sys/${SYSCTL}`, 'utf8')).trim(),
    hostname: (await fs.readFile('/proc/sys/kernel/hostname', 'utf8')).trim(),
  });
  return (await pollUntilSettled(read, { timeoutMs: 2000, intervalMs: 50 })).value;
}

/** Writes back the sysctl and the hostname if they differ from `original`. */
async function restoreGuest(original: GuestState): Promise<void> {
  const sysctl = (await fs.readFile(`/proc/sys/${SYSCTL}`, 'utf8')).trim();
  if (sysctl !== original.sysctl) await fs.writeFile(`/proc/sys/${SYSCTL}`, original.sysctl);
  const hostname = (await fs.readFile('/proc/sys/kernel/hostname', 'utf8')).trim();
  if (hostname !== original.hostname) {
    await fs.writeFile('/proc/sys/kernel/hostname', original.hostname);
  }
}

/** Makes DATA with a file owned by mapped root and one owned by FOREIGN_UID. */
async function prepareData(dataDir: string): Promise<{ own: string; foreign: string }> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  const own = path.join(dataDir, 'own');
  const foreign = path.join(dataDir, 'foreign');
  await fs.writeFile(own, 'own\n', { mode: 0o644 });
  await fs.chown(own, USERNS_HOST_ID, USERNS_HOST_ID);
  await fs.writeFile(foreign, 'foreign\n', { mode: 0o644 });
  await fs.chown(foreign, FOREIGN_UID, FOREIGN_UID);
  return { own, foreign };
}

/** Runs rootprobe in a container with or without a user namespace; returns its report. */
async function runProbe(
  ctx: ScenarioContext,
  userns: boolean,
  dataDir: string,
  value: string,
): Promise<ProbeResult | undefined> {
  const id = `${ctx.prefix}-${userns ? 'userns' : 'root'}`;
  const spec = buildSpec({
    rootfs: ctx.rootfs,
    args: [
      'rootprobe', `${BIND_DESTINATION}/own`, `${BIND_DESTINATION}/foreign`,
      `/proc/sys/${SYSCTL}`, value, PROBE_HOSTNAME,
    ],
    cgroupsPath: `${ctx.capParent}/${id}`,
    namespaces: NAMESPACES,
    extraCaps: PROBE_CAPS,
    writableBinds: { [BIND_DESTINATION]: dataDir },
  });
  // /proc/sys is writable in both arms, so only the user namespace can stop the write.
  spec.linux!.readonlyPaths = spec.linux!.readonlyPaths!.filter((p) => p !== '/proc/sys');
  if (userns) {
    const mapping = [{ containerID: 0, hostID: USERNS_HOST_ID, size: USERNS_SIZE }];
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = mapping;
    spec.linux!.gidMappings = mapping.map((m) => ({ ...m }));
  }
  const dir = await writeSpec(bundleDir(ctx, id), spec);
  const output = await runForOutput(ctx, id, dir, { runTimeoutMs: RUN_TIMEOUT_MS });
  ctx.log(`rootprobe (${userns ? 'user namespace' : 'no user namespace'}): ${output.trim()}`);
  return lastJsonLine<ProbeResult>(output);
}

function guestChecks(before: GuestState, after: GuestState): CheckResult[] {
  const foreignChanged = after.foreign !== before.foreign
    || after.foreignUid !== before.foreignUid;
  return [
    atMost(`container root cannot write a file of uid ${FOREIGN_UID}, outside its mapping`,
      foreignChanged ? 1 : 0, 0),
    atMost(`container root cannot change the host-wide sysctl ${SYSCTL_NAME}`,
      after.sysctl !== before.sysctl ? 1 : 0, 0),
    atMost('container root cannot set the hostname of the guest\'s UTS namespace',
      after.hostname !== before.hostname ? 1 : 0, 0),
  ];
}

/** The guest's objects before the probe, after it and after the harness restored them. */
interface Observation {
  before: GuestState;
  after: GuestState;
  restored: GuestState;
  probe: ProbeResult | undefined;
}

/**
 * Runs the probe (with a user namespace in the attack, without in the
 * control, not at all in the baseline, where the guest's objects are read
 * twice with nothing between) and restores what it changed.
 */
async function observe(ctx: ScenarioContext, phase: Phase, dataDir: string, foreign: string):
  Promise<Observation> {
  const before = await readGuest(foreign);
  const value = String(Number(before.sysctl) + 1);
  let probe: ProbeResult | undefined;
  let after: GuestState;
  try {
    if (phase !== 'baseline') probe = await runProbe(ctx, phase === 'attack', dataDir, value);
    after = await readGuest(foreign);
  } finally {
    // The harness, which was running before the probe, undoes what a control changed.
    await restoreGuest(before);
  }
  const restored = await readGuest(foreign);
  if (restored.sysctl !== before.sysctl || restored.hostname !== before.hostname) {
    throw new Error(`could not restore the guest: ${SYSCTL} is ${restored.sysctl} `
      + `(was ${before.sysctl}), hostname is ${restored.hostname} (was ${before.hostname})`);
  }
  return { before, after, restored, probe };
}

function metricsOf(seen: Observation): PhaseResult['metrics'] {
  const { before, after, restored, probe } = seen;
  return {
    FOREIGN_UID, SYSCTL, PROBE_HOSTNAME, BIND_DESTINATION, RUN_TIMEOUT_MS,
    USERNS_HOST_ID, USERNS_SIZE,
    sysctlBefore: before.sysctl,
    sysctlAfter: after.sysctl,
    sysctlRestored: restored.sysctl,
    hostnameBefore: before.hostname,
    hostnameAfter: after.hostname,
    hostnameRestored: restored.hostname,
    foreignFileChanged: after.foreign !== before.foreign,
    probeOwnFileErrno: probe?.own_file ?? null,
    probeForeignFileErrno: probe?.foreign_file ?? null,
    probeSysctlErrno: probe?.sysctl ?? null,
    probeHostnameErrno: probe?.hostname ?? null,
  };
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const dataDir = path.join(ctx.workDir, 'data');
  const files = await prepareData(dataDir);
  const changes: Series = [[Math.round(performance.now() - origin), 0]];
  const seen = await observe(ctx, phase, dataDir, files.foreign);
  const checks = guestChecks(seen.before, seen.after);
  changes.push([Math.round(performance.now() - origin), checks.filter((c) => !c.pass).length]);

  const offenderChecks: CheckResult[] = [];
  if (phase === 'attack') {
    const ownWritten = (await fs.readFile(files.own, 'utf8')).includes('rootprobe') ? 1 : 0;
    const deniedWrites = [seen.probe?.foreign_file, seen.probe?.sysctl, seen.probe?.hostname]
      .filter((errno) => (errno ?? 0) > 0).length;
    offenderChecks.push(
      atLeast('container root writes its own file on the read-write bind mount', ownWritten, 1),
      atLeast('probe reports an errno for each of the three writes', deniedWrites, 3),
    );
  }
  return {
    scenario: 'userns',
    phase,
    checks,
    offenderChecks,
    metrics: metricsOf(seen),
    samples: { guestObjectsChanged: changes },
    wallMs: Math.round(performance.now() - origin),
  };
}

async function unsupportedReason(): Promise<string | undefined> {
  const max = await fs.readFile('/proc/sys/user/max_user_namespaces', 'utf8').catch(() => '0');
  if (Number(max) === 0) return 'user namespaces are disabled (user.max_user_namespaces is 0)';
  const sysctl = await fs.access(`/proc/sys/${SYSCTL}`).then(() => true, () => false);
  if (!sysctl) {
    return `the kernel has no ${SYSCTL_NAME} sysctl (CONFIG_FILE_LOCKING is off)`;
  }
  return undefined;
}

export const userns: Scenario = {
  name: 'userns',
  title: 'User-namespace root cannot write unmapped files, global sysctls or the guest hostname',
  run: async (ctx, phase) => {
    const reason = await unsupportedReason();
    if (!reason) return run(ctx, phase);
    return skippedPhase('userns', phase, reason);
  },
};

scenarios.push(userns);
