import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { request } from '../helpers/http.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import type { HoldReport } from './hold-streams.js';

const holdScript = path.join(path.dirname(new URL(import.meta.url).pathname), 'hold-streams.ts');

export interface Held {
  established: number;
  failed: number;
  /** What every child saw since the last report, summed (see hold-streams.ts). */
  report(at?: number): Promise<Required<HoldReport>>;
  close(): void;
}

/**
 * Opens `total` event streams from child processes (each holds at most
 * `perProcess`, from its own loopback address, so neither file descriptors
 * nor ephemeral ports run out) and waits until all are established or failed.
 * `reconnect`: streams come back with Last-Event-ID when the server ends them.
 */
export async function holdStreams(
  url: string,
  total: number,
  perProcess = 5000,
  onProgress: (established: number) => void = () => {},
  options: { reconnect?: boolean } = {},
): Promise<Held> {
  const counts = Math.ceil(total / perProcess);
  const children = Array.from({ length: counts }, (_, i) => {
    const count = Math.min(perProcess, total - i * perProcess);
    return spawn(process.execPath, ['--import', import.meta.resolve('tsx'), holdScript, url, String(count), `127.0.0.${i + 2}`], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, RECONNECT: options.reconnect ? '1' : '0' },
    });
  });
  const state = children.map(() => ({ established: 0, failed: 0, done: false }));
  await Promise.all(
    children.map(
      (child, i) =>
        new Promise<void>((resolve) => {
          child.on('message', function progress(message: HoldReport) {
            state[i] = { established: message.established, failed: message.failed, done: Boolean(message.done) };
            if (message.done) child.off('message', progress);
            onProgress(state.reduce((sum, s) => sum + s.established, 0));
            if (message.done) resolve();
          });
          child.once('exit', () => resolve());
        }),
    ),
  );
  return {
    established: state.reduce((sum, s) => sum + s.established, 0),
    failed: state.reduce((sum, s) => sum + s.failed, 0),
    report: async (at?: number) => {
      const reports = await Promise.all(
        children.map(
          (child) =>
            new Promise<HoldReport>((resolve) => {
              child.once('message', resolve);
              child.send({ report: true, at });
            }),
        ),
      );
      const sum = (key: keyof HoldReport) => reports.reduce((total, report) => total + Number(report[key] ?? 0), 0);
      return {
        established: sum('established'),
        failed: sum('failed'),
        done: true,
        open: sum('open'),
        withHeartbeat: sum('withHeartbeat'),
        events: sum('events'),
        gaps: sum('gaps'),
        reconnected: sum('reconnected'),
        atId: sum('atId'),
      };
    },
    close: () => {
      for (const child of children) if (child.connected) child.send('close');
    },
  };
}

/** Publishes through the HTTP API on a new connection (any worker may take it): the id and the worker that stored it. */
export async function publishOver(base: string, token: string, topic: string, data: unknown, timeoutMs?: number): Promise<{ id: string; worker: string }> {
  const res = await request(`${base}/api/events/${topic}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
    timeoutMs,
  });
  assert.equal(res.status, 201, res.body);
  return { id: (JSON.parse(res.body) as { id: string }).id, worker: String(res.headers['x-worker']) };
}

/**
 * Resident memory of these processes once they settle: the lowest total
 * over `seconds` of sampling. Right after 20,000 connections open, RSS still
 * holds the garbage of opening them; V8 gives it back once allocation goes
 * quiet, and what stays is what the streams hold.
 */
export async function settledRssBytes(pids: number[], seconds: number): Promise<number> {
  let lowest = rssBytes(pids);
  for (let i = 0; i < seconds; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    lowest = Math.min(lowest, rssBytes(pids));
  }
  return lowest;
}

/** The per-process open-file limit (soft) of a process, from /proc. */
export function openFileLimit(pid: number): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return match ? (match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1])) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory of these processes, in bytes. */
export function rssBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      // Gone.
    }
  }
  return total;
}

export interface FanoutLatency {
  streams: number;
  events: number;
  delivered: number;
  p50: number;
  p99: number;
  /** Only receipts on a worker other than the one the event was published through. */
  otherWorkerP50: number;
  otherWorkerP99: number;
}

/**
 * Publish → receipt latency: `streams` measuring streams over the workers,
 * `events` events published through the HTTP API (any worker), each
 * carrying its send time.
 */
export async function fanoutLatency(base: string, token: string, topic: string, streams: number, events: number, perSecond: number): Promise<FanoutLatency> {
  const clients = Array.from({ length: streams }, () => new SseClient(`${base}/api/events/${topic}`));
  await Promise.all(clients.map((client) => client.opened()));
  await waitFor('measuring streams subscribed', () => clients.every((client) => client.events.some((e) => e.event === 'caught-up')), { timeoutMs: 60_000 });
  const publishedOn = new Map<string, string>();
  for (let n = 0; n < events; n++) {
    const { id, worker } = await publishOver(base, token, topic, { sentAt: Date.now(), n });
    publishedOn.set(id, worker);
    await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond));
  }
  await waitFor('every event on every measuring stream', () => clients.every((client) => client.ids().length >= events), { timeoutMs: 120_000 }).catch(() => undefined);
  const all: number[] = [];
  const other: number[] = [];
  for (const client of clients) {
    for (const event of client.events.filter((e) => e.event === 'message')) {
      const latency = event.at - payload<{ sentAt: number }>(event).sentAt;
      all.push(latency);
      if (publishedOn.get(event.id!) !== event.worker) other.push(latency);
    }
    client.close();
  }
  return {
    streams,
    events,
    delivered: all.length,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    otherWorkerP50: percentile(other, 50),
    otherWorkerP99: percentile(other, 99),
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
