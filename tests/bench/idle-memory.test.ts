import assert from 'node:assert/strict';
import { test } from 'node:test';
import { medianOf, type IdleMemory } from './idle-memory.js';

const run = (rss: number, heapUsed: number, established = 100): IdleMemory => ({
  server: 'kit worker',
  streams: 100,
  idleSeconds: 30,
  established,
  failed: 100 - established,
  perStreamKiB: { rss, heapUsed, heapCommitted: rss - 1, external: 0 },
  youngGenerationMiB: { before: 1, after: 1 },
});

test('the idle-memory summary takes each figure\'s median and the range of resident memory', () => {
  const summary = medianOf([run(7.2, 2.8), run(5.2, 2.9), run(5.9, 2.7)]);
  assert.deepEqual(summary.perStreamKiB, { rss: 5.9, heapUsed: 2.8, heapCommitted: 4.9, external: 0 });
  assert.deepEqual(summary.residentRangeKiB, [5.2, 7.2]);
  assert.equal(summary.runs, 3);
});

test('with an even number of runs the median is the mean of the middle two; the worst run\'s streams count', () => {
  const summary = medianOf([run(4, 3), run(6, 3, 98)]);
  assert.equal(summary.perStreamKiB.rss, 5);
  assert.equal(summary.established, 98);
  assert.equal(summary.failed, 2);
});

test('no runs is an error, not a row of zeros', () => {
  assert.throws(() => medianOf([]), /no runs/);
});
