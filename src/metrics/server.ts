// What Parley measures about itself, in one place: the counters the audit tap
// feeds (every stanza and session event passes through it, so counting there
// needs no hook in the c2s code), gauges read when scraped, and event-loop lag.

import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { AuditParty, AuditSink, Detail, SessionEvent } from "../audit/sink.js";
import type { Element } from "../xml/index.js";
import { type Gauge, Registry } from "./registry.js";

const STANZA_KINDS = ["message", "presence", "iq"] as const;
/** Seconds: from a record handed to the audit sink until it is committed. */
const AUDIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Event-loop lag is summarised over windows of this length. */
const LOOP_WINDOW_MS = 10_000;
/** Sampling interval of the event-loop monitor; its samples include it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 10;

/** A sample in ns, as lag beyond the sampling interval, in ms. */
const lagMs = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

function summarise(h: IntervalHistogram): LoopLag {
  return h.count > 0
    ? { mean_ms: lagMs(h.mean), p99_ms: lagMs(h.percentile(99)), max_ms: lagMs(h.max) }
    : { mean_ms: 0, p99_ms: 0, max_ms: 0 };
}

export interface LoopLag {
  mean_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface AuditQueue {
  /** Records handed to the audit sink and not yet committed. */
  length: number;
  /** How long the oldest of them has waited, in ms (0 when none). */
  oldest_ms: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly startedAt = Date.now();
  readonly stanzas = this.registry.counter(
    "parley_stanzas_total",
    "Stanzas handled, by direction (in from clients, out to clients) and kind.",
  );
  readonly authFailures = this.registry.counter(
    "parley_auth_failures_total",
    "Failed SASL authentication attempts.",
  );
  readonly authSuccesses = this.registry.counter(
    "parley_auth_successes_total",
    "Successful SASL authentications.",
  );
  readonly connectionsTotal = this.registry.counter(
    "parley_connections_total",
    "Client connections accepted.",
  );
  readonly auditWrite = this.registry.histogram(
    "parley_audit_write_seconds",
    "Time from handing a record to the audit trail until it is committed (write-ahead: delivery waits for it).",
    AUDIT_BUCKETS,
  );
  readonly auditFailures = this.registry.counter(
    "parley_audit_write_failures_total",
    "Audit records that could not be committed.",
  );
  /** Records waiting for their commit (parley_audit_queue_length); see feedAuditQueue(). */
  readonly auditQueueLength: Gauge;
  private auditQueueSource: (() => number) | null = null;
  private readonly pending = new Map<number, number>();
  private nextId = 0;
  private readonly loop: IntervalHistogram;
  private lastLoop: LoopLag = { mean_ms: 0, p99_ms: 0, max_ms: 0 };
  private readonly loopTimer: NodeJS.Timeout;

  constructor(gauges: { sessions: () => number; connections: () => number }) {
    this.registry.gauge(
      "parley_sessions",
      "Bound client sessions (resources online).",
      gauges.sessions,
    );
    this.registry.gauge(
      "parley_connections",
      "Open client connections, bound or not.",
      gauges.connections,
    );
    this.auditQueueLength = this.registry.gauge(
      "parley_audit_queue_length",
      "Audit records waiting for their commit.",
      () => this.auditQueueSource?.() ?? this.pending.size,
    );
    this.registry.gauge(
      "parley_audit_queue_oldest_seconds",
      "How long the oldest record waiting for its audit commit has waited.",
      () => this.auditQueue().oldest_ms / 1000,
    );
    this.registry.gauge(
      "parley_event_loop_lag_seconds",
      `Event-loop delay over the last ${LOOP_WINDOW_MS / 1000} s (perf_hooks.monitorEventLoopDelay).`,
      () => [
        [{ stat: "mean" }, this.lastLoop.mean_ms / 1000],
        [{ stat: "p99" }, this.lastLoop.p99_ms / 1000],
        [{ stat: "max" }, this.lastLoop.max_ms / 1000],
      ],
    );
    this.registry.gauge(
      "parley_uptime_seconds",
      "Seconds since the server started.",
      () => (Date.now() - this.startedAt) / 1000,
    );
    this.registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () =>
      process.memoryUsage.rss(),
    );
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.loop.enable();
    this.loopTimer = setInterval(() => this.rollLoopWindow(), LOOP_WINDOW_MS);
    this.loopTimer.unref();
  }

  private rollLoopWindow(): void {
    this.lastLoop = summarise(this.loop);
    this.loop.reset();
  }

  /** Event-loop lag over the last complete window (the current one until the first window ends). */
  loopLag(): LoopLag {
    if (Date.now() - this.startedAt < LOOP_WINDOW_MS) return summarise(this.loop);
    return this.lastLoop;
  }

  /**
   * For the audit writer: report its own queue length instead of what the tap
   * counts (records handed over and not yet committed), e.g. from main.ts:
   * `server.daemon.metrics.feedAuditQueue(() => writer.pendingCount)`.
   */
  feedAuditQueue(read: () => number): void {
    this.auditQueueSource = read;
  }

  auditQueue(): AuditQueue {
    const first = this.pending.values().next();
    return {
      length: this.auditQueueSource?.() ?? this.pending.size,
      oldest_ms: first.done ? 0 : Math.max(0, performance.now() - first.value),
    };
  }

  /** Times one audit write and keeps it in the queue until it settles. */
  private timed<T>(write: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    const start = performance.now();
    this.pending.set(id, start);
    return write().then(
      (v) => {
        this.pending.delete(id);
        this.auditWrite.observe((performance.now() - start) / 1000);
        return v;
      },
      (err: unknown) => {
        this.pending.delete(id);
        this.auditFailures.inc();
        throw err;
      },
    );
  }

  /**
   * The audit sink as the c2s streams see it: the same sink, counted and timed.
   * Every stanza in and out and every session event already passes through it.
   */
  tapAudit(sink: AuditSink): AuditSink {
    // One counter handle per direction and kind, looked up, not keyed, per stanza.
    const counted = (direction: "in" | "out") => {
      const other = this.stanzas.with({ direction, kind: "other" });
      const byKind = new Map(STANZA_KINDS.map((kind) => [kind as string, this.stanzas.with({ direction, kind })]));
      return (name: string) => byKind.get(name) ?? other;
    };
    const stanzas = { in: counted("in"), out: counted("out") };
    const timed = <T>(w: () => Promise<T>) => this.timed(w);
    const onEvent = (type: SessionEvent) => {
      if (type === "auth-failure") this.authFailures.inc();
      else if (type === "auth-success") this.authSuccesses.inc();
      else if (type === "connect") this.connectionsTotal.inc();
    };
    return {
      get enabled() {
        return sink.enabled;
      },
      stanza(direction: "in" | "out", party: AuditParty, el: Element, text?: string) {
        stanzas[direction](el.name).inc();
        return timed(() => sink.stanza(direction, party, el, text));
      },
      event(party: AuditParty, type: SessionEvent, detail: Detail) {
        onEvent(type);
        return timed(() => sink.event(party, type, detail));
      },
      admin: (action: string, detail: Detail, subject?: string | null) =>
        timed(() => sink.admin(action, detail, subject)),
      close: () => sink.close(),
    };
  }

  close(): void {
    clearInterval(this.loopTimer);
    this.loop.disable();
  }
}
