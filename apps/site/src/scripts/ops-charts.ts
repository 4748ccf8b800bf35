// The /ops charts: the last 15 minutes of every worker's points (the
// `metrics` topic, one point per worker every METRICS_SAMPLE_MS), drawn as
// plain inline SVG, one line per worker, with axes, the current values in
// the legend, and the headline number in each chart's title. Each chart's
// element carries data-latest (that number) and data-points, for tests.
import type { MetricsPoint } from 'astro-cluster-kit/metrics';

const WINDOW_MS = 15 * 60_000;
const WIDTH = 400;
const HEIGHT = 150;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };
const COLORS = ['#5b3cc4', '#d9480f', '#2b8a3e', '#1971c2', '#c2255c', '#e67700', '#0c8599', '#5c940d'];
const SVG = 'http://www.w3.org/2000/svg';

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  value: (point: MetricsPoint) => number | null;
  /** How the headline number combines the workers' latest values. */
  headline: 'sum' | 'max';
  digits: number;
}

export const charts: ChartSpec[] = [
  { id: 'rps', title: 'Requests/s', unit: '/s', value: (p) => p.rps, headline: 'sum', digits: 1 },
  { id: 'p99', title: 'p99 latency', unit: 'ms', value: (p) => p.p99, headline: 'max', digits: 1 },
  { id: 'memory', title: 'Memory (RSS)', unit: 'MB', value: (p) => p.rss / 1048576, headline: 'sum', digits: 0 },
  { id: 'streams', title: 'Open streams', unit: '', value: (p) => p.streams, headline: 'sum', digits: 0 },
  { id: 'restarts', title: 'Restarts and reloads', unit: '', value: (p) => p.restarts, headline: 'sum', digits: 0 },
];

/** The points of each worker (by host when several share the log), trimmed to the window. */
export class Series {
  readonly #byWorker = new Map<string, MetricsPoint[]>();

  add(point: MetricsPoint): void {
    const key = `${point.h}\u0000${point.w}`;
    const points = this.#byWorker.get(key) ?? [];
    points.push(point);
    if (points.length > 1 && points.at(-2)!.t > point.t) points.sort((a, b) => a.t - b.t);
    this.#byWorker.set(key, points);
  }

  /** Workers with points in the window, by label, oldest points first. */
  workers(now: number): { label: string; points: MetricsPoint[] }[] {
    const hosts = new Set([...this.#byWorker.values()].map((points) => points[0]?.h));
    const out: { label: string; points: MetricsPoint[] }[] = [];
    for (const [key, all] of [...this.#byWorker].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
      const points = all.filter((p) => p.t >= now - WINDOW_MS);
      this.#byWorker.set(key, points);
      if (points.length === 0) continue;
      const [host, worker] = key.split('\u0000') as [string, string];
      out.push({ label: hosts.size > 1 ? `${host} ${worker}` : `worker ${worker}`, points });
    }
    return out;
  }
}

/** Draws every chart into `root` (a container of <figure data-chart=…> made by the page). */
export function drawAll(root: HTMLElement, series: Series, sampleMs: number, now = Date.now()): void {
  const workers = series.workers(now);
  for (const spec of charts) {
    const figure = root.querySelector<HTMLElement>(`[data-chart="${spec.id}"]`);
    if (figure) draw(figure, spec, workers, sampleMs, now);
  }
}

function draw(figure: HTMLElement, spec: ChartSpec, workers: { label: string; points: MetricsPoint[] }[], sampleMs: number, now: number): void {
  const x0 = now - WINDOW_MS;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  let max = 0;
  for (const { points } of workers) for (const p of points) max = Math.max(max, spec.value(p) ?? 0);
  const top = niceCeiling(max);
  const x = (t: number) => PAD.left + ((t - x0) / WINDOW_MS) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;

  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${spec.title}, last 15 minutes`);
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    svg.append(line(PAD.left, y(value), WIDTH - PAD.right, y(value), fraction === 0 ? '#9aa1ad' : '#e6e8ee'));
    svg.append(text(PAD.left - 4, y(value) + 3, format(value, top < 10 ? 1 : 0), 'end'));
  }
  for (const minutes of [15, 10, 5, 0]) {
    const at = x(now - minutes * 60_000);
    svg.append(text(at, HEIGHT - 5, minutes === 0 ? 'now' : `−${minutes} min`, minutes === 15 ? 'start' : minutes === 0 ? 'end' : 'middle'));
  }
  const legend = document.createElement('ul');
  legend.className = 'legend';
  const latest: number[] = [];
  workers.forEach(({ label, points }, index) => {
    const color = COLORS[index % COLORS.length]!;
    let d = '';
    let previous: MetricsPoint | undefined;
    for (const p of points) {
      const value = spec.value(p);
      if (value === null) {
        previous = undefined;
        continue;
      }
      // A gap of three samples or more (a worker down, a stalled store) is left open, not bridged.
      const joined = previous !== undefined && p.t - previous.t <= sampleMs * 3;
      d += `${joined ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(value).toFixed(1)}`;
      previous = p;
    }
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', color);
    path.setAttribute('stroke-width', '1.5');
    path.dataset.series = label;
    svg.append(path);
    const last = points.at(-1)!;
    // A worker silent for three samples is gone (stopped, replaced): its old value is no current value.
    const current = now - last.t <= sampleMs * 3 ? spec.value(last) : null;
    if (current !== null) latest.push(current);
    const item = document.createElement('li');
    item.innerHTML = `<span class="swatch" style="background:${color}"></span>`;
    item.append(`${label}: ${current === null ? '–' : `${format(current, spec.digits)} ${spec.unit}`.trim()}`);
    legend.append(item);
  });
  const headline = latest.length === 0 ? null : spec.headline === 'sum' ? latest.reduce((a, b) => a + b, 0) : Math.max(...latest);
  figure.dataset.latest = headline === null ? '' : String(Math.round(headline * 100) / 100);
  figure.dataset.points = String(workers.reduce((sum, w) => sum + w.points.length, 0));
  const caption = document.createElement('figcaption');
  caption.innerHTML = `<strong></strong> <span class="now"></span>`;
  caption.querySelector('strong')!.textContent = spec.title;
  caption.querySelector('.now')!.textContent = headline === null ? 'no data yet' : `${format(headline, spec.digits)} ${spec.unit}${spec.headline === 'sum' && workers.length > 1 ? ' in all' : spec.headline === 'max' && workers.length > 1 ? ' (worst worker)' : ''}`.trim();
  figure.replaceChildren(caption, svg, legend);
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): SVGLineElement {
  const element = document.createElementNS(SVG, 'line');
  for (const [name, value] of Object.entries({ x1, y1, x2, y2 })) element.setAttribute(name, value.toFixed(1));
  element.setAttribute('stroke', stroke);
  return element;
}

function text(x: number, y: number, content: string, anchor: 'start' | 'middle' | 'end'): SVGTextElement {
  const element = document.createElementNS(SVG, 'text');
  element.setAttribute('x', x.toFixed(1));
  element.setAttribute('y', y.toFixed(1));
  element.setAttribute('text-anchor', anchor);
  element.setAttribute('font-size', '10');
  element.setAttribute('fill', '#5b6475');
  element.textContent = content;
  return element;
}

/** 1, 2 or 5 times a power of ten, at or above `value` (at least 1): round numbers on the y axis. */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function format(value: number, digits: number): string {
  return value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
