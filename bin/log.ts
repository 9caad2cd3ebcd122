// One structured entry per event on stderr: text by default, JSON lines with --json.

export type Level = 'error' | 'warn' | 'info' | 'debug';

const rank: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

let threshold: Level = 'warn';
let json = false;

/** Sets the lowest level printed and whether entries are JSON lines. */
export function configureLog(options: { verbose?: boolean; json?: boolean }): void {
  threshold = options.verbose ? 'debug' : 'warn';
  json = Boolean(options.json);
}

/** Writes one entry with a kind (what happened) and the ids involved. */
export function log(level: Level, kind: string, message: string, fields: Record<string, unknown> = {}): void {
  if (rank[level] > rank[threshold]) return;
  if (json) {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, kind, message, ...fields })}\n`);
    return;
  }
  const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  process.stderr.write(`isolab: ${level === 'info' ? '' : `${level}: `}${message}${extra.length ? ` (${extra.join(' ')})` : ''}\n`);
}
