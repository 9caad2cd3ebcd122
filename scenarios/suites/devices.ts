// Device access: root in a container with CAP_MKNOD may make device nodes
// but not use them, except the few that /dev needs (runc's default rules).
// The probe makes a node of the guest's work disk in its own /dev and reads
// it, then reads a node of the same disk that the harness bind-mounted. The
// rules come from the v1 devices hierarchy or, on cgroup v2, from the BPF
// device filter. Control: the same container with device access left
// unrestricted reads the disk both ways.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildSpec, bundleDir, lastJsonLine, runForOutput, writeSpec } from '../framework/bundle.js';
import { atMost } from '../framework/checks.js';
import { skippedPhase } from '../framework/phase.js';
import type {
  CheckResult, Phase, PhaseResult, Scenario, ScenarioContext,
} from '../framework/types.js';
import { scenarios } from './index.js';

/** The probe's own node of the disk, in the container's /dev tmpfs. */
const MADE_NODE = '/dev/isolab-disk';
/** The mount point of the harness's node of the disk in the container. */
const BIND_DESTINATION = '/mnt';
/** Bound on the probe container's run, in ms. */
const RUN_TIMEOUT_MS = 30_000;
/** The probe needs CAP_MKNOD to make a node; the default spec drops it. */
const PROBE_CAPS = ['CAP_MKNOD'];

/** errno values the probe reports, 0 for success. */
interface ProbeResult { mknod: number; read_made: number; read_bound: number }

/** Returns the block device (major:minor) of the file system that holds `dir`, from mountinfo. */
async function diskOf(dir: string): Promise<{ major: number; minor: number; mountPoint: string }> {
  const lines = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean);
  let best: { major: number; minor: number; mountPoint: string } | undefined;
  for (const line of lines) {
    const fields = line.split(' ');
    const mountPoint = fields[4];
    const prefix = mountPoint === '/' ? '/' : `${mountPoint}/`;
    const inside = dir === mountPoint || dir.startsWith(prefix);
    if (!inside || (best && best.mountPoint.length >= mountPoint.length)) continue;
    const [major, minor] = fields[2].split(':').map(Number);
    best = { major, minor, mountPoint };
  }
  if (!best) throw new Error(`could not find the mount of ${dir} in /proc/self/mountinfo`);
  return best;
}

/** Reads 512 bytes of `node` in the guest; returns the errno, 0 on success. */
async function readInGuest(node: string): Promise<number> {
  try {
    const handle = await fs.open(node, 'r');
    try {
      await handle.read(Buffer.alloc(512), 0, 512, 0);
    } finally {
      await handle.close();
    }
    return 0;
  } catch (err) {
    return Math.abs((err as NodeJS.ErrnoException).errno ?? 1);
  }
}

/** Runs devprobe in a container with the default device rules, or unrestricted in the control. */
async function runProbe(
  ctx: ScenarioContext,
  phase: Phase,
  disk: { major: number; minor: number },
  nodeDir: string,
): Promise<ProbeResult | undefined> {
  const id = `${ctx.prefix}-devprobe`;
  const spec = buildSpec({
    rootfs: ctx.rootfs,
    args: [
      'devprobe', MADE_NODE, String(disk.major), String(disk.minor), `${BIND_DESTINATION}/disk`,
    ],
    cgroupsPath: `${ctx.capParent}/${id}`,
    extraCaps: PROBE_CAPS,
    writableBinds: { [BIND_DESTINATION]: nodeDir },
  });
  const dir = await writeSpec(bundleDir(ctx, id), spec);
  const unrestrictedDevices = phase === 'control';
  const output = await runForOutput(ctx, id, dir, { runTimeoutMs: RUN_TIMEOUT_MS, unrestrictedDevices });
  ctx.log(`devprobe (${phase === 'control' ? 'unrestricted' : 'default rules'}): ${output.trim()}`);
  return lastJsonLine<ProbeResult>(output);
}

async function run(ctx: ScenarioContext, phase: Phase): Promise<PhaseResult> {
  const origin = performance.now();
  const disk = await diskOf(ctx.workDir);
  const nodeDir = path.join(ctx.workDir, 'devices');
  await fs.rm(nodeDir, { recursive: true, force: true });
  await fs.mkdir(nodeDir, { recursive: true });
  // Node.js has no mknod, so mknod(1) makes the harness's node.
  const node = path.join(nodeDir, 'disk');
  execFileSync('mknod', ['-m', '600', node, 'b', String(disk.major), String(disk.minor)]);

  const guestRead = await readInGuest(node);
  const checks: CheckResult[] = [];
  const offenderChecks: CheckResult[] = [];
  let probe: ProbeResult | undefined;
  if (phase === 'baseline') {
    checks.push(atMost('the guest reads its work disk outside any container (errno)',
      guestRead, 0));
  } else {
    probe = await runProbe(ctx, phase, disk, nodeDir);
    if (!probe) throw new Error('devprobe printed no report; its output is in the log above');
    const breach = (errno: number) => (errno === 0 ? 1 : 0);
    checks.push(
      atMost('container root cannot read the guest disk through a node it made',
        breach(probe.read_made), 0),
      atMost('container root cannot read the guest disk through a bind-mounted node',
        breach(probe.read_bound), 0),
    );
    if (phase === 'attack') {
      offenderChecks.push(
        atMost('the probe makes its node, as the rules allow mknod (errno)', probe.mknod, 0),
      );
    }
  }
  await fs.rm(nodeDir, { recursive: true, force: true });
  return {
    scenario: 'devices',
    phase,
    checks,
    offenderChecks,
    metrics: {
      MADE_NODE, BIND_DESTINATION, RUN_TIMEOUT_MS,
      diskMajor: disk.major,
      diskMinor: disk.minor,
      diskMountPoint: disk.mountPoint,
      guestReadErrno: guestRead,
      probeMknodErrno: probe?.mknod ?? null,
      probeReadMadeErrno: probe?.read_made ?? null,
      probeReadBoundErrno: probe?.read_bound ?? null,
      cgroupVersion: ctx.facts.cgroupVersion,
    },
    samples: {},
    wallMs: Math.round(performance.now() - origin),
  };
}

export const devices: Scenario = {
  name: 'devices',
  title: 'Container root may make device nodes but not read the guest disk',
  run: async (ctx, phase) => {
    const disk = await diskOf(ctx.workDir);
    if (disk.major === 0) {
      const reason = `the work directory ${ctx.workDir} is not on a block device (${disk.mountPoint})`;
      return skippedPhase('devices', phase, reason);
    }
    return run(ctx, phase);
  },
};

scenarios.push(devices);
