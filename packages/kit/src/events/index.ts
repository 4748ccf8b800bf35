export { audit, auditTopic, type AuditEntry } from './audit.js';
export { FileEventLog } from './file-log.js';
export { hasBearer, json, readJsonBody, type BodyResult } from './http.js';
export { eventsToken, openEventLog } from './open.js';
export { compareIds, RedisEventLog } from './redis-log.js';
export { eventStream, lastEventId, type EventStreamOptions } from './sse.js';
export { enqueueTask, isTaskEnd, taskIdPattern, taskQueueTopic, taskTopic, validPrompt, type TaskEvent } from './tasks.js';
export { isTopic } from './topics.js';
export type { EventLog, ReadResult, Retention, StoredEvent, SubscribeOptions, Subscription } from './types.js';
