import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connectionCaps, errors, localUrl, readSettings, type Settings } from '../core/index.cjs';
import { recordLastGood } from '../deploy/last-good.js';
import { audit, eventsToken, openEventLog } from '../events/index.js';
import { countRequest } from '../metrics/count-requests.js';
import { metricsRoute, startMetrics } from '../metrics/service.js';
import { instanceName, provideContext, type KitContext } from '../runtime/context.js';
import { keepHostRegistered } from '../hosts/registry.js';
import { isOutOfRotation } from '../hosts/rotation.js';
import { answerDroppedRejections, Limits, limitStreams, LongLivedResponses, serve, TrustedProxies, type RunningServer } from '../server/index.js';
import { answerPings } from './ping.js';
import { createApp } from './app.js';
import { assetFallback } from './asset-fallback.js';
import { allowedHostsOnly } from './hosts.js';
import { healthz } from './routes/healthz.js';
import { loadServedSite } from './served-site.js';
import { secureCookiesOverHttps } from './secure-cookies.js';
import { cutSlowStreams } from './slow-streams.js';

/**
 * One web worker: open the shared event log, import the Astro build, then
 * listen and tell PM2 it is ready. The kit answers only the health and
 * metrics paths itself; every other URL is the site's. A build that fails to import is
 * replaced by the last release that served (degraded, and said so on the
 * health path, in the log and on `audit`); with no such release, or in a
 * trial worker, the worker never reaches `ready`.
 */
export async function startWorker(settings: Settings = readSettings()): Promise<RunningServer> {
  const startedAt = Date.now();
  const log = openEventLog(settings);
  const streams = new LongLivedResponses();
  const worker = instanceName();
  let token: Promise<string> | undefined;
  const context: KitContext = { settings, log, streams, worker, build: undefined, startedAt, token: () => (token ??= eventsToken(settings)) };
  // Before the site's code runs: its endpoints find the worker's event log and drain through this context.
  provideContext(context);
  // Made now, not on the first publish: commands and tests read it from LOGS_DIR/run/events.token.
  await context.token();
  const { site, degraded } = await loadServedSite(settings);
  // The build's handler drops its render promises (and its import added a listener for what escapes them): a
  // session that cannot be saved gets its request a 503, not a hang.
  answerDroppedRejections();
  context.build = site.build;
  // Whose X-Forwarded-For and -Proto count (web.trustedProxies): the per-client caps and Secure cookies read them.
  const proxies = new TrustedProxies(settings.trustedProxies);
  const limits = new Limits(connectionCaps(settings), proxies);
  const outOfRotation = () => isOutOfRotation(settings.logsDir);
  const tls = settings.tls && { cert: readPem('certificate', settings.tls.certPath), key: readPem('key', settings.tls.keyPath) };
  const served = cutSlowStreams(assetFallback(path.join(site.dir, 'client'), site.releasesDir, secureCookiesOverHttps(site.handler, proxies)), (req, res) => limits.addStream(req, res));
  // Prometheus metrics of the whole cluster (metrics/): this worker's registry, its socket for the others' scrapes, the /ops sampler.
  // Not in a trial worker (METRICS=off): it serves for seconds, on another port, and is no part of the cluster.
  const metrics = settings.metricsEnabled ? await startMetrics({ settings, log, worker, build: site.build.id, stats: () => limits.stats(), say: (line) => console.error(line) }) : undefined;
  // Hosts first (a request for another site is none of ours), then the caps, then the kit's paths (health, metrics) and the site.
  const app = allowedHostsOnly(
    settings.siteHosts,
    settings.healthPath,
    limitStreams(
      limits,
      createApp(
        {
          [settings.healthPath]: healthz({ build: site.build.id, startedAt, degraded, outOfRotation }),
          ...(metrics && { [settings.metricsPath]: metricsRoute(metrics, context.token, served) }),
        },
        served,
      ),
    ),
    proxies,
  );
  // Not from a trial worker (no fallback): its release is not what this host serves yet.
  const unregister = settings.siteFallback
    ? keepHostRegistered(settings, () => ({
        release: site.build.id,
        listen: `${settings.host}:${settings.port}`,
        health: outOfRotation() ? 'out-of-rotation' : degraded ? 'degraded' : 'ok',
        by: `web worker pid ${process.pid}`,
      }))
    : () => undefined;
  const running = await serve({
    handler: app,
    host: settings.host,
    port: settings.port,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
    drainTimeoutMs: settings.drainTimeoutMs,
    headersTimeoutMs: settings.headersTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    limits,
    ...(tls && { tls }),
    streams,
    observe: (req, res) => countRequest(req, res, settings),
    onClose: async () => {
      unregister();
      await metrics?.close();
      await log.close();
    },
  });
  answerPings(() => limits.stats());
  const who = worker === 'standalone' ? 'standalone' : `worker ${worker}`;
  const { maxConnections, maxStreams, maxStreamsPerClient } = limits.caps;
  console.log(`${who} (pid ${process.pid}) serving build ${site.build.id} on ${localUrl(settings.host, running.port, Boolean(tls))} (at most ${maxConnections} connections, ${maxStreams} streams, ${maxStreamsPerClient} per client) after ${Date.now() - startedAt} ms (events: ${log.backend})`);
  if (degraded) {
    const message = `${who} (pid ${process.pid}) is degraded: it serves the last good release ${site.build.id}, because build ${degraded.wanted} could not be loaded: ${degraded.reason}`;
    console.error(message);
    const failed = await audit(log, { source: settings.webAppName, kind: 'degraded', message, worker, pid: process.pid, build: site.build.id, wanted: degraded.wanted, reason: degraded.reason });
    if (failed) console.error(`could not publish the degraded audit entry: ${failed.message}`);
  } else if (site.releasesDir && settings.siteFallback) {
    // Only now that it listens and said ready: the release a later worker may fall back to.
    // Not from a trial worker (no fallback): it proves nothing about the cluster yet, and is stopped at once.
    try {
      recordLastGood(site.releasesDir, { id: site.build.id, dir: site.dir });
    } catch (error) {
      console.error(`could not record the last good release: ${(error as Error).message}`);
    }
  }
  return running;
}

function readPem(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw errors.tlsUnreadable(what, file, error);
  }
}
