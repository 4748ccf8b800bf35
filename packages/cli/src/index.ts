export { startKit, stopKit, type KitStarted, type KitStopped, type StartOptions } from './kit.js';
export { checkDependencies, checkNode, ensureSiteBuild } from './preflight.js';
