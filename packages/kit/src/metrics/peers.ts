// How the worker that gets a scrape hears from all the others. prom-client's
// cluster aggregation asks the cluster primary, and under PM2 the primary is
// PM2's daemon, where no app code runs (prom-client issue #239). Two ways
// remain: PM2's bus (pm2.sendDataToProcessId, answers over the daemon) or a
// side channel. This is the side channel: each worker listens on a Unix
// socket LOGS_DIR/run/metrics/<pid>.sock (0700 folder: the kit's user only)
// and answers every connection with its registry as JSON, then closes. No
// PM2 connection per scrape (an RPC handshake with the daemon, which is
// busy exactly when things go wrong), the same code standalone or under
// PM2, and a dead worker shows up as a refused connection, its socket
// file then removed. The folder is per installation (per LOGS_DIR).
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { isAlive, logPaths } from '../core/index.cjs';

export type RegistryJson = MetricObjectWithValues<MetricValue<string>>[];

/** What a peer sends: who it is, and its registry. */
export interface PeerAnswer {
  pid: number;
  worker: string;
  metrics: RegistryJson;
}

/** Linux caps a socket path at 107 bytes: a deep LOGS_DIR gets a folder under the system's temp dir instead, named by its hash. */
const MAX_SOCKET_PATH = 100;

export function socketDir(logsDir: string): string {
  const dir = path.join(logPaths(logsDir).run, 'metrics');
  if (Buffer.byteLength(path.join(dir, '4194304.sock')) <= MAX_SOCKET_PATH) return dir;
  return path.join(os.tmpdir(), `astro-cluster-metrics-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
}

/**
 * Answers peers' gathers on this process's socket until closed. The file
 * is removed on close and at exit; one left by a killed process is removed
 * by the next gather that finds nobody behind it.
 */
export async function answerPeers(dir: string, answer: () => Promise<PeerAnswer>): Promise<{ close: () => Promise<void> }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = path.join(dir, `${process.pid}.sock`);
  // A file of this name is a dead process's (pids are reused): ours now.
  await unlink(file).catch(() => undefined);
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    answer().then(
      (value) => socket.end(JSON.stringify(value)),
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Sockets must not keep a worker alive, nor outlive it.
  server.unref();
  const removeFile = () => {
    try {
      unlinkSync(file);
    } catch {
      // Gone already.
    }
  };
  process.once('exit', removeFile);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        process.off('exit', removeFile);
        server.close(() => resolve());
        removeFile();
      }),
  };
}

export interface Gathered {
  answers: PeerAnswer[];
  /** Live peers that did not answer within the deadline: their series are missing. */
  late: number[];
  /** Sockets with no process behind them, removed. */
  stale: number;
}

/** Asks every other process with a socket in `dir` for its registry, all at once, waiting `deadlineMs` at most. */
export async function gatherPeers(dir: string, deadlineMs: number): Promise<Gathered> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const pids = names.map((name) => /^(\d+)\.sock$/.exec(name)?.[1]).filter((pid): pid is string => pid !== undefined).map(Number).filter((pid) => pid !== process.pid);
  const result: Gathered = { answers: [], late: [], stale: 0 };
  await Promise.all(
    pids.map(async (pid) => {
      const file = path.join(dir, `${pid}.sock`);
      const outcome = await ask(file, deadlineMs);
      if (typeof outcome === 'object') result.answers.push(outcome);
      else if (outcome === 'refused' && !isAlive(pid)) {
        result.stale++;
        await unlink(file).catch(() => undefined);
      } else result.late.push(pid);
    }),
  );
  return result;
}

function ask(file: string, deadlineMs: number): Promise<PeerAnswer | 'refused' | 'late'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (value: PeerAnswer | 'refused' | 'late') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const socket = net.connect(file);
    const timer = setTimeout(() => settle('late'), deadlineMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      try {
        settle(JSON.parse(Buffer.concat(chunks).toString('utf8')) as PeerAnswer);
      } catch {
        settle('late'); // Cut short: it was there, but its answer is not usable.
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'refused' : 'late'));
  });
}
