// The lock holder process the supervisor starts for each agent: `node holder-main.js`
// with AGENT_NAME set. See holder.ts.
import { runHolder } from './holder.js';

const name = process.env.AGENT_NAME;
if (!name) {
  console.error('holder-main: AGENT_NAME is not set (the supervisor sets it)');
  process.exit(2);
}
await runHolder(name);
