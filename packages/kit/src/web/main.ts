// The script PM2 runs in every cluster worker (see ecosystem.config.js), and
// the way to run the site by hand: `node packages/web/dist/main.js`.
import { isKitError, readSettings, withSecrets } from '../core/index.cjs';
import type { RunningServer } from '../server/index.js';
import { drainOnFatalErrors } from './fatal.js';
import { startWorker } from './worker.js';

let running: RunningServer | undefined;
drainOnFatalErrors(() => running);
try {
  // PM2 passes no secrets (core/secrets.cts): the site's own code finds them in process.env all the same.
  Object.assign(process.env, withSecrets(process.env, readSettings().logsDir));
  running = await startWorker();
} catch (error) {
  console.error(isKitError(error) ? `${error.message}${error.hint ? `\n${error.hint}` : ''}` : error);
  process.exit(1);
}
