// Types for the subset of the OCI runtime specification (v1.2) that the engine
// reads. Field names are the spec's own, so a config.json maps onto them directly.

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Process {
  terminal?: boolean;
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
}

export type NamespaceType =
  | 'pid'
  | 'network'
  | 'mount'
  | 'ipc'
  | 'uts'
  | 'user'
  | 'cgroup'
  | 'time';

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface LinuxResources {
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  /** Device access rules; the engine accepts only runc's deny-all default. */
  devices?: Array<{ allow: boolean; access?: string; type?: string; major?: number; minor?: number }>;
  unified?: Record<string, string>;
}

export interface LinuxMemory {
  /** Bytes; -1 means unlimited. */
  limit?: number;
  /** Soft limit in bytes: memory.low on v2, memory.soft_limit_in_bytes on v1. */
  reservation?: number;
  /** Memory plus swap in bytes; -1 means unlimited. */
  swap?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface LinuxCPU {
  /** Relative weight in v1 units (2 to 262144). */
  shares?: number;
  /** Microseconds of CPU time per period; -1 means unlimited. */
  quota?: number;
  /** Period length in microseconds. */
  period?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  /** Maximum number of tasks; 0 or -1 means unlimited, as in runc. */
  limit: number;
}

export interface LinuxBlockIO {
  /** Relative weight from 10 to 1000 (v1 blkio.weight). */
  weight?: number;
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}
