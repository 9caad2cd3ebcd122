import { expect, test } from '@playwright/test';

import {
  pollUntil, pollUntilSettled, quantile, sampleDuring, Sampler, seriesMax, sleep,
} from '../framework/poll.js';

/** Returns a reader that yields `values` in order and then repeats the last one. */
function sequence<T>(values: T[]): () => Promise<T> {
  let index = 0;
  return async () => values[Math.min(index++, values.length - 1)];
}

/** Returns a reader whose value grows by one on every read, so it never settles. */
function counter(): () => Promise<number> {
  let value = 0;
  return async () => value++;
}

test('pollUntil stops at first match', async () => {
  const result = await pollUntil(sequence([1, 2, 3, 4]), (v) => v >= 3,
    { timeoutMs: 5000, intervalMs: 1 });

  expect(result.met).toBe(true);
  expect(result.value).toBe(3);
  expect(result.reads).toBe(3);
});

test('pollUntil reads once at timeout 0', async () => {
  const result = await pollUntil(sequence([7]), () => false, { timeoutMs: 0 });

  expect(result.met).toBe(false);
  expect(result.value).toBe(7);
  expect(result.reads).toBe(1);
});

test('pollUntil gives up after timeout', async () => {
  const result = await pollUntil(counter(), () => false, { timeoutMs: 40, intervalMs: 5 });

  expect(result.met).toBe(false);
  expect(result.elapsedMs).toBeGreaterThanOrEqual(40);
  expect(result.reads).toBeGreaterThan(1);
  expect(result.value).toBe(result.reads - 1);
});

// Cases as [name, reads, stableReads, expected value, expected read count].
const settleCases: Array<[string, unknown[], number | undefined, unknown, number]> = [
  ['two equal reads', [5, 5], undefined, 5, 2],
  ['change then two equal', [1, 2, 2], undefined, 2, 3],
  ['alternating values', ['a', 'b', 'a', 'a'], undefined, 'a', 4],
  ['three equal reads', [1, 1, 2, 2, 2], 3, 2, 5],
  ['equal objects by JSON', [{ max: 1 }, { max: 2 }, { max: 2 }], undefined, { max: 2 }, 3],
  ['single stable read', [9, 8], 1, 9, 1],
];

for (const [name, reads, stableReads, value, count] of settleCases) {
  test(`pollUntilSettled on ${name}`, async () => {
    const result = await pollUntilSettled(sequence(reads),
      { timeoutMs: 5000, intervalMs: 1, stableReads });

    expect(result.met).toBe(true);
    expect(result.value).toEqual(value);
    expect(result.reads).toBe(count);
  });
}

test('pollUntilSettled uses custom equality', async () => {
  const close = (a: unknown, b: unknown) => Math.abs((a as number) - (b as number)) <= 2;
  const result = await pollUntilSettled(sequence([100, 150, 151, 300]),
    { timeoutMs: 5000, intervalMs: 1, equal: close });

  expect(result.value).toBe(151);
  expect(result.reads).toBe(3);
});

test('pollUntilSettled times out unsettled', async () => {
  const result = await pollUntilSettled(counter(), { timeoutMs: 40, intervalMs: 5 });

  expect(result.met).toBe(false);
  expect(result.elapsedMs).toBeGreaterThanOrEqual(40);
});

test('Sampler records each probe', async () => {
  const sampler = new Sampler(performance.now(), 5)
    .add('memory', async () => 42)
    .add('pids', async () => 3)
    .start();
  await sleep(40);
  const samples = await sampler.stop();

  expect(samples.memory.length).toBeGreaterThan(1);
  expect(samples.memory.every(([, value]) => value === 42)).toBe(true);
  expect(samples.pids.every(([, value]) => value === 3)).toBe(true);
});

test('Sampler times grow from origin', async () => {
  const sampler = new Sampler(performance.now(), 5).add('value', async () => 1).start();
  await sleep(40);
  const times = (await sampler.stop()).value.map(([time]) => time);

  expect(times[0]).toBeGreaterThanOrEqual(0);
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect(times[times.length - 1]).toBeGreaterThanOrEqual(35);
});

test('Sampler skips missing and failed reads', async () => {
  const sampler = new Sampler(performance.now(), 5)
    .add('gone', async () => undefined)
    .add('throws', async () => {
      throw new Error('ENOENT');
    })
    .add('not finite', async () => Infinity)
    .add('nan', async () => NaN)
    .start();
  await sleep(20);
  const samples = await sampler.stop();

  expect(samples.gone).toEqual([]);
  expect(samples.throws).toEqual([]);
  expect(samples['not finite']).toEqual([]);
  expect(samples.nan).toEqual([]);
});

test('Sampler stop takes last sample', async () => {
  const sampler = new Sampler(performance.now()).add('value', sequence([5]));
  const samples = await sampler.stop();

  expect(samples.value).toHaveLength(1);
  expect(samples.value[0][1]).toBe(5);
});

test('sampleDuring stops sampler on error', async () => {
  const sampler = new Sampler(performance.now(), 5).add('value', async () => 1);
  const work = async () => {
    await sleep(20);
    throw new Error('workload failed');
  };

  await expect(sampleDuring(sampler, work)).rejects.toThrow('workload failed');
  const count = sampler.samples.value.length;
  await sleep(30);
  expect(sampler.samples.value).toHaveLength(count);
});

test('sampleDuring returns the work result', async () => {
  const sampler = new Sampler(performance.now(), 5).add('value', async () => 1);

  expect(await sampleDuring(sampler, async () => 'done')).toBe('done');
});

test('seriesMax of empty series', () => {
  expect(seriesMax([])).toBeUndefined();
});

test('seriesMax takes the value column', () => {
  expect(seriesMax([[900, 3], [100, 7], [200, 5]])).toBe(7);
});

test('seriesMax of negative values', () => {
  expect(seriesMax([[0, -3], [1, -1]])).toBe(-1);
});

const values = [7, 1, 10, 4, 2, 9, 3, 8, 6, 5];

// Cases as [q, value] over the values 1 to 10, by nearest rank.
const quantileCases: Array<[number, number]> = [
  [0, 1], [0.1, 1], [0.11, 2], [0.5, 5], [0.9, 9], [0.95, 10], [1, 10], [-1, 1], [2, 10],
];

for (const [q, expected] of quantileCases) {
  test(`quantile ${q} of 1 to 10`, () => {
    expect(quantile(values, q)).toBe(expected);
  });
}

test('quantile of empty list', () => {
  expect(quantile([], 0.5)).toBeNaN();
});

test('quantile does not sort input', () => {
  const input = [3, 1, 2];
  quantile(input, 0.5);

  expect(input).toEqual([3, 1, 2]);
});
