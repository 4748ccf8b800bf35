import { statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/index.cjs';

/**
 * Whether this host is out of the proxy's rotation: a file under
 * LOGS_DIR/run, written while `deploy --hosts` switches this host (or by an
 * operator, `astro-cluster hosts out`). While it exists the health path
 * answers 503, so a proxy that checks it (HAProxy, Caddy, nginx Plus) sends
 * new requests to the other hosts; the workers keep serving what reaches
 * them, so a proxy that does not check (open-source nginx) loses nothing.
 */
export function rotationFile(logsDir: string): string {
  return path.join(logsDir, 'run', 'out-of-rotation.json');
}

export interface OutOfRotation {
  since: string;
  reason: string;
}

/** Read on every health request: one stat, no cache, so a host rejoins the moment the file goes. */
export function isOutOfRotation(logsDir: string): boolean {
  return statSync(rotationFile(logsDir), { throwIfNoEntry: false }) !== undefined;
}

export async function outOfRotation(logsDir: string): Promise<OutOfRotation | undefined> {
  const text = await readFile(rotationFile(logsDir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as OutOfRotation;
  } catch {
    return { since: '', reason: 'unreadable record' };
  }
}

export async function takeOutOfRotation(logsDir: string, reason: string): Promise<void> {
  await writeFileAtomic(rotationFile(logsDir), `${JSON.stringify({ since: new Date().toISOString(), reason } satisfies OutOfRotation)}\n`);
}

export async function putBackInRotation(logsDir: string): Promise<void> {
  await rm(rotationFile(logsDir), { force: true });
}
