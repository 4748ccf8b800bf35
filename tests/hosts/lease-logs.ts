import { readAgentLog } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';

/** Runs `check`; when it fails, the error carries the hosts' agent and supervisor logs, for whoever reads the failure. */
export async function withLogs<T>(kits: TestKit[], agent: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    for (const kit of kits) {
      const lines = [agent, 'supervisor'].flatMap((name) => readAgentLog(kit, name).map((l) => ({ ...l, name })));
      lines.sort((x, y) => x.at - y.at);
      const text = lines.slice(-80).map((l) => `${new Date(l.at).toISOString()} ${l.name} [${l.pid}] ${l.text}`);
      (error as Error).message += `\n--- ${kit.env.ASTRO_CLUSTER_HOST_NAME}'s logs:\n${text.join('\n')}`;
    }
    throw error;
  }
}
