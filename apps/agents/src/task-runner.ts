// task-runner: runs the tasks web workers queue (POST /api/tasks), each once
// in the whole cluster, publishing progress on the task's own topic. A
// message it cannot handle is set aside (tasks/queue.ts says when), never
// allowed to crash it over and over. With Redis it reads the queue through a
// consumer group, and takes up a task whose runner died or froze mid-way
// (on any host) where that one left it; with files, from its checkpoint.
import path from 'node:path';
import { runAgent } from 'astro-cluster-kit/agents';
import { describe, logPaths } from 'astro-cluster-kit/core';
import { openTaskQueue } from 'astro-cluster-kit/event-log';
import { defaultBackoffMs, handleQueued } from './tasks/queue.js';

await runAgent(async (agent) => {
  const { settings } = agent;
  const stateDir = logPaths(settings.logsDir).agentState;
  const queue = openTaskQueue({
    events: agent.events,
    redisUrl: settings.eventsBackend === 'redis' ? settings.redisUrl : undefined,
    consumer: `${settings.hostName}:${agent.name}`,
    group: agent.name,
    // Where it got to in the queue, so a restart neither skips nor repeats a task.
    checkpointFile: path.join(stateDir, 'task-runner.json'),
    claimIdleMs: settings.taskClaimIdleMs,
    log: agent.log,
  });
  const options = {
    setAsideDir: path.join(stateDir, 'task-runner', 'set-aside'),
    stepMs: settings.taskStepMs,
    checkpoint: (id: string) => queue.done(id),
    // Each step only while the lock (with Redis, the cluster-wide lease) is ours, and the message kept claimed.
    beforeStep: async (id: string) => {
      await agent.checkLock();
      await queue.touch(id);
    },
  };
  let readFailures = 0;
  let started = false;
  try {
    while (!agent.signal.aborted) {
      let message;
      try {
        if (!started) agent.log(`waiting for tasks ${await queue.start()}`);
        started = true;
        message = await queue.next(5000, agent.signal);
        readFailures = 0;
      } catch (error) {
        // The queue could not be read (the log is down): ask again once it may be back, rather than crash, which
        // would burn the supervisor's restarts on an outage. Nothing is skipped either way.
        const delay = defaultBackoffMs(++readFailures);
        agent.log(`the queue could not be read (${describe(error)}): trying again in ${delay} ms`);
        if (!(await agent.sleep(delay))) break;
        continue;
      }
      if (!message) continue;
      if (message.reclaimed) agent.log(`queue event ${message.event.id}: claimed again from ${message.reclaimed.from} (delivery ${message.reclaimed.deliveries})`);
      if (!(await handleQueued(agent, message.event, options, message.reclaimed))) break;
    }
  } finally {
    await queue.close();
  }
});
