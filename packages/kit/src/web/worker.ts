import path from 'node:path';
import { localUrl, readSettings, type Settings } from '../core/index.cjs';
import { eventsToken, openEventLog } from '../events/index.js';
import { instanceName, provideContext, type KitContext } from '../runtime/context.js';
import { answerDroppedRejections, LongLivedResponses, serve, type RunningServer } from '../server/index.js';
import { createApp } from './app.js';
import { assetFallback } from './asset-fallback.js';
import { loadAstroSite } from './astro-site.js';
import { healthz } from './routes/healthz.js';
import { secureCookiesOverHttps } from './secure-cookies.js';
import { cutSlowStreams } from './slow-streams.js';

/**
 * One web worker: open the shared event log, import the Astro build, then
 * listen and tell PM2 it is ready. The kit answers only the health path
 * itself; every other URL is the site's. A build that fails to import never
 * reaches `ready`, so a reload leaves the old workers serving until
 * listen_timeout.
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
  const site = await loadAstroSite(settings.siteDir);
  // The build's handler drops its render promises (and its import added a listener for what escapes them): a
  // session that cannot be saved gets its request a 503, not a hang.
  answerDroppedRejections();
  context.build = site.build;
  const app = createApp(
    { [settings.healthPath]: healthz({ build: site.build.id, startedAt }) },
    cutSlowStreams(assetFallback(path.join(site.dir, 'client'), site.releasesDir, secureCookiesOverHttps(site.handler))),
  );
  const running = await serve({
    handler: app,
    host: settings.host,
    port: settings.port,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
    drainTimeoutMs: settings.drainTimeoutMs,
    streams,
    onClose: () => log.close(),
  });
  const who = worker === 'standalone' ? 'standalone' : `worker ${worker}`;
  console.log(`${who} (pid ${process.pid}) serving build ${site.build.id} on ${localUrl(settings.host, running.port)} after ${Date.now() - startedAt} ms (events: ${log.backend})`);
  return running;
}
