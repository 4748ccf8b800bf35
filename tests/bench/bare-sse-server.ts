// The bench's baseline for event streams: a bare Node SSE server, one
// process per worker (node:cluster), no event log, no Astro, no PM2: the
// most a stream server can do on this machine with the same clients and
// events. It speaks the bench's dialect of the kit's API: GET
// /api/events/:topic streams (with the kit's `caught-up` and `x-worker`),
// POST publishes (the primary numbers each event and hands it to every
// worker over IPC, the least any multi-process server must do), GET
// /healthz answers. PORT, HOST, WORKERS, SSE_HEARTBEAT_MS from the
// environment; it prints `ready` once every worker listens.
import cluster from 'node:cluster';
import http, { type ServerResponse } from 'node:http';
import os from 'node:os';

interface Published {
  topic: string;
  id: number;
  at: string;
  data: unknown;
  nonce: string;
}

const workers = Number(process.env.WORKERS ?? os.cpus().length);

if (cluster.isPrimary) {
  let next = 0;
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) console.log('ready');
  });
  cluster.on('message', (_worker, message: Omit<Published, 'id' | 'at'>) => {
    const event: Published = { ...message, id: ++next, at: new Date().toISOString() };
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send(event);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const me = String(cluster.worker?.id ?? 0);
  const topics = new Map<string, Set<ServerResponse>>();
  const waiting = new Map<string, ServerResponse>();
  let nonces = 0;

  process.on('message', (event: Published) => {
    const text = `id: ${event.id}\ndata: ${JSON.stringify({ at: event.at, data: event.data })}\n\n`;
    for (const res of topics.get(event.topic) ?? []) res.write(text);
    const publisher = waiting.get(event.nonce);
    if (publisher) {
      waiting.delete(event.nonce);
      publisher.writeHead(201, { 'content-type': 'application/json', 'x-worker': me }).end(JSON.stringify({ id: String(event.id) }));
    }
  });
  setInterval(() => {
    for (const streams of topics.values()) for (const res of streams) res.write(': heartbeat\n\n');
  }, Number(process.env.SSE_HEARTBEAT_MS ?? 15_000)).unref();

  http
    .createServer((req, res) => {
      const topic = /^\/api\/events\/([a-z0-9-]{1,64})$/.exec(req.url?.split('?')[0] ?? '')?.[1];
      if (req.url === '/healthz') return void res.end('ok');
      if (!topic) return void res.writeHead(404).end();
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-worker': me });
        res.write(`retry: 1000\n: worker ${me}\n\nevent: caught-up\ndata: {"replayed":0,"worker":"${me}"}\n\n`);
        let streams = topics.get(topic);
        if (!streams) topics.set(topic, (streams = new Set()));
        streams.add(res);
        res.on('close', () => streams.delete(res));
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const nonce = `${me}-${++nonces}`;
        waiting.set(nonce, res);
        process.send?.({ topic, data: JSON.parse(body || 'null') as unknown, nonce });
      });
    })
    .listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
}
