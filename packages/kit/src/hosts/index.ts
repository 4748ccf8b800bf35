// astro-cluster-kit/hosts: several hosts behind a proxy (docs/multi-host.md).
export { hostList, webHosts, type HostEntry } from './host-list.js';
export { hostRefreshMs, keepAgentsHostRegistered, listHosts, registerHost, unregisterHost, type HostRecord } from './registry.js';
export { isOutOfRotation, outOfRotation, putBackInRotation, rotationFile, takeOutOfRotation } from './rotation.js';
export { runOnHost, type HostRun } from './run-on-host.js';
export { nginxConfig, type NginxOptions } from '../proxy/nginx.js';
