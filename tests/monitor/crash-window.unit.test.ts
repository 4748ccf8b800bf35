import assert from 'node:assert/strict';
import test from 'node:test';
import { CrashWindow, watches } from 'astro-cluster-kit/monitor';

test('the limit-th exit within the window is a crash loop; older exits fall out of the window', () => {
  const window = new CrashWindow({ limit: 3, windowMs: 10_000 });
  assert.equal(window.record('web', 0), false);
  assert.equal(window.record('web', 4000), false);
  assert.equal(window.record('web', 12_000), false, 'the first exit is out of the window by now');
  assert.equal(window.record('web', 13_000), true);
  assert.equal(window.count('web', 13_000), 3);
  assert.equal(window.record('other', 13_000), false, 'apps are counted apart');
  window.forget('web');
  assert.equal(window.count('web', 13_000), 0);
});

test('watched apps: listed ones, or all with *', () => {
  assert.equal(watches(['astro-web'], 'astro-web'), true);
  assert.equal(watches(['astro-web'], 'other'), false);
  assert.equal(watches(['*'], 'other'), true);
});
