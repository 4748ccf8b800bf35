export { ConnectionTracker } from './connections.js';
export { answerDroppedRejections, answerStoreFailure, guard, pathOf, sendText, type Handler } from './guard.js';
export { LongLivedResponses } from './long-lived.js';
export { serve, type RunningServer, type ServeOptions } from './serve.js';
export { onShutdownRequest, tellPm2Ready } from './shutdown-request.js';
export { Limits, limitStreams, sendRefusal, type LimitCaps, type LimitStats, type Refusal } from './limits.js';
export { TrustedProxies, parseAddress } from './client-address.js';
