// scheduler-service: runs the jobs of scheduler.json (SCHEDULER_CONFIG) on
// their intervals, one at a time, and logs every run.
import path from 'node:path';
import { runAgent } from 'astro-cluster-kit/agents';
import { reopenPm2Logs } from 'astro-cluster-kit/cluster';
import { rotateLogs } from 'astro-cluster-kit/logs';
import { loadJobs, type Job } from './scheduler/config.js';
import { cleanup, heartbeat } from './scheduler/jobs.js';

await runAgent(async (agent) => {
  const startedAt = Date.now();
  const jobs = await loadJobs(agent.settings.schedulerConfig);
  agent.log(`jobs: ${jobs.map((job) => `${job.name} every ${job.everyMs} ms`).join(', ')}`);

  const run = async (job: Job): Promise<string> => {
    switch (job.type) {
      case 'heartbeat':
        return heartbeat(startedAt);
      case 'cleanup':
        return cleanup(job, agent.settings.logsDir);
      case 'prune-events':
        return `removed ${await agent.events.prune()} expired topic(s)`;
      case 'rotate-logs': {
        const { rotated, stillOpen } = await rotateLogs({ logsDir: agent.settings.logsDir, patterns: job.paths, maxBytes: job.maxBytes, keep: job.keep, reopen: reopenPm2Logs });
        const still = stillOpen.length > 0 ? `; pids ${stillOpen.join(', ')} still write to a rotated file` : '';
        return `rotated ${rotated.length} file(s)${rotated.length > 0 ? `: ${rotated.map((file) => path.relative(agent.settings.logsDir, file)).join(', ')}` : ''}${still}`;
      }
    }
  };
  const due = new Map(jobs.map((job) => [job, Date.now()]));
  while (!agent.signal.aborted) {
    for (const job of jobs.filter((j) => (due.get(j) ?? 0) <= Date.now())) {
      const began = Date.now();
      try {
        const summary = await agent.unit(async () => {
          const done = await run(job);
          // Checked again before reporting: a process frozen past its lease and resumed must not report beside the host that took over.
          await agent.checkLock();
          return done;
        });
        agent.log(`job ${job.name} ran in ${Date.now() - began} ms: ${summary}`);
        await agent.audit('job', `${job.name}: ${summary}`, { job: job.name, ms: Date.now() - began });
      } catch (error) {
        agent.log(`job ${job.name} failed after ${Date.now() - began} ms: ${(error as Error).message}`);
      }
      due.set(job, began + job.everyMs);
      if (agent.signal.aborted) break;
    }
    if (!(await agent.sleep(Math.max(0, Math.min(...due.values()) - Date.now())))) break;
  }
});
