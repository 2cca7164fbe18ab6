// Running as a daemon, beside the XMPP service: the metrics the audit tap
// feeds, the admin socket (`parley status`), the Prometheus endpoint, and
// which settings a reload could not apply. main.ts creates one per server.

import { readFileSync } from "node:fs";
import { auditSettings } from "../audit/config.js";
import type { AuditSink } from "../audit/sink.js";
import type { Config } from "../config/types.js";
import type { Logger } from "../core/log.js";
import type { Core } from "../core/modules.js";
import { metricsSettings } from "../metrics/config.js";
import { type MetricsEndpoint, startMetricsEndpoint } from "../metrics/http.js";
import { ServerMetrics } from "../metrics/server.js";
import type { BoundListener } from "../net/listeners.js";
import { Jid } from "../xmpp/jid.js";
import { adminSettings } from "./config.js";
import { reconcile } from "./reload.js";
import { type AdminSocket, startAdminSocket } from "./socket.js";
import { type Status, sqliteBytes } from "./status.js";

const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
    ) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
})();

export interface DaemonContext {
  core: Core;
  listeners: () => readonly BoundListener[];
  connections: () => number;
}

export class Daemon {
  readonly metrics: ServerMetrics;
  private admin: AdminSocket | null = null;
  private endpoint: MetricsEndpoint | null = null;
  private needsRestart: string[] = [];
  private readonly startedAt = new Date();
  private ctx: DaemonContext | null = null;

  constructor(
    private readonly log: Logger,
    gauges: { sessions: () => number; connections: () => number },
  ) {
    this.metrics = new ServerMetrics(gauges);
  }

  /** The audit sink the streams use: the same one, counted and timed. */
  tapAudit(sink: AuditSink): AuditSink {
    return this.metrics.tapAudit(sink);
  }

  /** Opens the admin socket and, if configured, the metrics endpoint. */
  async start(ctx: DaemonContext): Promise<void> {
    this.ctx = ctx;
    const config = ctx.core.config;
    const admin = adminSettings(config);
    if (admin.enabled) {
      this.admin = await startAdminSocket(admin.socket, (req) => this.handle(req), this.log);
      this.log.info("admin socket", { path: admin.socket });
    }
    const m = metricsSettings(config);
    if (m.enabled) {
      this.endpoint = await startMetricsEndpoint(this.metrics.registry, m, this.log);
      this.log.info("metrics endpoint", {
        url: `http://${m.address.includes(":") ? `[${m.address}]` : m.address}:${this.endpoint.port}${m.path}`,
      });
      if (!/^(127\.|::1$|localhost$)/.test(m.address))
        this.log.warn(
          "the metrics endpoint is not on loopback: anyone who can reach it reads the server's figures",
          { address: m.address },
        );
    }
  }

  get metricsPort(): number | null {
    return this.endpoint?.port ?? null;
  }

  get adminSocketPath(): string | null {
    return this.admin?.path ?? null;
  }

  /**
   * SIGHUP: the configuration to apply. Settings that need a restart keep their
   * running values and are logged; everything else is taken over whole.
   */
  reconcile(running: Config, requested: Config): Config {
    const { config, needsRestart } = reconcile(running, requested);
    this.staged = needsRestart;
    return config;
  }

  /** The reload went through: report what waits for a restart. */
  applied(): void {
    this.needsRestart = this.staged;
    for (const key of this.needsRestart)
      this.log.warn(`${key} changed: needs a restart; the running value stays until then`);
  }

  private staged: string[] = [];

  private async handle(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (req.command) {
      case "status":
        return { ok: true, status: await this.status() };
      case "ping":
        return { ok: true };
      case "account-deleted":
        return { ok: true, closed: await this.accountDeleted(req.jid) };
      default:
        return {
          ok: false,
          error: `unknown command ${JSON.stringify(req.command)}; known: status, ping, account-deleted`,
        };
    }
  }

  /**
   * `parley deluser` deleted the account in the database, beside this process: its
   * sessions end (as Prosody and ejabberd do), and with the last one goes what the
   * server kept of it in memory (the cached roster, main.ts), so nothing of the
   * deleted account is served again and a new account of that name starts empty.
   */
  private async accountDeleted(jid: unknown): Promise<number> {
    const ctx = this.ctx;
    if (!ctx) throw new Error("not started");
    const bare = typeof jid === "string" ? Jid.tryParse(jid) : null;
    if (!bare || bare.resource) throw new Error("account-deleted needs the account's bare JID as jid");
    const sessions = ctx.core.sessions.resources(bare);
    await Promise.all(sessions.map((s) => s.close("not-authorized", "the account was deleted")));
    return sessions.length;
  }

  async status(): Promise<Status> {
    const ctx = this.ctx;
    if (!ctx) throw new Error("not started");
    const { core } = ctx;
    const audit = auditSettings(core.config);
    const write = this.metrics.auditWrite.total;
    return {
      version: VERSION,
      pid: process.pid,
      started_at: this.startedAt.toISOString(),
      uptime_seconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config: { source: core.config.source, needs_restart: this.needsRestart },
      domains: [...core.config.server.domains],
      listeners: ctx.listeners().map((l) => ({ kind: l.kind, address: l.address, port: l.port })),
      sessions: core.sessions.count,
      connections: ctx.connections(),
      accounts: (await core.storage.accounts.list()).length,
      audit: {
        enabled: audit.enabled,
        file: audit.file,
        bytes: audit.enabled ? await sqliteBytes(audit.file) : 0,
        queue: this.metrics.auditQueue(),
        write_ms_mean: write.count ? (write.sum / write.count) * 1000 : 0,
        committed: write.count,
        failed: this.metrics.auditFailures.get(),
      },
      event_loop_lag_ms: this.metrics.loopLag(),
      memory_rss_bytes: process.memoryUsage.rss(),
    };
  }

  /** Stops answering; first in a shutdown, so nothing new starts. */
  async stop(): Promise<void> {
    const admin = this.admin;
    const endpoint = this.endpoint;
    this.admin = null;
    this.endpoint = null;
    await Promise.all([admin?.close(), endpoint?.close()]);
    this.metrics.close();
  }
}
