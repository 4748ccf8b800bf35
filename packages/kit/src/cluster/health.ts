import http from 'node:http';
import { reachableHost } from '../core/index.cjs';

/** The body of GET /healthz (packages/web/src/routes/healthz.ts). */
export interface HealthReport {
  status: string;
  pid: number;
  instance: number | null;
  build: string;
  /** With status "degraded": the build SITE_DIR holds, which the worker could not load, and why. */
  wanted?: string;
  reason?: string;
  uptimeMs: number;
}

/**
 * Asks /healthz over a new connection. The cluster primary hands each new
 * connection to the next worker, so repeated probes visit every worker.
 */
export function fetchHealth(host: string, port: number, timeoutMs = 3000): Promise<HealthReport> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: reachableHost(host), port, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`/healthz answered ${res.statusCode}`));
        try {
          resolve(JSON.parse(body) as HealthReport);
        } catch {
          reject(new Error('/healthz answered something other than JSON'));
        }
      });
      // A connection cut mid-body ends neither with 'end' nor 'error' on the request.
      res.on('close', () => reject(new Error('/healthz: the connection closed before the answer was complete')));
    });
    req.on('timeout', () => req.destroy(new Error(`/healthz did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
