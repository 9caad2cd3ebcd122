// Watches a guest through its serial console log: kernel crashes fail the VM,
// stalls are kept as warnings, and a guest with no console output and no SSH
// response for the hang bound is reported as hung.
import { promises as fs } from 'node:fs';
import { IsolabError } from '../../engine/errors.js';
import { formatSeconds } from '../phases.js';
import { BOOT_MARK, TAINT_MARK } from '../initramfs/scripts.js';
import type { KernelWarning } from '../types.js';

const POLL_MS = 200;
const KEPT_LINES = 400;
/** How long after the first crash line the rest of the panic is collected. */
const CRASH_SETTLE_MS = 1000;
/** Soft lockups set this taint bit (L, 1 << 14); they are warnings, not failures. */
const TAINT_SOFTLOCKUP = 1 << 14;

const CRASH_PATTERNS = [
  /Kernel panic - not syncing/,
  /\bOops\b/,
  /\bBUG: (?!soft lockup)/,
  /general protection fault/,
];

const WARNING_PATTERNS: { kind: KernelWarning['kind']; pattern: RegExp }[] = [
  { kind: 'rcu-stall', pattern: /rcu.*detected (stalls|stall)/ },
  { kind: 'soft-lockup', pattern: /BUG: soft lockup/ },
  { kind: 'hung-task', pattern: /INFO: task .* blocked for more than/ },
];

/** Returns whether a console line shows a crash, a warning, or neither. */
export function classifyLine(line: string): { crash: boolean; warning?: KernelWarning['kind'] } {
  const taint = new RegExp(`${TAINT_MARK} from (\\d+) to (\\d+)`).exec(line);
  if (taint) {
    const added = Number(taint[2]) & ~Number(taint[1]);
    return added & ~TAINT_SOFTLOCKUP ? { crash: true } : { crash: false, warning: 'taint' };
  }
  const warning = WARNING_PATTERNS.find((entry) => entry.pattern.test(line));
  if (warning) return { crash: false, warning: warning.kind };
  return { crash: CRASH_PATTERNS.some((pattern) => pattern.test(line)) };
}

export class ConsoleWatch {
  readonly lines: string[] = [];
  readonly warnings: KernelWarning[] = [];
  /** Boot marks ("isolab-boot: <step> <uptime>") with the host time they were read. */
  readonly marks = new Map<string, { uptime: number; seenAt: number }>();
  lastOutputAt = Date.now();
  lastResponseAt = 0;
  failure: IsolabError | undefined;
  /** Rejects with the failure once there is one. */
  readonly failed: Promise<never>;
  private rejectFailed!: (err: IsolabError) => void;
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private crashSeenAt: number | undefined;
  private crashLineIndex = 0;
  private linesDropped = 0;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly logPath: string,
    private readonly vm: string,
    private readonly hangTimeoutMs: number,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Records an SSH response: the guest is alive even when its console is quiet. */
  noteResponse(): void {
    this.lastResponseAt = Date.now();
  }

  /** Returns the time of the latest console output or SSH response. */
  lastSignOfLife(): number {
    return Math.max(this.lastOutputAt, this.lastResponseAt);
  }

  /** Reads what the console printed since the last poll and checks for a hang. */
  poll(): Promise<void> {
    this.polling ??= this.readNew().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async readNew(): Promise<void> {
    const handle = await fs.open(this.logPath, 'r').catch(() => undefined);
    if (handle) {
      try {
        const { size } = await handle.stat();
        if (size > this.offset) {
          const buffer = Buffer.alloc(size - this.offset);
          await handle.read(buffer, 0, buffer.length, this.offset);
          this.offset = size;
          this.lastOutputAt = Date.now();
          this.consume(buffer.toString('utf8'));
        }
      } finally {
        await handle.close();
      }
    }
    this.checkCrashSettled();
    this.checkHang();
  }

  /** Fails the VM because QEMU exited while it should be running, after reading the last output. */
  async qemuExited(description: string): Promise<void> {
    await this.poll();
    if (this.failure) return;
    if (this.crashSeenAt !== undefined) {
      this.fail('crashed', 'the guest kernel crashed', this.crashExcerpt());
      return;
    }
    const bootFailure = this.lines.map((line) => new RegExp(`${BOOT_MARK} failed: (.*)$`).exec(line)).find(Boolean);
    const reason = bootFailure
      ? `the guest's boot script could not ${bootFailure[1]} and powered off`
      : `QEMU exited (${description})`;
    this.fail('system', reason, this.excerpt(30));
  }

  /** Returns the last `count` console lines, for error messages. */
  excerpt(count: number): string {
    if (this.lines.length === 0 && this.partial === '') return '(the console printed nothing)';
    return [...this.lines.slice(-count), this.partial].join('\n').trimEnd();
  }

  private consume(text: string): void {
    const pieces = (this.partial + text).split(/\r?\n/);
    this.partial = pieces.pop() ?? '';
    for (const line of pieces) this.addLine(line);
  }

  private addLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) {
      this.lines.shift();
      this.linesDropped++;
    }
    const mark = new RegExp(`${BOOT_MARK} (\\S+) ([0-9.]+)$`).exec(line);
    if (mark) this.marks.set(mark[1], { uptime: Number(mark[2]), seenAt: Date.now() });
    const found = classifyLine(line);
    if (found.warning) this.warnings.push({ kind: found.warning, line: line.trim() });
    if (found.crash && this.crashSeenAt === undefined) {
      this.crashSeenAt = Date.now();
      this.crashLineIndex = this.linesDropped + this.lines.length - 1;
    }
  }

  private checkCrashSettled(): void {
    if (this.crashSeenAt === undefined || this.failure) return;
    if (Date.now() - this.crashSeenAt >= CRASH_SETTLE_MS) {
      this.fail('crashed', 'the guest kernel crashed', this.crashExcerpt());
    }
  }

  private crashExcerpt(): string {
    const first = Math.max(0, this.crashLineIndex - this.linesDropped - 10);
    return this.lines.slice(first, first + 80).join('\n');
  }

  private checkHang(): void {
    if (this.failure || this.hangTimeoutMs <= 0) return;
    const quietFor = Date.now() - this.lastSignOfLife();
    if (quietFor > this.hangTimeoutMs) {
      const reason = `the guest kernel hung: no console output and no SSH response for ${formatSeconds(quietFor)}`;
      this.fail('hung', reason, this.excerpt(20));
    }
  }

  private fail(kind: 'hung' | 'crashed' | 'system', reason: string, logExcerpt: string): void {
    this.failure = new IsolabError({ kind, op: 'run vm', value: this.vm, reason, logExcerpt });
    this.rejectFailed(this.failure);
  }
}
