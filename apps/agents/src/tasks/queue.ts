import { describe } from 'astro-cluster-kit/core';
import { audit, type Reclaim, type StoredEvent } from 'astro-cluster-kit/event-log';
import { runTask, type TaskOutcome } from './runner.js';
import { setAside, type SetAsideContext } from './set-aside.js';
import { clip, readQueued, type QueuedTask } from './validate.js';

/*
 * Poison or outage? The rule for one message of the task queue.
 *
 * A message that cannot be handled must not stop the queue (a crash would
 * restart us on the same message until the supervisor gives up), but a
 * failure of the event log itself must not cost a good task either. So:
 *
 * 1. A message that fails the checks of readQueued (not an object, no task
 *    id of the kit's pattern, no prompt of 1..2000 characters) is poison:
 *    it is set aside at once, without being run.
 * 2. A message that passed them and still throws while it runs is retried,
 *    with a back-off, the agent staying up. Before each retry the runner
 *    reports the failure on the audit topic, which doubles as a probe of
 *    the log:
 *    - the report is refused too: the log is down (Redis unreachable, disk
 *      full): a systemic failure. The message is kept and retried for as
 *      long as it takes (a stop request ends the wait), and the count of
 *      strikes starts again, since those failures say nothing of it;
 *    - the report lands: the log works, and this message failed anyway: a
 *      strike. After `strikes` (3) of them in a row it is set aside too.
 * 3. Setting aside needs the set-aside file and the audit entry written;
 *    when they cannot be, that too is systemic: retried, never skipped.
 *
 * The checkpoint moves past a message only once it ran or was set aside, so
 * a stop or a crash in between handles it again, no more than once (runTask
 * skips a task whose topic shows an end, and goes on with one cut off
 * mid-way from its next step, reporting it).
 */

/** What the queue needs of its agent; the AgentContext of runAgent is one. */
export interface QueueAgent extends SetAsideContext {
  readonly signal: AbortSignal;
  audit(kind: string, message: string, details?: Record<string, unknown>): Promise<void>;
  unit<T>(work: () => Promise<T>): Promise<T>;
  /** Waits, or less when asked to stop; false once stopping. */
  sleep(ms: number): Promise<boolean>;
}

export interface QueueOptions {
  /** Where set-aside messages are kept, one JSON file each. */
  setAsideDir: string;
  stepMs: number;
  /** Records that the queue is handled up to `id` (in the same unit of work as the message). */
  checkpoint(id: string): Promise<void>;
  /** Before each step of a task: the agent's lock check, and keeping message `queueId` claimed. */
  beforeStep?(queueId: string): Promise<void>;
  /** Failures in a row, with the log working, that make a well-formed message poison. */
  strikes?: number;
  /** The wait before retry number `attempt` (1, 2…). */
  backoffMs?(attempt: number): number;
}

export const defaultStrikes = 3;

/** 1 s, 2 s, 4 s… up to 30 s: quick for a blip, gentle on a log that is down for long. */
export function defaultBackoffMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 15));
}

type Plan = { run: QueuedTask } | { setAside: string; task: string | undefined };

/**
 * Handles one message of the queue, retrying as the rule above says until it
 * ran or was set aside (true), or until the agent is asked to stop (false:
 * the checkpoint stays before it).
 */
export async function handleQueued(agent: QueueAgent, event: StoredEvent, options: QueueOptions, reclaimed?: Reclaim): Promise<boolean> {
  const strikesAllowed = options.strikes ?? defaultStrikes;
  const backoff = options.backoffMs ?? defaultBackoffMs;
  const verdict = readQueued(event);
  let plan: Plan = verdict.ok ? { run: verdict.task } : { setAside: verdict.reason, task: verdict.task };
  let strikes = 0;
  for (let attempt = 1; ; attempt++) {
    const current = plan;
    try {
      await agent.unit(async () => {
        if ('run' in current) {
          // A retry goes on from the step the failed attempt reached, and says so.
          const earlier = reclaimed ?? (attempt > 1 ? { from: `attempt ${attempt - 1} of this runner`, deliveries: attempt } : undefined);
          await run(agent, event, current.run, options, earlier);
        } else {
          await setAside(agent, options.setAsideDir, event, current.setAside, current.task);
          await options.checkpoint(event.id);
        }
      });
      return true;
    } catch (error) {
      const delay = backoff(attempt);
      const what = 'run' in current ? `task ${current.run.id} (queue event ${event.id})` : `setting queue event ${event.id} aside`;
      if ('run' in current) {
        const refused = await audit(agent.events, {
          source: agent.name,
          kind: 'retry',
          message: `${what} failed: ${clip(describe(error), 300)}`,
          pid: process.pid,
          queueId: event.id,
          task: current.run.id,
          attempt,
        });
        if (refused) {
          strikes = 0;
          agent.log(`${what} failed and the event log is unreachable (${clip(describe(refused), 300)}): keeping it`);
        } else if (++strikes >= strikesAllowed) {
          agent.log(`${what} failed ${strikes} times in a row while the event log worked: setting it aside`);
          plan = { setAside: `failed ${strikes} times in a row while the event log worked: ${clip(describe(error), 300)}`, task: current.run.id };
          continue;
        }
      }
      agent.log(`${what} failed (attempt ${attempt}): ${clip(describe(error), 300)}; trying again in ${delay} ms`);
      if (!(await agent.sleep(delay))) {
        agent.log(`${what}: stopping before it is handled; the next start takes it up again`);
        return false;
      }
    }
  }
}

async function run(agent: QueueAgent, event: StoredEvent, task: QueuedTask, options: QueueOptions, reclaimed: Reclaim | undefined): Promise<TaskOutcome> {
  const began = Date.now();
  const beforeStep = options.beforeStep && (() => options.beforeStep!(event.id));
  const { outcome, step } = await runTask(agent.events, task, { stepMs: options.stepMs, beforeStep, reclaimed });
  await options.checkpoint(event.id);
  const from = reclaimed ? ` (claimed again from ${reclaimed.from}, delivery ${reclaimed.deliveries})` : '';
  agent.log(`task ${task.id}: ${outcome}${outcome === 'reclaimed' ? ` from step ${step}` : ''}${from} in ${Date.now() - began} ms`);
  if (outcome === 'reclaimed') {
    // Reported, for an operator: the runner before stopped mid-task, and this one finished it.
    await agent.audit('reclaimed', `task ${task.id} taken up at step ${step}${from}`, { task: task.id, step, queueId: event.id, from: reclaimed?.from ?? null });
  }
  if (outcome !== 'skipped') await agent.audit('task', `task ${task.id} ${outcome} in ${Date.now() - began} ms`, { task: task.id, outcome });
  return outcome;
}
