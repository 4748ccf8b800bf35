import { localUrl, readSettings, type Settings } from '@kit/core';
import { eventsToken, openEventLog } from '@kit/events';
import { LongLivedResponses, serve, type RunningServer } from '@kit/server';
import path from 'node:path';
import { createApp } from './app.js';
import { assetFallback } from './asset-fallback.js';
import { loadAstroSite } from './astro-site.js';
import { eventsRoute } from './routes/events.js';
import { healthz, instanceId } from './routes/healthz.js';
import { statsRoute } from './routes/stats.js';
import { createTaskRoute, taskStreamRoute } from './routes/tasks.js';
import { secureCookiesOverHttps } from './secure-cookies.js';

/**
 * One web worker: import the Astro build, open the shared event log, then
 * listen and tell PM2 it is ready. A build that fails to import never
 * reaches `ready`, so a reload leaves the old workers serving until
 * listen_timeout.
 */
export async function startWorker(settings: Settings = readSettings()): Promise<RunningServer> {
  const startedAt = Date.now();
  const site = await loadAstroSite(settings.siteDir);
  const log = openEventLog(settings);
  const streams = new LongLivedResponses();
  const instance = instanceId();
  const worker = instance === null ? 'standalone' : String(instance);
  const context = { log, token: await eventsToken(settings), settings, streams, worker };
  const app = createApp(
    {
      '/healthz': healthz({ build: site.build.id, startedAt }),
      '/api/events/:topic': eventsRoute(context),
      '/api/tasks': createTaskRoute(context),
      '/api/tasks/:id/stream': taskStreamRoute(context),
      '/api/stats': statsRoute({ log, streams, build: site.build.id, startedAt }),
    },
    assetFallback(path.join(site.dir, 'client'), site.releasesDir, secureCookiesOverHttps(site.handler)),
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
