// audio-organizer: watches AUDIO_INBOX and files audio into AUDIO_LIBRARY.
import { watch } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { runAgent } from 'astro-cluster-kit/agents';
import { AudioOrganizer } from './audio/organizer.js';

await runAgent(async (agent) => {
  const { audioInbox: inbox, audioLibrary: library, audioSettleMs: settleMs } = agent.settings;
  await mkdir(inbox, { recursive: true });
  const organizer = new AudioOrganizer({
    inbox,
    library,
    settleMs,
    log: agent.log,
    act: agent.unit,
    moved: (from, to) => void agent.audit('moved', `filed ${from} as ${to}`, { from, to }),
  });
  agent.log(`watching ${inbox}; filing into ${library} once a file is unchanged for ${settleMs} ms`);

  // fs.watch wakes the loop early; the periodic pass catches what it misses (and notices settling).
  const waker = agent.waker();
  const watcher = watch(inbox, () => waker.wake());
  watcher.on('error', (error) => agent.log(`watching the inbox failed (${error.message}); looking every ${settleMs} ms instead`));
  const pollMs = Math.max(100, Math.min(1000, Math.floor(settleMs / 2)));
  try {
    while (!agent.signal.aborted) {
      try {
        await organizer.pass();
      } catch (error) {
        agent.log(`pass failed: ${(error as Error).message}`);
      }
      await waker.wait(pollMs);
    }
  } finally {
    watcher.close();
  }
});
