// The one-process servers the bench and the memory probe start by hand
// (outside PM2): their environment, the bare SSE server, and stopping one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

const here = path.dirname(new URL(import.meta.url).pathname);

/** The environment of a site server (the adapter's, or the kit's worker) run as one process on `port`, outside PM2. */
export function oneProcessEnv(port: number, logsDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ASTRO_CLUSTER_ROOT: repoRoot,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOGS_DIR: logsDir,
    NODE_ENV: 'production',
    ASTRO_NODE_LOGGING: 'disabled',
    ...extra,
  };
  // Set under PM2: a worker would take itself for one of a cluster.
  delete env.NODE_APP_INSTANCE;
  return env;
}

/**
 * tests/bench/bare-sse-server.ts on `port` with `workers` processes
 * (node:cluster); resolves once every worker listens, with their pids.
 */
export async function startBareServer(port: number, workers: number, env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; workerPids: number[] }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(here, 'bare-sse-server.ts')], {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1', WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor('the bare SSE server to listen', () => out.includes('ready'), { timeoutMs: 60_000 });
  const workerPids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  return { url: `http://127.0.0.1:${port}`, child, workerPids };
}

/** SIGTERM, then its exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}
