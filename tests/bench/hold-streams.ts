// A child process of the bench: opens COUNT event streams to URL from
// LOCAL_ADDRESS, a few hundred at a time, and holds them. It tells its parent
// how many are established (their `caught-up` arrived) and how many failed.
import net from 'node:net';

const [url, countText, localAddress] = process.argv.slice(2);
const target = new URL(url!);
const count = Number(countText);
let established = 0;
let failed = 0;
const sockets: net.Socket[] = [];

function open(): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (ok) established++;
      else failed++;
      resolve();
    };
    const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress });
    socket.setNoDelay(true);
    let seen = '';
    socket.on('connect', () => socket.write(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on('data', (chunk) => {
      if (done) return;
      seen += chunk.toString();
      if (seen.includes('event: caught-up')) finish(true);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.setTimeout(30_000, () => {
      finish(false);
      socket.destroy();
    });
    socket.on('timeout', () => undefined);
    sockets.push(socket);
  });
}

for (let opened = 0; opened < count; ) {
  const batch = Math.min(250, count - opened);
  await Promise.all(Array.from({ length: batch }, open));
  opened += batch;
  process.send?.({ established, failed });
}
for (const socket of sockets) socket.setTimeout(0);
process.send?.({ established, failed, done: true });
process.on('message', (message) => {
  if (message === 'close') {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  }
});
