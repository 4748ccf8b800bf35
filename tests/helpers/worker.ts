import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { repoRoot } from './kit.js';

export const workerScript = path.join(repoRoot, 'packages', 'kit', 'dist', 'web', 'main.js');

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts the web worker by hand, as `node packages/kit/dist/web/main.js`, and waits for its 'ready' message. */
export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_APP_INSTANCE;
  const child = spawn(process.execPath, [workerScript], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = new Promise<void>((resolve) => child.on('message', (message) => message === 'ready' && resolve()));
  const outcome = await Promise.race([ready.then(() => 'ready'), exited.then((code) => `exited with ${code}`)]);
  if (outcome !== 'ready') throw new Error(`worker ${outcome}:\n${text}`);
  return { child, output: () => text, exited };
}
