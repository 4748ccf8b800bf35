export { startKit, stopKit, type KitStarted, type KitStopped, type StartOptions } from './kit.js';
export { initProject, type InitOptions, type InitResult } from './init/init.js';
export { everydayCommands } from './everyday.js';
