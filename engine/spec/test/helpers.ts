// Shared set-up for the spec tests: a bundle directory with an empty rootfs,
// and a check that a config is rejected with a given field and reason.

import { expect } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IsolabError } from '../../errors.js';
import { defaultSpec } from '../generate.js';
import { parseSpec } from '../validate.js';

export interface Bundle {
  dir: string;
  rootfs: string;
  remove: () => void;
}

/** Makes a bundle directory with an empty `rootfs` directory inside. */
export function makeBundle(): Bundle {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'isolab-spec-'));
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(rootfs);
  return { dir, rootfs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Returns the default spec as plain JSON data that a test may change freely. */
export function baseConfig(): Record<string, any> {
  return JSON.parse(JSON.stringify(defaultSpec())) as Record<string, any>;
}

/** Returns the error that parseSpec raises for a config, or fails the test. */
export function rejection(config: unknown, bundleDir: string): IsolabError {
  const text = typeof config === 'string' ? config : JSON.stringify(config);
  try {
    parseSpec(text, bundleDir);
  } catch (err) {
    expect(err).toBeInstanceOf(IsolabError);
    return err as IsolabError;
  }
  throw new Error('parseSpec accepted a config that the test expects it to reject');
}

/** Checks that parseSpec rejects a config naming `field` and with `reason` in the message. */
export function expectRejected(
  config: unknown,
  bundleDir: string,
  field: string,
  reason: string | RegExp,
): IsolabError {
  const err = rejection(config, bundleDir);
  expect(err.op).toBe(`accept ${field}`);
  if (typeof reason === 'string') expect(err.message).toContain(reason);
  else expect(err.message).toMatch(reason);
  return err;
}
