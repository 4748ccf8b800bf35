// A child process of tests/server/flood.test.ts: opens up to COUNT event
// streams to URL from LOCAL_ADDRESS (its own loopback address), PARALLEL at
// a time, for at most LIMIT_MS. It prints one JSON line on stdout when done:
// streams held (200), refusals (503, 429, and whether they carried
// Retry-After), other failures and timeouts. Then it holds the streams until
// its stdin closes (the parent ends it) or HOLD_MS have passed, and exits.
//
//   node flood-client.mjs URL COUNT LOCAL_ADDRESS [PARALLEL] [LIMIT_MS] [HOLD_MS]
import http from 'node:http';

const [url, countText, localAddress, parallelText = '20', limitText = '60000', holdText = '180000'] = process.argv.slice(2);
const count = Number(countText);
const parallel = Number(parallelText);
const deadline = Date.now() + Number(limitText);
const counts = { held: 0, refused503: 0, refused429: 0, refusedWithoutRetryAfter: 0, otherStatus: 0, failed: 0, timeouts: 0, attempts: 0, ms: 0 };
const errors = new Map();
const requests = [];
const started = Date.now();

function open() {
  return new Promise((resolve) => {
    let done = false;
    const finish = (what) => {
      if (done) return;
      done = true;
      counts[what] += 1;
      resolve();
    };
    const req = http.get(url, { localAddress, agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 200) {
        // Held: the stream stays open, its data is read and dropped.
        req.setTimeout(0);
        res.on('data', () => undefined);
        res.on('error', () => undefined);
        return finish('held');
      }
      if ((status === 503 || status === 429) && !res.headers['retry-after']) counts.refusedWithoutRetryAfter += 1;
      res.resume();
      res.on('error', () => undefined);
      finish(status === 503 ? 'refused503' : status === 429 ? 'refused429' : 'otherStatus');
    });
    req.setTimeout(10_000, () => {
      finish('timeouts');
      req.destroy();
    });
    req.on('error', (error) => {
      errors.set(error.code ?? error.message, (errors.get(error.code ?? error.message) ?? 0) + 1);
      finish('failed');
    });
    requests.push(req);
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: parallel }, async () => {
    while (next < count && Date.now() < deadline) {
      next += 1;
      counts.attempts += 1;
      await open();
    }
  }),
);
counts.ms = Date.now() - started;
process.stdout.write(`${JSON.stringify({ localAddress, ...counts, errors: Object.fromEntries(errors) })}\n`);

const end = () => {
  for (const req of requests) req.destroy();
  process.exit(0);
};
process.stdin.on('end', end);
process.stdin.on('close', end);
process.stdin.resume();
setTimeout(end, Number(holdText));
