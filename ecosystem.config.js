// PM2 ecosystem file of this repo's reference deployment, as `astro-cluster
// init` writes it for any project: the web cluster's settings come from
// astro-cluster.config.json (and the environment, for one run), checked by
// the kit, which rejects bad values (web.port 99999) with a clear message.
//
//   pnpm exec pm2 start ecosystem.config.js    start (bin/start-pm2 does this, with checks)
//   pnpm exec pm2 reload ecosystem.config.js   zero-downtime reload, worker by worker
//
// CommonJS on purpose: PM2 loads this file with require().
'use strict';

let kit;
try {
  kit = require('astro-cluster-kit/ecosystem');
} catch (error) {
  throw new Error(`astro-cluster-kit is not installed or not built (${error.message}): run \`pnpm install\`, then ./bin/start-pm2`);
}
module.exports = kit.ecosystem(__dirname);
