// Moving processes between cgroups, for controls in which two containers
// share one cgroup. The engine rejects a second container in a cgroup that
// already has processes, so a control creates the neighbour in its own
// cgroup and moves its processes over afterwards.
import { openCgroup } from '../../engine/cgroup/index.js';
import { sleep } from './poll.js';

/**
 * Moves every process of the cgroup at `from` into the cgroup at `to` and
 * returns how many it moved. It repeats until `from` is empty, because a
 * process may fork while its parent is being moved, or throws after
 * `timeoutMs`. A moved process takes its pids charge and its later CPU
 * time along. Memory it already charged stays with `from`, on v2 always and
 * on v1 unless memory.move_charge_at_immigrate is set.
 */
export async function moveProcesses(from: string, to: string, timeoutMs = 5000): Promise<number> {
  const source = await openCgroup(from);
  const target = await openCgroup(to);
  const deadline = performance.now() + timeoutMs;
  let moved = 0;
  for (;;) {
    const pids = await source.pids();
    if (pids.length === 0) return moved;
    if (performance.now() > deadline) {
      throw new Error(`could not empty cgroup ${from} into ${to} within ${timeoutMs} ms: `
        + `${pids.length} processes are left`);
    }
    for (const pid of pids) {
      // A process that exited in the meantime cannot be moved, and need not be.
      await target.addProcess(pid).then(() => moved++, () => undefined);
    }
    await sleep(10);
  }
}
