import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Settings } from '../core/index.cjs';
import type { EventLog } from '../events/types.js';
import type { Handler, LimitStats } from '../server/index.js';
import { ClusterFacts } from './cluster-facts.js';
import { peerAnswer, scrapeCluster, type ClusterScrape } from './gather.js';
import { holdMetricsService } from './holder.js';
import { answerPeers, socketDir } from './peers.js';
import { startSampler } from './sampler.js';
import { installWorkerMetrics } from './worker-metrics.js';

export interface MetricsService {
  /** The whole cluster's metrics, gathered now. */
  scrape(): Promise<ClusterScrape>;
  /** Stops answering peers, the loopback port and the sampler. */
  close(): Promise<void>;
}

export interface MetricsOptions {
  settings: Settings;
  log: EventLog;
  worker: string;
  build: string;
  stats: () => LimitStats;
  say: (line: string) => void;
}

/**
 * A web worker's metrics: its registry, its socket for the other workers'
 * scrapes, the optional loopback port (METRICS_PORT) and the /ops sampler.
 * Kept on globalThis, like the kit's context, for the site's own endpoint
 * (operator sessions: metricsResponse in astro-cluster-kit/metrics).
 */
export async function startMetrics(options: MetricsOptions): Promise<MetricsService> {
  const { settings, log } = options;
  const metrics = installWorkerMetrics({ worker: options.worker, build: options.build, stats: options.stats });
  const dir = socketDir(settings.logsDir);
  const facts = new ClusterFacts(settings, log);
  // A socket that cannot be made (a folder of another user's, say) costs the other workers' scrapes this worker's series, not the site.
  const peers = await answerPeers(dir, () => peerAnswer(metrics)).catch((error: Error) => {
    options.say(`metrics: cannot listen in ${dir} (${error.message}); scrapes answered by other workers leave this one out`);
    return { close: async () => undefined };
  });
  const scrape = () => scrapeCluster(metrics, dir, facts);
  // A port another program holds costs the loopback scrape, not the worker: said, and served on the site's port still.
  const loopback = settings.metricsPort === undefined ? undefined : await listenLoopback(settings.metricsPort, scrape).catch((error: Error) => void options.say(`metrics: cannot listen on 127.0.0.1:${settings.metricsPort} (${error.message}); ${settings.metricsPath} on the site's port still answers`));
  const stopSampler = settings.metricsSampleMs > 0 ? startSampler(metrics, log, options.stats, settings.metricsSampleMs, options.say) : () => undefined;
  const service: MetricsService = {
    scrape,
    async close() {
      stopSampler();
      await Promise.all([peers.close(), loopback && new Promise<void>((resolve) => loopback.close(() => resolve()))]);
    },
  };
  holdMetricsService(service);
  return service;
}

/**
 * The kit's metrics route on the site's port: a request with a token is
 * judged by it alone (the events token as Bearer, compared in constant
 * time: 401 when wrong); one with a cookie goes on to the site, whose own
 * endpoint at the same path may serve an operator session (the reference
 * site's src/pages/metrics.ts does, behind its middleware); anyone else
 * gets 401 and never the data.
 */
export function metricsRoute(service: MetricsService, token: () => Promise<string>, site: Handler): (req: IncomingMessage, res: ServerResponse) => Promise<void> | void {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendPlain(res, 405, 'Method not allowed: GET or HEAD.\n', { Allow: 'GET, HEAD' });
    if (req.headers.authorization === undefined) {
      if (req.headers.cookie !== undefined) return site(req, res);
      return sendPlain(res, 401, 'Operators only: Authorization: Bearer <EVENTS_TOKEN>, or an operator session.\n', { 'WWW-Authenticate': 'Bearer' });
    }
    if (!bearerMatches(req.headers.authorization, await token())) return sendPlain(res, 401, 'Operators only: the token is wrong.\n', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    await sendScrape(req, res, service);
  };
}

async function sendScrape(req: IncomingMessage, res: ServerResponse, service: MetricsService): Promise<void> {
  const scrape = await service.scrape();
  res.writeHead(200, { 'Content-Type': scrape.contentType, 'Content-Length': Buffer.byteLength(scrape.text), 'Cache-Control': 'no-store', 'x-metrics-workers': scrape.workers.join(',') });
  res.end(req.method === 'HEAD' ? undefined : scrape.text);
}

/** METRICS_PORT: the metrics without auth, on loopback only (a Prometheus on this host). Under PM2 every worker listens on it through the cluster, like the site's port. */
function listenLoopback(port: number, scrape: () => Promise<ClusterScrape>): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendPlain(res, 405, 'Method not allowed: GET or HEAD.\n', { Allow: 'GET, HEAD' });
    sendScrape(req, res, { scrape, close: async () => undefined }).catch(() => res.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function bearerMatches(header: string, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sendPlain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}
