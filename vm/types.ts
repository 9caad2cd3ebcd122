// The contract every target (qemu, local, ssh) fulfils.

export type TargetKind = 'qemu' | 'local' | 'ssh';

export type CgroupMode = 'v1' | 'v2';

/** Why a command ended, as a machine reports it. */
export type EndReason = 'exit' | 'signal' | 'timeout';

/** A kernel message that does not fail a run but is kept beside its result. */
export interface KernelWarning {
  kind: 'rcu-stall' | 'soft-lockup' | 'hung-task' | 'taint';
  /** The console line that showed it. */
  line: string;
}

export interface RunOptions {
  /** Kills the command with SIGKILL after this many milliseconds (default 600 000). */
  timeoutMs?: number;
  /** Called with each chunk of standard output as it arrives. */
  onStdout?: (chunk: Buffer) => void;
  /** Called with each chunk of standard error as it arrives. */
  onStderr?: (chunk: Buffer) => void;
  /** Written to the command's standard input, which is then closed. */
  input?: string | Buffer;
  /** Environment variables set for the command. */
  env?: Record<string, string>;
  /** Working directory of the command. */
  cwd?: string;
}

/** The outcome of one command: its output and why it ended. */
export interface RunResult {
  command: string;
  reason: EndReason;
  /** The exit status, or null when a signal or the timeout ended the command. */
  exitCode: number | null;
  /** The signal name (SIGKILL) when a signal ended the command. */
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** RCU stalls, soft lockups and similar kernel messages seen while it ran. */
  warnings: KernelWarning[];
}

export interface CgroupFacts {
  /** 2 when /sys/fs/cgroup is a cgroup2 mount, 1 when it holds v1 hierarchies. */
  version: 1 | 2;
  /** Controllers the root of the cgroup2 hierarchy lists (cgroup.controllers). */
  v2Controllers: string[];
  /** Controllers mounted as cgroup v1 hierarchies. */
  v1Controllers: string[];
  /** Controllers the kernel has enabled, from /proc/cgroups. */
  kernelControllers: string[];
}

/** What a machine's kernel is and what it offers. */
export interface KernelFacts {
  /** `uname -r`. */
  release: string;
  /** `uname -v`: the build's version string. */
  build: string;
  /** The Debian package the kernel came from, for qemu machines. */
  package?: { name: string; version: string };
  cgroup: CgroupFacts;
  /** Selected kernel config options: y, m, a value, or n for "is not set". */
  config: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  swapBytes: number;
  /** How QEMU ran the guest, for qemu machines. */
  accel?: 'kvm' | 'tcg';
}

/** A running system that commands can be run on. */
export interface Machine {
  readonly name: string;
  readonly target: TargetKind;
  /** True when nothing outside this machine is harmed by breaking it. */
  readonly disposable: boolean;
  /** True when attack scenarios may run here: disposable, or allowed with --allow-attacks. */
  readonly attacksAllowed: boolean;
  /** A directory for reclaimable files, swap files and container layers. */
  readonly workDir: string;
  /** Runs a shell command (a string) or an argument vector, and reports why it ended. */
  run(command: string | readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Copies a local file into the machine. */
  copyIn(localPath: string, remotePath: string): Promise<void>;
  /** Copies a file out of the machine. */
  copyOut(remotePath: string, localPath: string): Promise<void>;
  /** Describes the kernel: release, cgroup layout, config, CPUs, memory and swap. */
  kernelFacts(): Promise<KernelFacts>;
  /** Stops the machine and removes everything made for it; safe to repeat. */
  shutdown(): Promise<void>;
}

/** A way to get a Machine: a fresh VM, this host, or a host over SSH. */
export interface Target {
  readonly kind: TargetKind;
  readonly disposable: boolean;
  start(): Promise<Machine>;
}
