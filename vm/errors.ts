// The error type of vm/: the engine's message shape, with the kinds a VM adds.

/** The broad class of a VM failure, for callers that branch on it. */
export type VmErrorKind =
  | 'invalid-input'
  | 'not-found'
  | 'missing-tool'
  | 'unsupported'
  | 'unreachable'
  | 'timeout'
  | 'hung'
  | 'crashed'
  | 'system';

export interface VmErrorOptions {
  kind: VmErrorKind;
  /** What could not be done, as a verb phrase: "boot vm", "fetch kernel". */
  op: string;
  /** The value involved: a VM name, a kernel name, a path, host:port. */
  value?: string;
  /** Why, in plain words. */
  reason?: string;
  /** The boot or teardown phase that failed, when there is one. */
  phase?: string;
  /** Lines of the guest's serial console around the failure. */
  logExcerpt?: string;
  cause?: unknown;
}

/**
 * The one error type of vm/. Its message reads "could not <op> `<value>`: <reason>",
 * followed by the console excerpt when the guest's kernel hung or crashed.
 */
export class VmError extends Error {
  readonly kind: VmErrorKind;
  readonly op: string;
  readonly value: string | undefined;
  readonly reason: string | undefined;
  readonly phase: string | undefined;
  readonly logExcerpt: string | undefined;

  constructor(options: VmErrorOptions) {
    super(formatMessage(options), { cause: options.cause });
    this.name = 'VmError';
    this.kind = options.kind;
    this.op = options.op;
    this.value = options.value;
    this.reason = options.reason;
    this.phase = options.phase;
    this.logExcerpt = options.logExcerpt;
  }
}

function formatMessage(options: VmErrorOptions): string {
  let message = `could not ${options.op}`;
  if (options.value !== undefined) message += ` \`${options.value}\``;
  if (options.reason) message += `: ${options.reason}`;
  if (options.logExcerpt) message += `\n--- guest console ---\n${options.logExcerpt}\n---`;
  return message;
}

/** Wraps a Node.js system error (with .code) in a VmError, keeping VmErrors as they are. */
export function fromSystemError(op: string, value: string, err: unknown): VmError {
  if (err instanceof VmError) return err;
  const sys = err as NodeJS.ErrnoException;
  const code = typeof sys?.code === 'string' ? sys.code : undefined;
  const kind = code === 'ENOENT' ? 'not-found' : 'system';
  const text = err instanceof Error ? err.message : String(err);
  return new VmError({ kind, op, value, reason: code ? `${code}: ${text}` : text, cause: err });
}
