import { constants as osConstants } from 'node:os';

// The one error type of isolab: the engine, the VM targets and the command
// line all throw it, so callers branch on one `kind` and print one shape.

/** The broad class of a failure, for callers that branch on it. */
export type ErrorKind =
  | 'invalid-input'
  | 'unsupported'
  | 'not-found'
  | 'already-exists'
  | 'bad-state'
  | 'system'
  | 'timeout'
  /** A program the operation runs (QEMU, ssh-keygen, apt-get) is not installed. */
  | 'missing-tool'
  /** A machine or port did not respond. */
  | 'unreachable'
  /** A guest kernel stopped making progress. */
  | 'hung'
  /** A guest kernel panicked, oopsed or was tainted. */
  | 'crashed';

export interface IsolabErrorOptions {
  kind: ErrorKind;
  /** The operation that failed, as a verb phrase: "create cgroup", "boot vm". */
  op: string;
  /** The value involved: a path, an id, a field name with its value, a VM name. */
  value?: string;
  /** Why, in plain words, without the errno text. */
  reason?: string;
  /** errno as a positive number, when a system call failed. */
  errno?: number;
  /** The boot or teardown phase of a VM that failed, when there is one. */
  phase?: string;
  /** Lines of a guest's serial console around the failure. */
  logExcerpt?: string;
  cause?: unknown;
}

// Several names share a number (EAGAIN and EWOULDBLOCK, EDEADLK and
// EDEADLOCK); the first one listed is the one people search for.
const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(n as number)) errnoNames.set(n as number, name);
}

/** Returns the symbolic name of an errno value, such as ENOENT. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/**
 * The one error type of isolab. Its message reads
 * "could not <op> `<value>`: <reason> (<ERRNO>)", followed by the guest's
 * console excerpt when a VM's kernel hung or crashed.
 */
export class IsolabError extends Error {
  readonly kind: ErrorKind;
  readonly op: string;
  readonly value: string | undefined;
  readonly reason: string | undefined;
  readonly errno: number | undefined;
  readonly phase: string | undefined;
  readonly logExcerpt: string | undefined;

  constructor(options: IsolabErrorOptions) {
    super(formatMessage(options), { cause: options.cause });
    this.name = 'IsolabError';
    this.kind = options.kind;
    this.op = options.op;
    this.value = options.value;
    this.reason = options.reason;
    this.errno = options.errno;
    this.phase = options.phase;
    this.logExcerpt = options.logExcerpt;
  }

  /** The errno's symbolic name, such as EBUSY, if a system call failed. */
  get code(): string | undefined {
    return this.errno === undefined ? undefined : errnoName(this.errno);
  }
}

function formatMessage(options: IsolabErrorOptions): string {
  let message = `could not ${options.op}`;
  if (options.value !== undefined) message += ` \`${options.value}\``;
  if (options.reason) message += `: ${options.reason}`;
  if (options.errno !== undefined) {
    message += options.reason ? ` (${errnoName(options.errno)})` : `: ${errnoName(options.errno)}`;
  }
  if (options.logExcerpt) message += `\n--- guest console ---\n${options.logExcerpt}\n---`;
  return message;
}

/** Builds an invalid-input error for a config field and its value. */
export function invalidField(field: string, value: unknown, reason: string): IsolabError {
  return new IsolabError({
    kind: 'invalid-input',
    op: `accept ${field}`,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    reason,
  });
}

/** Wraps a Node.js system error (with .code and .errno) in an IsolabError. */
export function fromSystemError(op: string, value: string, err: unknown): IsolabError {
  if (err instanceof IsolabError) return err;
  const sys = err as NodeJS.ErrnoException;
  const errno = typeof sys?.errno === 'number' ? Math.abs(sys.errno) : undefined;
  const kind = sys?.code === 'ENOENT' ? 'not-found' : 'system';
  return new IsolabError({ kind, op, value, errno, reason: errno ? undefined : String(err), cause: err });
}
