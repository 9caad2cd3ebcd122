// Teardown on SIGINT and SIGTERM: every VM this process owns is destroyed
// before the process ends.

interface Cleanup {
  /** Tears down in full: stops QEMU, removes disks and directories. */
  run: () => Promise<unknown>;
  /** Kills what must not outlive this process, synchronously, when it exits anyway. */
  onExit: () => void;
}

const cleanups = new Set<Cleanup>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;
let tearingDown = false;

/** Registers teardown for a VM; returns the function that unregisters it. */
export function registerCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  install();
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Tears down every registered VM; resolves when all have finished or failed. */
export async function runAllCleanups(): Promise<void> {
  await Promise.allSettled([...cleanups].map((cleanup) => cleanup.run()));
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', () => {
    for (const cleanup of cleanups) cleanup.onExit();
  });
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  // A second signal during teardown is ignored: stopping halfway would leave QEMU behind.
  if (tearingDown) return;
  tearingDown = true;
  await runAllCleanups();
  tearingDown = false;

  // Re-raise for the default action (exit with 128+N) only when no other code
  // listens for this signal; otherwise the other listener decides.
  if (process.listenerCount(signal) === 1) {
    for (const name of SIGNALS) process.removeListener(name, onSignal);
    installed = false;
    process.kill(process.pid, signal);
  }
}
