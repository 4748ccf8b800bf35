// pm2-monitor: follows PM2's event bus, reports restarts and exceptions on the
// audit topic, stops crash-looping apps, and publishes the ops snapshot.
import { runAgent } from 'astro-cluster-kit/agents';
import { Pm2Monitor } from 'astro-cluster-kit/monitor';

await runAgent((agent) => new Pm2Monitor(agent).run());
