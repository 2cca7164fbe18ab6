// Composition root: config, logger, storage, certificates, core, modules,
// listeners. startServer() is what `parley start` and the tests run.

import { auditSettings } from "./audit/config.js";
import { installRecordingNotice } from "./audit/notice.js";
import { Daemon } from "./admin/daemon.js";
import { type AuditSink, openAuditSink } from "./audit/sink.js";
import { C2sStream } from "./c2s/stream.js";
import { AuthThrottle } from "./c2s/throttle.js";
import type { Config } from "./config/types.js";
import { EventBus } from "./core/events.js";
import { IqDispatcher } from "./core/iq.js";
import { type Logger, type LogSink, createLogger, createSink } from "./core/log.js";
import { type Core, DiscoRegistry, type LoadedModule, loadModule } from "./core/modules.js";
import { Router } from "./core/router.js";
import { SessionRegistry } from "./core/sessions.js";
import { builtinModules } from "./modules/index.js";
import { loadCertificates, tlsContexts } from "./net/certs.js";
import { type BoundListener, Listeners } from "./net/listeners.js";
import { CachedRosterStore } from "./storage/roster-cache.js";
import { openSqliteStorage } from "./storage/sqlite/index.js";
import type { Storage } from "./storage/types.js";

export interface RunningServer {
  readonly config: Config;
  readonly core: Core;
  readonly listeners: readonly BoundListener[];
  readonly log: Logger;
  readonly audit: AuditSink;
  /** Admin socket, metrics, and which reloaded settings wait for a restart. */
  readonly daemon: Daemon;
  /** Port of the first listener of a kind (tests start on port 0). */
  port(kind: "starttls" | "direct-tls"): number;
  /** SIGTERM: stop accepting, system-shutdown to every client, close storage. */
  stop(): Promise<void>;
  /** SIGHUP: apply a new, already validated config (log level, limits, certificates). */
  reload(next: Config): Promise<void>;
}

export interface StartOptions {
  sink?: LogSink;
  storage?: Storage;
  /** Tests inject a failing sink; by default it follows [audit]. */
  audit?: AuditSink;
}

/**
 * The rosters of accounts with a session are read from memory (storage/roster-cache.ts);
 * an account's entry goes when its last session does, after the modules' own
 * session/closed handlers (fallback band), which still read it.
 */
function cacheOnlineRosters(storage: Storage, sessions: SessionRegistry, events: EventBus): Storage {
  const roster = new CachedRosterStore(storage.roster, (account) => sessions.hasSession(account));
  events.on(
    "session/closed",
    (session) => {
      if (sessions.resources(session.jid.bare()).length === 0) roster.evict(session.jid.bareString());
    },
    "fallback",
  );
  return { ...storage, roster };
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const sink = opts.sink ?? createSink(config.server.log_level);
  const log = createLogger(sink);
  const { certificates, warnings } = await loadCertificates(config);
  for (const w of warnings) log.warn(w);
  let tls = tlsContexts(certificates, config.server.domains[0]!);

  const sessions = new SessionRegistry();
  const events = new EventBus();
  const storage = cacheOnlineRosters(opts.storage ?? (await openSqliteStorage(config.server.data_dir)), sessions, events);
  // The audit trail opens before any listener: no stanza can pass unrecorded.
  let audit: AuditSink;
  try {
    audit = opts.audit ?? (await openAuditSink(auditSettings(config), log.child("audit")));
  } catch (err) {
    if (!opts.storage) await storage.close();
    throw err;
  }
  if (!audit.enabled) log.warn("AUDIT IS OFF (audit.enabled = false): nothing is recorded");
  const hosts = new Set(config.server.domains);
  const iq = new IqDispatcher(log.child("iq"));
  const router = new Router({
    hosts,
    sessions,
    events,
    iq,
    log: log.child("router"),
    accountExists: async (bare) => (await storage.accounts.get(bare.domain, bare.local)) !== null,
  });
  const core: Core = {
    config,
    log,
    storage,
    sessions,
    events,
    iq,
    router,
    hosts,
    disco: new DiscoRegistry(),
    streamFeatures: new Set(),
    nonzas: new Map(),
  };
  const modules: LoadedModule[] = [];
  installRecordingNotice(core);
  for (const def of builtinModules) modules.push(await loadModule(core, def));

  const throttle = new AuthThrottle(config.auth.failure_delay_ms, config.auth.failure_delay_max_ms);
  const streams = new Set<C2sStream>();
  const c2sLog = log.child("c2s");
  // The streams see the audit sink through the metrics tap (stanzas, auth failures, commit times).
  const daemon = new Daemon(log.child("admin"), { sessions: () => sessions.count, connections: () => streams.size });
  const tapped = daemon.tapAudit(audit);
  const listeners = new Listeners(
    tls,
    (transport) => {
      const stream = new C2sStream({ core, throttle, log: c2sLog, audit: tapped }, transport);
      streams.add(stream);
      transport.onClose(() => streams.delete(stream));
    },
    log.child("net"),
  );
  let bound: BoundListener[];
  try {
    await daemon.start({ core, listeners: () => listeners.bound, connections: () => streams.size });
    bound = await listeners.start({
      interfaces: config.listen.interfaces,
      starttlsPorts: config.listen.c2s_ports,
      directTlsPorts: config.listen.c2s_direct_tls_ports,
      maxConnectionsPerAddress: () => core.config.limits.max_connections_per_address,
    });
  } catch (err) {
    await daemon.stop();
    await listeners.stop();
    if (!opts.audit) await audit.close();
    if (!opts.storage) await storage.close();
    throw err;
  }
  for (const l of bound) log.info("listening", { kind: l.kind, address: l.address, port: l.port });
  log.info("serving", { domains: config.server.domains.join(","), data: config.server.data_dir });

  let stopped = false;
  return {
    get config() {
      return core.config;
    },
    core,
    listeners: bound,
    log,
    audit,
    daemon,
    port(kind) {
      const l = bound.find((b) => b.kind === kind);
      if (!l) throw new Error(`no ${kind} listener`);
      return l.port;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      log.info("shutting down", { sessions: sessions.count, connections: streams.size });
      const listenersClosed = listeners.stop();
      await daemon.stop();
      // Stop reading, then let every stanza already accepted be routed and written while
      // all sessions are still open (a second pass catches deliveries the first one caused).
      for (let pass = 0; pass < 2; pass++) await Promise.all([...streams].map((s) => s.drain()));
      await Promise.all([...streams].map((s) => s.close("system-shutdown", "the server is shutting down")));
      await listenersClosed;
      for (const m of modules.reverse()) await m.unload();
      // Last: session ends and module shutdown traffic are recorded first.
      if (!opts.audit) await audit.close();
      if (!opts.storage) await storage.close();
      log.info("stopped");
    },
    async reload(requested) {
      // Settings that need a restart keep their running values (and are logged).
      const next = daemon.reconcile(core.config, requested);
      const loaded = await loadCertificates(next);
      for (const w of loaded.warnings) log.warn(w);
      tls = tlsContexts(loaded.certificates, next.server.domains[0]!);
      listeners.setTls(tls);
      sink.level = next.server.log_level;
      throttle.configure(next.auth.failure_delay_ms, next.auth.failure_delay_max_ms);
      core.config = next;
      daemon.applied();
      log.info("configuration reloaded", { source: next.source ?? "embedded defaults" });
    },
  };
}
