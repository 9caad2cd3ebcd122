// System calls that Node.js does not expose, through koffi. ffi-napi, the older
// FFI package, does not install on Node.js 20, so koffi is the FFI layer here.
// Only calls that are safe from a multithreaded process belong in this file:
// namespace entry happens in the native helper, never here.
import koffi from 'koffi';
import { IsolabError } from './errors.js';

const libc = koffi.load('libc.so.6');

// x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const SYS_PIDFD_SEND_SIGNAL = 424;
const SYS_PIDFD_OPEN = 434;

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

const cFlock = libc.func('int flock(int fd, int operation)');
const cMkfifo = libc.func('int mkfifo(const char *path, uint32_t mode)');
const cSyscall3 = libc.func('long syscall(long number, long a, long b, long c, long d)');
const cKill = libc.func('int kill(int pid, int sig)');

function lastErrno(): number {
  return koffi.errno();
}

/** Takes an exclusive flock on fd; with wait false, returns false when it is held elsewhere. */
export function flockExclusive(fd: number, wait: boolean): boolean {
  for (;;) {
    const rc = cFlock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) as number;
    if (rc === 0) return true;
    const errno = lastErrno();
    if (errno === 4) continue; // EINTR
    if (errno === 11 && !wait) return false; // EWOULDBLOCK
    throw new IsolabError({ kind: 'system', op: 'lock', value: `fd ${fd}`, errno });
  }
}

/** Releases a flock taken with flockExclusive. */
export function flockRelease(fd: number): void {
  cFlock(fd, LOCK_UN);
}

/** Creates a named pipe. */
export function mkfifo(path: string, mode: number): void {
  if ((cMkfifo(path, mode) as number) !== 0) {
    throw new IsolabError({ kind: 'system', op: 'create fifo', value: path, errno: lastErrno() });
  }
}

/** Opens a pidfd for pid, or returns undefined on kernels before 5.3 or when the pid is gone. */
export function pidfdOpen(pid: number): number | undefined {
  const fd = Number(cSyscall3(SYS_PIDFD_OPEN, pid, 0, 0, 0));
  return fd >= 0 ? fd : undefined;
}

/**
 * Sends a signal to a process, through a pidfd when one is given so that a
 * recycled pid cannot receive it. Returns false when the process is gone (ESRCH).
 */
export function sendSignal(pid: number, signal: number, pidfd?: number): boolean {
  const rc = pidfd !== undefined
    ? Number(cSyscall3(SYS_PIDFD_SEND_SIGNAL, pidfd, signal, 0, 0))
    : (cKill(pid, signal) as number);
  if (rc === 0) return true;
  const errno = lastErrno();
  if (errno === 3) return false; // ESRCH
  throw new IsolabError({ kind: 'system', op: 'send signal', value: `${signal} to pid ${pid}`, errno });
}
