import type { StoredEvent } from './types.js';

/** The Redis key of a topic's stream: what the event log XADDs to and the task queue's consumer group reads. */
export function eventsKey(topic: string, prefix = 'kit:'): string {
  return `${prefix}events:${topic}`;
}

/** A stream entry as the event log stores it (fields `at` and `data`, JSON) back as an event. */
export function entryToEvent(topic: string, id: string, fields: string[]): StoredEvent {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i]!, fields[i + 1]!);
  let data: unknown = null;
  try {
    data = JSON.parse(values.get('data') ?? 'null');
  } catch {
    data = values.get('data');
  }
  return { id, topic, at: values.get('at') ?? '', data };
}
