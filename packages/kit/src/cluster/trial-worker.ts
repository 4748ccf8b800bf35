import { spawn } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import { errors, workerEnv, workerScript, type Settings } from '../core/index.cjs';
import { fetchHealth } from './health.js';
import { freePort } from './port.js';


/**
 * Starts one worker of the current build outside PM2, on a free loopback
 * port, and checks that it becomes ready and serves. PM2 has no rollback: a
 * reload to a build that cannot start would take every worker down, so the
 * kit tries the build first.
 */
export async function tryWorker(settings: Settings): Promise<{ build: string; startMs: number }> {
  const port = await freePort();
  // No fallback to the last good release: the trial is there to fail when the new build cannot start.
  const env: NodeJS.ProcessEnv = { ...process.env, ...workerEnv(settings), HOST: '127.0.0.1', PORT: String(port), ASTRO_CLUSTER_NO_FALLBACK: '1', METRICS: 'off' };
  delete env.NODE_APP_INSTANCE;
  const started = Date.now();
  const child = spawn(process.execPath, ['--enable-source-maps', workerScript], { cwd: settings.root, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');

  try {
    const outcome = await Promise.race([
      new Promise<'ready'>((resolve) => child.on('message', (message) => message === 'ready' && resolve('ready'))),
      exited.then(([code]) => `exited with code ${code}` as const),
      new Promise<string>((resolve) => setTimeout(() => resolve(`not ready after ${settings.startTimeoutMs} ms`), settings.startTimeoutMs).unref()),
    ]);
    if (outcome !== 'ready') throw errors.canaryFailed(`${outcome}\n${output.trim().split('\n').slice(-20).join('\n')}`);
    const startMs = Date.now() - started;
    const health = await fetchHealth({ host: '127.0.0.1', port, path: settings.healthPath, secure: Boolean(settings.tls) }, 3000).catch((error: Error) => {
      throw errors.canaryFailed(`${error.message}\n${output.trim()}`);
    });
    return { build: health.build, startMs };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), settings.drainTimeoutMs + 1000);
      await exited;
      clearTimeout(killer);
    }
  }
}
