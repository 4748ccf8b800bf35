import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onHeartbeat } from 'astro-cluster-kit/event-log';
import { waitFor } from '../helpers/wait.js';

// The shared heartbeat: one timer for every stream, in slices. Each stream beats, again and again, until it stops.
test('every stream sharing the heartbeat beats repeatedly, and a stopped one no more', async () => {
  const beats = [0, 0, 0];
  const stops = beats.map((_, i) => onHeartbeat(160, () => beats[i]!++));
  await waitFor('each stream to beat twice', () => beats.every((count) => count >= 2));
  stops[0]!();
  stops[0]!(); // twice: harmless
  const stoppedAt = beats[0]!;
  const others = beats[1]!;
  await waitFor('the others to beat twice more', () => beats[1]! >= others + 2 && beats[2]! >= others + 2);
  assert.equal(beats[0], stoppedAt, 'the stopped stream got no beat after stopping');
  // A throwing stream does not stop the others.
  const stopThrowing = onHeartbeat(160, () => {
    throw new Error('a broken stream');
  });
  const before = beats[1]!;
  await waitFor('the others to go on beside a throwing one', () => beats[1]! >= before + 2);
  stopThrowing();
  stops[1]!();
  stops[2]!();
});
