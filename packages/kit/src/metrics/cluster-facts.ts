import { Gauge, Registry } from 'prom-client';
import { agentsStatus, type AgentStatus } from '../agents/index.js';
import type { Settings } from '../core/index.cjs';
import type { EventLog } from '../events/types.js';
import { readMonitorState } from '../monitor/state.js';
import { eventLogSize, type EventLogSize } from './event-log-size.js';

/** Every state an agent can be in: each agent gets one series per state (1 for its current one), so an alert can be `== 1`. */
const agentStates: AgentStatus['state'][] = ['running', 'starting', 'restarting', 'failed', 'stopped', 'skipped', 'unresponsive', 'unknown'];

/** A scrape reuses facts this young: reading files and locks on every scrape (every few seconds, per Prometheus) would cost for nothing. */
const FRESH_MS = 5000;

interface Facts {
  at: number;
  log: EventLogSize | undefined;
  agents: AgentStatus[] | undefined;
  monitor: Awaited<ReturnType<typeof readMonitorState>>;
}

/**
 * What belongs to the cluster rather than to one worker, read by the
 * worker that answers the scrape, with no `worker` label: the event log's
 * size, the agents' states (from their locks and the supervisor's record)
 * and the crashes the pm2-monitor agent recorded (LOGS_DIR/run/monitor.json).
 * A part that cannot be read is left out, and
 * astro_cluster_metrics_source_up says which.
 */
export class ClusterFacts {
  #facts: Promise<Facts> | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly log: EventLog,
  ) {}

  async registry(now = Date.now()): Promise<Registry> {
    let facts = this.#facts ? await this.#facts : undefined;
    if (!facts || now - facts.at > FRESH_MS) {
      this.#facts = this.#read(now);
      facts = await this.#facts;
    }
    return toRegistry(facts);
  }

  async #read(at: number): Promise<Facts> {
    const [log, agents, monitor] = await Promise.all([
      eventLogSize(this.settings, this.log).catch(() => undefined),
      agentsStatus(this.settings).then((status) => [status.supervisor, ...status.agents], () => undefined),
      readMonitorState(this.settings.logsDir).catch(() => undefined),
    ]);
    return { at, log, agents, monitor };
  }
}

function toRegistry(facts: Facts): Registry {
  const registry = new Registry();
  const registers = [registry];
  const up = new Gauge({ name: 'astro_cluster_metrics_source_up', help: 'Whether the answering worker could read this source of cluster facts (1) or not (0).', labelNames: ['source'], registers });
  up.set({ source: 'event_log' }, facts.log ? 1 : 0);
  up.set({ source: 'agents' }, facts.agents ? 1 : 0);
  up.set({ source: 'pm2_monitor' }, facts.monitor ? 1 : 0);
  if (facts.log) {
    new Gauge({ name: 'astro_cluster_event_log_events', help: 'Events kept in the shared event log (all topics measured).', registers }).set(facts.log.events);
    new Gauge({ name: 'astro_cluster_event_log_bytes', help: 'Bytes the shared event log takes (files, or Redis MEMORY USAGE), over the topics measured.', registers }).set(facts.log.bytes);
    new Gauge({ name: 'astro_cluster_event_log_topics', help: 'Topics in the shared event log.', registers }).set(facts.log.topics);
    new Gauge({ name: 'astro_cluster_event_log_unmeasured_topics', help: 'Topics past the cap a scrape measures: their events and bytes are missing from the totals.', registers }).set(facts.log.skippedTopics);
  }
  if (facts.agents) {
    const state = new Gauge({ name: 'astro_cluster_agent_state', help: 'Each agent (and the supervisor) by state: 1 for the state it is in, 0 for the others.', labelNames: ['agent', 'kind', 'state'], registers });
    const restarts = new Gauge({ name: 'astro_cluster_agent_restarts', help: 'Restarts of each agent by its supervisor (the supervisor\'s record).', labelNames: ['agent', 'kind'], registers });
    for (const agent of facts.agents) {
      for (const candidate of agentStates) state.set({ agent: agent.name, kind: agent.kind, state: candidate }, agent.state === candidate ? 1 : 0);
      restarts.set({ agent: agent.name, kind: agent.kind }, agent.restarts);
    }
  }
  if (facts.monitor) {
    const crashes = new Gauge({ name: 'astro_cluster_app_crash_restarts', help: 'Abnormal exits PM2 restarted, per app, as the pm2-monitor agent recorded them (reloads and stops are not counted).', labelNames: ['app'], registers });
    const circuit = new Gauge({ name: 'astro_cluster_app_circuit_open', help: 'Whether the pm2-monitor stopped the app for a crash loop (1) until an operator resets it.', labelNames: ['app'], registers });
    for (const [app, record] of Object.entries(facts.monitor.apps)) {
      crashes.set({ app }, record.restarts);
      circuit.set({ app }, record.circuit.state === 'open' ? 1 : 0);
    }
    const pm2Restarts = new Gauge({ name: 'astro_cluster_pm2_restarts', help: 'PM2\'s restart count (restarts and reloads) of every process in its list, as the pm2-monitor last saw it; covers stopped workers too.', labelNames: ['app', 'instance'], registers });
    for (const worker of facts.monitor.workers) pm2Restarts.set({ app: worker.name, instance: String(worker.instance) }, worker.restarts);
  }
  return registry;
}
