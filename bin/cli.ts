// The `isolab` command.
import { IsolabError } from '../engine/errors.js';
import { DEFAULT_ROOT } from '../engine/state.js';
import { configureLog, log } from './log.js';
import { ENGINE_USAGE, runEngineCommand } from './engine-cli.js';

const USAGE = `usage: isolab [--verbose] [--json] COMMAND ...
  engine VERB ...   the container engine (isolab engine --help)
  suites ...        the main job: isolation scenarios in a VM per target, then the report
  gate ...          compare results/results.json with the baseline (isolab gate --help)
  vm ...            disposable VMs on Debian kernels (isolab vm --help)
  kernels list|fetch
                    the Debian kernel packages in the cache
  doctor            check what a run needs and say what to install
  demo              a container held by its limits on this machine, with its stats
  scenario ...      run isolation scenarios on this machine (isolab scenario --help)`;

/**
 * Splits the global options (--root, --verbose, --json, and runc's --log and
 * --log-format, accepted for compatibility) from the rest. Parsing stops at
 * the first argument that is not a global option, so a container's command
 * keeps its own --root or --json.
 */
function splitGlobal(argv: string[]): { root: string; verbose: boolean; json: boolean; version: boolean; rest: string[] } {
  const options = { root: DEFAULT_ROOT, verbose: false, json: false, version: false };
  let i = 0;
  const value = (name: string): string => {
    const next = argv[++i];
    if (next === undefined) throw usage(`${name} needs a value`);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === 'engine' || !arg.startsWith('-')) {
      // `isolab engine --root DIR create ...`: global options may follow `engine`.
      if (arg !== 'engine') break;
      continue;
    }
    if (arg === '--root') options.root = value('--root');
    else if (arg.startsWith('--root=')) options.root = arg.slice('--root='.length);
    else if (arg === '--verbose' || arg === '--debug') options.verbose = true;
    else if (arg === '--json') options.json = true;
    else if (arg === '--log' || arg === '--log-format') value(arg);
    else if (arg.startsWith('--log=') || arg.startsWith('--log-format=')) continue;
    else if (arg === '--version' || arg === '-v') options.version = true;
    else if (arg === '--help' || arg === '-h') break;
    else throw usage(`unknown option \`${arg}\``);
  }
  const engineFirst = argv.slice(0, i).includes('engine') ? ['engine'] : [];
  return { ...options, rest: [...engineFirst, ...argv.slice(i)] };
}

function usage(reason: string): IsolabError {
  return new IsolabError({ kind: 'invalid-input', op: 'parse the command line', reason: `${reason}; see \`isolab --help\`` });
}

/** Runs the command line and exits with its status. */
export async function main(argv: string[]): Promise<void> {
  let code: number;
  let verbose = false;
  try {
    const global = splitGlobal(argv);
    verbose = global.verbose;
    configureLog({ verbose: global.verbose, json: global.json });
    const { root } = global;
    const [command, ...args] = global.rest;
    if (global.version) {
      process.stdout.write(`isolab version ${await packageVersion()}\nspec: 1.2.0\n`);
      code = 0;
    } else if (command === 'engine') {
      code = await runEngineCommand(args, root);
    } else if (command === 'vm' || command === 'kernels' || command === 'doctor') {
      const vm = await import('./vm-cli.js');
      if (command === 'vm') code = await vm.runVmCommand(args);
      else if (command === 'kernels') code = await vm.runKernelsCommand(args);
      else code = await vm.runDoctor(args);
    } else if (command === 'suites') {
      const { runSuitesCommand } = await import('./suites-cli.js');
      code = await runSuitesCommand(args);
    } else if (command === 'gate') {
      const { runGate } = await import('./gate-cli.js');
      code = await runGate(args);
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
    code = reportError(err, verbose, helpCommand(argv));
  }
  process.exitCode = code;
}

async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
}

/** Returns the help command for the command in argv, such as `isolab gate --help`. */
function helpCommand(argv: string[]): string {
  const command = argv.find((arg) => !arg.startsWith('-'));
  const known = ['engine', 'suites', 'gate', 'vm', 'kernels', 'scenario'];
  return command && known.includes(command) ? `isolab ${command} --help` : 'isolab --help';
}

function reportError(err: unknown, verbose: boolean, help: string): number {
  if (isParseArgsError(err)) {
    log('error', 'cli.usage', `could not parse the command line: ${(err as Error).message}; see \`${help}\``);
    return 2;
  }
  if (err instanceof IsolabError) {
    log('error', `error.${err.kind}`, err.message);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.kind === 'invalid-input' && err.op === 'parse the command line' ? 2 : 1;
  }
  process.stderr.write(`isolab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** Returns true for the errors node:util parseArgs raises on unknown options and missing values. */
function isParseArgsError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
