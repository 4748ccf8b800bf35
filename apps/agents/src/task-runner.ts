// task-runner: runs the tasks web workers queue (POST /api/tasks), each once
// in the whole cluster, publishing progress on the task's own topic. A
// message it cannot handle is set aside (tasks/queue.ts says when), never
// allowed to crash it over and over.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runAgent } from 'astro-cluster-kit/agents';
import { describe, logPaths, writeFileAtomic } from 'astro-cluster-kit/core';
import { taskQueueTopic, type StoredEvent, type Subscription } from 'astro-cluster-kit/event-log';
import { defaultBackoffMs, handleQueued } from './tasks/queue.js';

await runAgent(async (agent) => {
  const stateDir = logPaths(agent.settings.logsDir).agentState;
  // Where it got to in the queue, so a restart neither skips nor repeats a task.
  const checkpointFile = path.join(stateDir, 'task-runner.json');
  const setAsideDir = path.join(stateDir, 'task-runner', 'set-aside');
  const checkpoint = await readFile(checkpointFile, 'utf8')
    .then((text) => JSON.parse(text) as { after?: unknown })
    .then((saved) => ({ after: typeof saved.after === 'string' && saved.after !== '' ? saved.after : '0' }))
    .catch(() => ({ after: '0' }));

  const queue: StoredEvent[] = [];
  const waker = agent.waker();
  let failure: unknown;
  let subscription: Subscription | undefined;
  let readFailures = 0;
  const subscribe = () => {
    subscription = agent.events.subscribe(taskQueueTopic, {
      after: checkpoint.after,
      onEvent: (event) => {
        queue.push(event);
        waker.wake();
      },
      onReset: ({ oldest }) => agent.log(`the queue no longer holds task ${checkpoint.after}: going on from ${oldest ?? 'the start'}`),
      onCaughtUp: () => {
        readFailures = 0;
      },
      onError: (error) => {
        failure = error;
        waker.wake();
      },
    });
  };
  subscribe();
  agent.log(`waiting for tasks after queue id ${checkpoint.after}`);
  const options = {
    setAsideDir,
    stepMs: agent.settings.taskStepMs,
    checkpoint: async (id: string) => {
      checkpoint.after = id;
      await writeFileAtomic(checkpointFile, JSON.stringify(checkpoint));
    },
  };
  try {
    while (!agent.signal.aborted) {
      if (failure) {
        // The queue could not be read (the log is down): subscribe again from the checkpoint once it may be back,
        // rather than crash, which would burn the supervisor's restarts on an outage. Nothing is skipped either way.
        const delay = defaultBackoffMs(++readFailures);
        agent.log(`the queue could not be read (${describe(failure)}): trying again from queue id ${checkpoint.after} in ${delay} ms`);
        subscription?.close();
        failure = undefined;
        queue.length = 0;
        if (!(await agent.sleep(delay))) break;
        subscribe();
        continue;
      }
      const next = queue.shift();
      if (!next) {
        await waker.wait(5000);
        continue;
      }
      if (!(await handleQueued(agent, next, options))) break;
    }
  } finally {
    subscription?.close();
  }
});
