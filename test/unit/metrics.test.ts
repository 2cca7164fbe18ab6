// The Prometheus registry (text exposition format 0.0.4), the audit tap that
// feeds the counters, and which settings a reload can apply.

import { expect } from "chai";
import { reconcile } from "../../src/admin/reload.js";
import type { AuditSink } from "../../src/audit/sink.js";
import { validateConfig } from "../../src/config/index.js";
import { Registry } from "../../src/metrics/registry.js";
import { ServerMetrics } from "../../src/metrics/server.js";
import { xml } from "../../src/xml/index.js";
import "../../src/main.js"; // every config section, as at start

describe("metrics: text exposition format", () => {
  it("a counter with labels: HELP, TYPE, one line per label set, label order irrelevant", () => {
    const r = new Registry();
    const c = r.counter("x_total", "Things.");
    c.inc({ a: "1", b: "2" });
    c.inc({ b: "2", a: "1" }, 2);
    c.inc({ a: "3", b: "4" });
    expect(r.render()).to.equal(
      '# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="1",b="2"} 3\nx_total{a="3",b="4"} 1\n',
    );
    expect(() => c.inc(undefined, -1)).to.throw(/cannot decrease/);
  });

  it("escapes label values (backslash, quote, newline) and help text", () => {
    const r = new Registry();
    r.gauge("g", "a\\b\nc", () => [[{ v: 'q"\\\n' }, 1]]);
    expect(r.render()).to.equal('# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{v="q\\"\\\\\\n"} 1\n');
  });

  it("a histogram has cumulative buckets, +Inf, _sum and _count", () => {
    const r = new Registry();
    const h = r.histogram("h_seconds", "H.", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    expect(r.render()).to.equal(
      '# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="+Inf"} 3\nh_seconds_sum 5.55\nh_seconds_count 3\n',
    );
  });

  it("refuses invalid names and a name registered twice", () => {
    const r = new Registry();
    expect(() => r.counter("bad-name", "x")).to.throw(/invalid metric name/);
    r.gauge("g", "x");
    expect(() => r.gauge("g", "x")).to.throw(/already registered/);
    expect(() => r.counter("c", "x").inc({ "bad-label": "v" })).to.throw(/invalid metric label/);
  });
});

describe("metrics: the audit tap", () => {
  const party = { session: "s", account: null, resource: null, remote: null };

  /** A sink whose writes wait until released. */
  function slowSink(fail = false) {
    const waiting: (() => void)[] = [];
    const write = () =>
      new Promise<void>((resolve, reject) =>
        waiting.push(() => (fail ? reject(new Error("disk full")) : resolve())),
      );
    const sink: AuditSink = {
      enabled: true,
      stanza: write,
      event: write,
      admin: write,
      close: async () => undefined,
    };
    return { sink, release: () => waiting.splice(0).forEach((w) => w()) };
  }

  it("counts stanzas by direction and kind and auth failures; queue length and age while commits are pending", async () => {
    const m = new ServerMetrics({ sessions: () => 0, connections: () => 0 });
    try {
      const { sink, release } = slowSink();
      const tapped = m.tapAudit(sink);
      const writes = [
        tapped.stanza("in", party, xml("message", { type: "chat" })),
        tapped.stanza("out", party, xml("message", {})),
        tapped.stanza("in", party, xml("iq", { type: "get" })),
        tapped.event(party, "auth-failure", {}),
      ];
      await new Promise((r) => setTimeout(r, 20));
      expect(m.auditQueue().length).to.equal(4);
      expect(m.auditQueue().oldest_ms).to.be.at.least(15);
      expect(m.registry.render()).to.match(/^parley_audit_queue_length 4$/m);
      release();
      await Promise.all(writes);
      expect(m.auditQueue()).to.deep.equal({ length: 0, oldest_ms: 0 });
      expect(m.stanzas.get({ direction: "in", kind: "message" })).to.equal(1);
      expect(m.stanzas.get({ direction: "out", kind: "message" })).to.equal(1);
      expect(m.stanzas.get({ direction: "in", kind: "iq" })).to.equal(1);
      expect(m.authFailures.get()).to.equal(1);
      expect(m.auditWrite.total.count).to.equal(4);
      expect(m.auditWrite.total.sum).to.be.at.least(0.015 * 4);
    } finally {
      m.close();
    }
  });

  it("a failed audit write is counted, leaves the queue, and still rejects (fail closed)", async () => {
    const m = new ServerMetrics({ sessions: () => 0, connections: () => 0 });
    try {
      const { sink, release } = slowSink(true);
      const p = m.tapAudit(sink).stanza("in", party, xml("message", {}));
      release();
      await p.then(
        () => expect.fail("resolved"),
        (e: Error) => expect(e.message).to.equal("disk full"),
      );
      expect(m.auditFailures.get()).to.equal(1);
      expect(m.auditQueue().length).to.equal(0);
    } finally {
      m.close();
    }
  });
});

describe("reload: settings that need a restart", () => {
  const base = validateConfig({ server: { data_dir: "/d" }, listen: { c2s_ports: [5222] } }, null);

  it("keeps the running values of listen ports, data_dir, domains, audit files, admin and metrics; names each changed key", () => {
    const requested = validateConfig(
      {
        server: { data_dir: "/other", domains: ["example.com"], log_level: "debug" },
        listen: { c2s_ports: [5333] },
        limits: { max_stanza_bytes: 20000 },
        metrics: { enabled: true },
      },
      null,
    );
    const { config, needsRestart } = reconcile(base, requested);
    expect(needsRestart).to.deep.equal([
      "server.domains",
      "server.data_dir",
      "listen.c2s_ports",
      "metrics.enabled",
    ]);
    expect(config.server.data_dir).to.equal("/d");
    expect(config.server.domains).to.deep.equal(["localhost"]);
    expect(config.listen.c2s_ports).to.deep.equal([5222]);
    expect((config as unknown as { metrics: { enabled: boolean } }).metrics.enabled).to.equal(
      false,
    );
    // What can change does.
    expect(config.server.log_level).to.equal("debug");
    expect(config.limits.max_stanza_bytes).to.equal(20000);
    expect(Object.isFrozen(config.limits)).to.equal(true);
  });

  it("an unchanged file needs no restart", () => {
    expect(reconcile(base, base).needsRestart).to.deep.equal([]);
  });
});
