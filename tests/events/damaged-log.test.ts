import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { FileEventLog, type EventLog } from 'astro-cluster-kit/event-log';

// A segment damaged under the file backend (cut short, or a garbage line
// appended) must not make it give out ids again: 201-acknowledged events
// would then never reach readers, and no reset would tell them.
const opened: EventLog[] = [];
after(async () => {
  for (const log of opened) await log.close();
});

async function topicWith(count: number) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-events-'));
  const log = new FileEventLog(root, { count: 1000, maxAgeMs: 86_400_000 });
  opened.push(log);
  for (let n = 1; n <= count; n++) await log.publish('hurt', { n });
  const dir = path.join(root, 'hurt');
  const segment = path.join(dir, readdirSync(dir).find((file) => file.endsWith('.ndjson'))!);
  return { log, dir, segment };
}

for (const [what, damage] of [
  ['cut short', (segment: string) => truncateSync(segment, readFileSync(segment, 'utf8').indexOf('\n') + 1)],
  ['with a garbage line appended', (segment: string) => appendFileSync(segment, 'not an event\n')],
] as const) {
  test(`a segment ${what}: ids continue above the old highest, a reader from before gets a reset, the file is set aside`, async () => {
    const { log, dir, segment } = await topicWith(5);
    damage(segment);
    const logged: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args.join(' '));
    let next;
    try {
      next = await log.publish('hurt', { n: 6 });
    } finally {
      console.error = original;
    }
    assert.equal(next.id, '6', 'no id given twice');
    assert.ok(logged.some((line) => line.includes('KIT_EVENT_LOG_DAMAGED')), logged.join('\n'));
    assert.ok(readdirSync(dir).some((file) => /^\d{16}\.ndjson\.damaged-\d+$/.test(file)), readdirSync(dir).join(' '));
    // A reader that had seen id 3 missed 4 and 5 for good: it is told, and gets what is left after 3.
    const fromThree = await log.read('hurt', '3');
    assert.equal(fromThree.reset, true);
    assert.deepEqual(fromThree.events.map((e) => e.id), ['6']);
    // One that had everything up to 5 missed nothing.
    const fromFive = await log.read('hurt', '5');
    assert.equal(fromFive.reset, false);
    assert.deepEqual(fromFive.events.map((e) => e.id), ['6']);
    assert.equal((await log.publish('hurt', { n: 7 })).id, '7');
    assert.equal(await log.latestId('hurt'), '7');
  });
}
