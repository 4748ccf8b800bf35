export interface CrashPolicy {
  /** Abnormal exits within the window that make a crash loop. */
  limit: number;
  windowMs: number;
}

/**
 * Counts an app's abnormal exits in a sliding window: the `limit`-th one
 * within `windowMs` is a crash loop. Pure, so the rule is tested alone.
 */
export class CrashWindow {
  readonly #exits = new Map<string, number[]>();

  constructor(private readonly policy: CrashPolicy) {}

  /** Records an exit; true when it makes a crash loop. */
  record(app: string, at: number): boolean {
    const recent = (this.#exits.get(app) ?? []).filter((time) => at - time < this.policy.windowMs);
    recent.push(at);
    this.#exits.set(app, recent);
    return recent.length >= this.policy.limit;
  }

  /** Exits counted now for an app (within the window as of `at`). */
  count(app: string, at: number): number {
    return (this.#exits.get(app) ?? []).filter((time) => at - time < this.policy.windowMs).length;
  }

  forget(app: string): void {
    this.#exits.delete(app);
  }
}

/** Whether an app is watched: listed, or `*` for every app. */
export function watches(apps: string[], app: string): boolean {
  return apps.includes('*') || apps.includes(app);
}
