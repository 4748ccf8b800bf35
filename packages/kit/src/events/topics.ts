import { errors } from '../core/index.cjs';

const topicPattern = /^[a-z0-9-]{1,64}$/;

export function isTopic(value: string): boolean {
  return topicPattern.test(value);
}

export function assertTopic(value: string): void {
  if (!isTopic(value)) throw errors.badTopic(value);
}
