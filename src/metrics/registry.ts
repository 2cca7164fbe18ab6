// A small Prometheus registry: counters, gauges and histograms with labels,
// rendered in the text exposition format (version 0.0.4). No dependencies.

export type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Prometheus renders floats in Go syntax: +Inf, -Inf, NaN. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** One key per label set, independent of the order the labels were given in. */
function keyOf(labels: Labels | undefined): string {
  if (!labels) return "";
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

function checkLabels(labels: Labels | undefined): void {
  for (const k of Object.keys(labels ?? {})) {
    if (!LABEL.test(k) || k.startsWith("__"))
      throw new Error(`invalid metric label name ${JSON.stringify(k)}`);
  }
}

interface Metric {
  readonly name: string;
  render(): string;
}

abstract class Base implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
}

export class Counter extends Base {
  private readonly values = new Map<string, { labels?: Labels; value: number }>();

  constructor(name: string, help: string) {
    super(name, help, "counter");
  }

  inc(labels?: Labels, by = 1): void {
    this.checkIncrement(by);
    this.entry(keyOf(labels), labels).value += by;
  }

  /**
   * The counter of one label set, for hot paths (every stanza): its key is built
   * once, not at each increment. The series appears at its first increment.
   */
  with(labels: Labels): { inc(by?: number): void } {
    checkLabels(labels);
    const key = keyOf(labels);
    let entry: { value: number } | undefined;
    return {
      inc: (by = 1) => {
        this.checkIncrement(by);
        (entry ??= this.entry(key, labels)).value += by;
      },
    };
  }

  private entry(key: string, labels: Labels | undefined): { value: number } {
    let entry = this.values.get(key);
    if (!entry) {
      checkLabels(labels);
      this.values.set(key, (entry = { labels, value: 0 }));
    }
    return entry;
  }

  private checkIncrement(by: number): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
  }

  get(labels?: Labels): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    let out = this.header();
    for (const { labels, value } of this.values.values())
      out += `${this.name}${labelText(labels)} ${formatValue(value)}\n`;
    return out;
  }
}

/** A value read when scraped (`collect`), or set by whoever feeds it. */
export class Gauge extends Base {
  private readonly values = new Map<string, { labels?: Labels; value: number }>();

  constructor(
    name: string,
    help: string,
    private readonly collect?: () => number | ReadonlyArray<readonly [Labels, number]>,
  ) {
    super(name, help, "gauge");
  }

  set(value: number, labels?: Labels): void {
    checkLabels(labels);
    this.values.set(keyOf(labels), { labels, value });
  }

  get(labels?: Labels): number | undefined {
    return this.values.get(keyOf(labels))?.value;
  }

  render(): string {
    let out = this.header();
    if (this.collect) {
      const v = this.collect();
      const rows: ReadonlyArray<readonly [Labels | undefined, number]> =
        typeof v === "number" ? [[undefined, v]] : v;
      for (const [labels, value] of rows)
        out += `${this.name}${labelText(labels)} ${formatValue(value)}\n`;
    }
    for (const { labels, value } of this.values.values())
      out += `${this.name}${labelText(labels)} ${formatValue(value)}\n`;
    return out;
  }
}

export class Histogram extends Base {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    name: string,
    help: string,
    /** Upper bounds, ascending; +Inf is added. */
    readonly buckets: readonly number[],
  ) {
    super(name, help, "histogram");
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!))
        throw new Error(`histogram ${name}: buckets must ascend`);
    }
    this.counts = new Array<number>(buckets.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i]!++;
  }

  get total(): { count: number; sum: number } {
    return { count: this.count, sum: this.sum };
  }

  render(): string {
    let out = this.header();
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += this.counts[i]!;
      out += `${this.name}_bucket{le="${formatValue(b)}"} ${cumulative}\n`;
    });
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    out += `${this.name}_sum ${formatValue(this.sum)}\n`;
    out += `${this.name}_count ${this.count}\n`;
    return out;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} is already registered`);
    this.metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(
    name: string,
    help: string,
    collect?: () => number | ReadonlyArray<readonly [Labels, number]>,
  ): Gauge {
    return this.add(new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** The text exposition format. */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join("");
  }
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
