import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { benchEventsToken } from './token.js';

// `pnpm bench` with EVENTS_TOKEN set crashed: the workers never write events.token then.
test('the bench takes EVENTS_TOKEN when set, else the token file', () => {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'kit-bench-token-'));
  try {
    assert.equal(benchEventsToken(logs, { EVENTS_TOKEN: ' 0123456789abcdef0123 ' }), '0123456789abcdef0123', 'no file needed');
    assert.throws(() => benchEventsToken(logs, { EVENTS_TOKEN: '' }), /ENOENT/);
    mkdirSync(path.join(logs, 'run'));
    writeFileSync(path.join(logs, 'run', 'events.token'), 'from-the-file\n');
    assert.equal(benchEventsToken(logs, {}), 'from-the-file');
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});
