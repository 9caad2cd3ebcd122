// The `isolab` command.
import { EngineError } from '../engine/errors.js';
import { DEFAULT_ROOT } from '../engine/state.js';
import { configureLog, log } from './log.js';
import { ENGINE_USAGE, runEngineCommand } from './engine-cli.js';

const USAGE = `usage: isolab [--verbose] [--json] COMMAND ...
  engine VERB ...   the container engine (isolab engine --help)
  demo              a container held by its limits on this machine, with its stats
  scenario ...      run isolation scenarios on this machine (isolab scenario --help)`;

/** Splits the global options (--root, --verbose, --json) from the command's own. */
function splitGlobal(argv: string[]): { root: string; verbose: boolean; json: boolean; rest: string[] } {
  const rest: string[] = [];
  let root = DEFAULT_ROOT;
  let verbose = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--root') root = argv[++i] ?? root;
    else if (arg.startsWith('--root=')) root = arg.slice('--root='.length);
    else if (arg === '--verbose') verbose = true;
    else if (arg === '--json') json = true;
    else rest.push(arg);
  }
  return { root, verbose, json, rest };
}

/** Runs the command line and exits with its status. */
export async function main(argv: string[]): Promise<void> {
  const { root, verbose, json, rest } = splitGlobal(argv);
  configureLog({ verbose, json });
  const [command, ...args] = rest;
  let code: number;
  try {
    if (command === 'engine') {
      code = await runEngineCommand(args, root);
    } else if (command === 'scenario') {
      const { runScenarioCommand } = await import('./scenario-cli.js');
      code = await runScenarioCommand(args);
    } else if (command === 'demo') {
      const { runDemo } = await import('./demo.js');
      code = await runDemo(root);
    } else if (command === undefined || command === '--help' || command === 'help') {
      process.stdout.write(`${USAGE}\n\n${ENGINE_USAGE}\n`);
      code = 0;
    } else {
      process.stderr.write(`isolab: unknown command \`${command}\`\n${USAGE}\n`);
      code = 2;
    }
  } catch (err) {
    code = reportError(err, verbose);
  }
  process.exitCode = code;
}

function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof EngineError) {
    log('error', `engine.${err.kind}`, err.message, err.code ? { errno: err.code } : {});
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.kind === 'invalid-input' && err.op === 'parse the command line' ? 2 : 1;
  }
  process.stderr.write(`isolab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
