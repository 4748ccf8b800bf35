import http from 'node:http';
import https from 'node:https';
import { reachableHost } from '../core/index.cjs';

/** The body of GET on the health path (web/routes/healthz.ts). */
export interface HealthReport {
  /** ok, degraded, or out-of-rotation (503: the host asks its proxy for no new traffic, and serves). */
  status: string;
  pid: number;
  instance: number | null;
  build: string;
  /** With status "degraded": the build SITE_DIR holds, which the worker could not load, and why. */
  wanted?: string;
  reason?: string;
  uptimeMs: number;
}

/** Where a worker's health is asked: its address, and web.healthPath (HEALTH_PATH), which may not be /healthz. */
export interface HealthTarget {
  host: string;
  port: number;
  path: string;
  /** The workers serve HTTPS (SERVER_CERT_PATH). */
  secure?: boolean;
}

/**
 * Asks the health path over a new connection. The cluster primary hands each new
 * connection to the next worker, so repeated probes visit every worker.
 * `secure`: the workers serve HTTPS (SERVER_CERT_PATH); the probe goes to
 * this machine, so it does not check the certificate (it may be issued for
 * the public name only, or self-signed).
 */
export function fetchHealth(target: HealthTarget, timeoutMs = 3000): Promise<HealthReport> {
  const where = target.path;
  return new Promise((resolve, reject) => {
    const options = { host: reachableHost(target.host), port: target.port, path: target.path, agent: false as const, timeout: timeoutMs };
    const get = (callback: (res: http.IncomingMessage) => void) => (target.secure ? https.get({ ...options, rejectUnauthorized: false }, callback) : http.get(options, callback));
    const req = get((res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let report: HealthReport;
        try {
          report = JSON.parse(body) as HealthReport;
        } catch {
          return reject(new Error(res.statusCode === 200 ? `${where} answered something other than JSON` : `${where} answered ${res.statusCode}`));
        }
        // A host out of the proxy's rotation answers 503 on purpose: its workers serve all the same.
        if (res.statusCode === 200 || (res.statusCode === 503 && report.status === 'out-of-rotation')) resolve(report);
        else reject(new Error(`${where} answered ${res.statusCode}`));
      });
      // A connection cut mid-body ends neither with 'end' nor 'error' on the request.
      res.on('close', () => reject(new Error(`${where}: the connection closed before the answer was complete`)));
    });
    req.on('timeout', () => req.destroy(new Error(`${where} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
