export { buildState, type BuildState, type Release } from './build.js';
export { buildTried, deploy, rollback, switchTo, withReleasesLock, type DeployResult } from './deploy.js';
export { currentRelease, listReleases, previousRelease } from './releases.js';
export { releasePaths, type ReleasePaths } from './site-paths.js';
export { siteInputs } from './inputs.js';
export { deployAcrossHosts, type HostsDeployResult } from './across-hosts.js';
export { receiveRelease, releaseId, switchHostTo } from './host-steps.js';
