import { constants as osConstants } from 'node:os';

/** The broad class of an engine failure, for callers that branch on it. */
export type ErrorKind =
  | 'invalid-input'
  | 'unsupported'
  | 'not-found'
  | 'already-exists'
  | 'bad-state'
  | 'system'
  | 'timeout';

export interface EngineErrorOptions {
  kind: ErrorKind;
  /** The operation that failed, as a verb phrase: "create cgroup", "parse config.json". */
  op: string;
  /** The value involved: a path, an id, a field name with its value. */
  value?: string;
  /** Why, in plain words, without the errno text. */
  reason?: string;
  /** errno as a positive number, when a system call failed. */
  errno?: number;
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
 * The one error type of the engine. Its message reads
 * "could not <op> `<value>`: <reason> (<ERRNO>)".
 */
export class EngineError extends Error {
  readonly kind: ErrorKind;
  readonly op: string;
  readonly value: string | undefined;
  readonly reason: string | undefined;
  readonly errno: number | undefined;

  constructor(options: EngineErrorOptions) {
    super(formatMessage(options), { cause: options.cause });
    this.name = 'EngineError';
    this.kind = options.kind;
    this.op = options.op;
    this.value = options.value;
    this.reason = options.reason;
    this.errno = options.errno;
  }

  /** The errno's symbolic name, such as EBUSY, if a system call failed. */
  get code(): string | undefined {
    return this.errno === undefined ? undefined : errnoName(this.errno);
  }
}

function formatMessage(options: EngineErrorOptions): string {
  let message = `could not ${options.op}`;
  if (options.value !== undefined) message += ` \`${options.value}\``;
  if (options.reason) message += `: ${options.reason}`;
  if (options.errno !== undefined) {
    message += options.reason ? ` (${errnoName(options.errno)})` : `: ${errnoName(options.errno)}`;
  }
  return message;
}

/** Builds an invalid-input error for a config field and its value. */
export function invalidField(field: string, value: unknown, reason: string): EngineError {
  return new EngineError({
    kind: 'invalid-input',
    op: `accept ${field}`,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    reason,
  });
}

/** Wraps a Node.js system error (with .code and .errno) in an EngineError. */
export function fromSystemError(op: string, value: string, err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const sys = err as NodeJS.ErrnoException;
  const errno = typeof sys?.errno === 'number' ? Math.abs(sys.errno) : undefined;
  const kind = sys?.code === 'ENOENT' ? 'not-found' : 'system';
  return new EngineError({ kind, op, value, errno, reason: errno ? undefined : String(err), cause: err });
}
