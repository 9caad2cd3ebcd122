// The resident agent on a target machine: JSON lines on stdin and stdout.
// The host starts it once per machine (over SSH for a VM) and sends
// requests; starting node and loading the engine for every step would cost
// seconds each under TCG.
//   request:  {"id": 1, "method": "run", "params": {"scenario": "forkbomb", "phase": "attack"}}
//   response: {"id": 1, "result": {...}}  or  {"id": 1, "error": "message"}
//   log line: {"log": "text"}
import readline from 'node:readline';
import { ScenarioRunner } from '../framework/runner.js';
import type { Phase } from '../framework/types.js';
import '../suites/all.js';

interface Request { id: number; method: string; params?: Record<string, unknown> }

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Runs the agent until stdin closes; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [stateRoot = '/run/isolab-scenarios', workDir = '/tmp/isolab-scenarios', ...flags] = argv;
  const runner = new ScenarioRunner({
    stateRoot,
    workDir,
    harnessPids: flags.includes('--protect') ? await ancestry(process.pid) : [],
  });
  const log = (text: string) => send({ log: text });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const request = JSON.parse(line) as Request;
    try {
      send({ id: request.id, result: await handle(runner, request, log) });
    } catch (err) {
      send({ id: request.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  await runner.cleanup();
  return 0;
}

/** Returns pid and its ancestors up to, not including, PID 1: the agent, its shell and sshd. */
async function ancestry(pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  const chain: number[] = [];
  for (let current = pid; current > 1 && chain.length < 16;) {
    chain.push(current);
    const stat = await readFile(`/proc/${current}/stat`, 'utf8').catch(() => '');
    current = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
  }
  return chain;
}

async function handle(runner: ScenarioRunner, request: Request, log: (text: string) => void): Promise<unknown> {
  const params = request.params ?? {};
  switch (request.method) {
    case 'ping':
      return { pid: process.pid };
    case 'prepare':
      return runner.prepare();
    case 'run':
      return runner.run(String(params.scenario), params.phase as Phase, log);
    case 'cleanup':
      await runner.cleanup();
      return {};
    default:
      throw new Error(`unknown method \`${request.method}\``);
  }
}

if (process.argv[1]?.endsWith('agent/main.js')) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
