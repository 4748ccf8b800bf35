import assert from 'node:assert/strict';
import test from 'node:test';
import { afterCrash, crashesInARow, defaultRestartPolicy, type RestartPolicy } from 'astro-cluster-kit/agents';

const policy: RestartPolicy = { maxRestarts: 4, baseDelayMs: 100, maxDelayMs: 500, stableAfterMs: 10_000 };

test('back-off doubles from the base delay up to the cap', () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => afterCrash(n, policy)), [
    { action: 'restart', delayMs: 100 },
    { action: 'restart', delayMs: 200 },
    { action: 'restart', delayMs: 400 },
    { action: 'restart', delayMs: 500 },
  ]);
});

test('after maxRestarts crashes in a row it gives up', () => {
  assert.deepEqual(afterCrash(5, policy), { action: 'give-up' });
});

test('a run that lasted stableAfterMs resets the count; a short one adds to it', () => {
  assert.equal(crashesInARow(3, 20_000, policy), 1);
  assert.equal(crashesInARow(3, 50, policy), 4);
  assert.equal(crashesInARow(0, 0, policy), 1);
});

test('the defaults are sane: a few tries, seconds apart', () => {
  assert.ok(defaultRestartPolicy.maxRestarts >= 3);
  assert.ok(defaultRestartPolicy.baseDelayMs >= 100 && defaultRestartPolicy.maxDelayMs >= defaultRestartPolicy.baseDelayMs);
});
