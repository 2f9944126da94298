/**
 * A small Prometheus text-format registry: counters, gauges and histograms with labels.
 * One registry per process; services register their series on it.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',') + '}';
}

interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter implements Series {
  readonly type = 'counter' as const;
  private values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k} ${v}`);
  }
}

export class Gauge implements Series {
  readonly type = 'gauge' as const;
  private values = new Map<string, number | (() => number)>();
  constructor(readonly name: string, readonly help: string) {}
  set(value: number | (() => number), labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  render(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k} ${typeof v === 'function' ? v() : v}`);
  }
}

export class Histogram implements Series {
  readonly type = 'histogram' as const;
  private data = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let d = this.data.get(k);
    if (!d) {
      d = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.data.set(k, d);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) d.counts[i]!++;
    d.sum += value;
    d.count++;
  }
  render(): string[] {
    const out: string[] = [];
    for (const d of this.data.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelKey({ ...d.labels, le: String(b) })} ${d.counts[i]}`));
      out.push(`${this.name}_bucket${labelKey({ ...d.labels, le: '+Inf' })} ${d.count}`);
      out.push(`${this.name}_sum${labelKey(d.labels)} ${d.sum}`);
      out.push(`${this.name}_count${labelKey(d.labels)} ${d.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private series = new Map<string, Series>();

  private add<S extends Series>(s: S): S {
    const existing = this.series.get(s.name);
    if (existing) return existing as S;
    this.series.set(s.name, s);
    return s;
  }
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }
  render(): string {
    const lines: string[] = [];
    for (const s of this.series.values()) {
      lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`, ...s.render());
    }
    return lines.join('\n') + '\n';
  }
}
