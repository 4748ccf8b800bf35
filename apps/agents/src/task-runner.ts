// task-runner: runs the tasks web workers queue (POST /api/tasks), each once
// in the whole cluster, publishing progress on the task's own topic.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runAgent } from 'astro-cluster-kit/agents';
import { logPaths, writeFileAtomic } from 'astro-cluster-kit/core';
import { taskQueueTopic, type StoredEvent } from 'astro-cluster-kit/event-log';
import { runTask } from './tasks/runner.js';

await runAgent('task-runner', async (agent) => {
  // Where it got to in the queue, so a restart neither skips nor repeats a task.
  const checkpointFile = path.join(logPaths(agent.settings.logsDir).agentState, 'task-runner.json');
  const checkpoint = await readFile(checkpointFile, 'utf8')
    .then((text) => JSON.parse(text) as { after: string })
    .catch(() => ({ after: '0' }));

  const queue: StoredEvent[] = [];
  const waker = agent.waker();
  let failure: unknown;
  const subscription = agent.events.subscribe(taskQueueTopic, {
    after: checkpoint.after,
    onEvent: (event) => {
      queue.push(event);
      waker.wake();
    },
    onReset: ({ oldest }) => agent.log(`the queue no longer holds task ${checkpoint.after}: going on from ${oldest ?? 'the start'}`),
    // The queue could not be read: crash, so the supervisor restarts us from the checkpoint rather than skip tasks.
    onError: (error) => {
      failure = error;
      waker.wake();
    },
  });
  agent.log(`waiting for tasks after queue id ${checkpoint.after}`);
  try {
    while (!agent.signal.aborted) {
      if (failure) throw failure;
      const next = queue.shift();
      if (!next) {
        await waker.wait(5000);
        continue;
      }
      const began = Date.now();
      const { id, outcome } = await agent.unit(() => runTask(agent.events, next, agent.settings.taskStepMs));
      checkpoint.after = next.id;
      await writeFileAtomic(checkpointFile, JSON.stringify(checkpoint));
      agent.log(`task ${id}: ${outcome} in ${Date.now() - began} ms`);
      if (outcome !== 'skipped') await agent.audit('task', `task ${id} ${outcome} in ${Date.now() - began} ms`, { task: id, outcome });
    }
  } finally {
    subscription.close();
  }
});
