export { fetchHealth, type HealthReport, type HealthTarget } from './health.js';
export { deleteForGood, forGoodTimeoutMs, stopForGood, type ForGoodOptions } from './for-good.js';
export { Pm2Client, runningDaemon, type DaemonInfo, type Pm2Bus, type Pm2BusPacket, type Pm2Process } from './pm2-client.js';
export { checkPort, freePort, type PortState } from './port.js';
export { tryWorker } from './trial-worker.js';
export { waitForWorkers } from './wait-healthy.js';
export { ecosystemFile, expectedInstances, kitWorkers, reloadWeb, reopenPm2Logs, saveProcessList, startWeb, stopWeb, waitForKitWorkers, type WebState } from './web.js';
