import { KitError } from '@kit/core';

const topicPattern = /^[a-z0-9-]{1,64}$/;

export function isTopic(value: string): boolean {
  return topicPattern.test(value);
}

export function assertTopic(value: string): void {
  if (!isTopic(value)) throw new KitError('KIT_BAD_TOPIC', `${JSON.stringify(value)} is not a topic: use 1 to 64 of a-z, 0-9 and "-".`);
}
