// The supervisor process, started detached by bin/mh (or the boot unit).
import { loadAgents, supervisorName } from './registry.js';
import { runAgent } from './runtime.js';
import { Supervisor } from './supervisor.js';

await runAgent(supervisorName, async (agent) => {
  const specs = await loadAgents(agent.settings.agentsConfig);
  await new Supervisor(agent, specs).run();
});
