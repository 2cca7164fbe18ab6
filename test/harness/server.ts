// Starts the real server on port 0 with a temporary data directory, the way
// `parley start` does, and gives tests accounts and clients to drive it.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveCredentials } from "../../src/c2s/sasl/credentials.js";
import type { AuditSink } from "../../src/audit/sink.js";
import { validateConfig } from "../../src/config/index.js";
import type { Config } from "../../src/config/types.js";
import { type LogSink } from "../../src/core/log.js";
import { type RunningServer, startServer } from "../../src/main.js";

// The test server's certificate is self-signed; clients in this process accept it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let sharedCertDir: Promise<string> | null = null;
/** One certificate for the whole run: RSA key generation is slow. */
function certDir(): Promise<string> {
  sharedCertDir ??= mkdtemp(join(tmpdir(), "parley-certs-"));
  return sharedCertDir;
}

export type ConfigOverrides = { [K in keyof Omit<Config, "source">]?: Partial<Config[K]> } & {
  /** Sections added with extendSchema ([audit]); checked when the config is validated. */
  audit?: Record<string, unknown>;
};

export interface TestServer {
  server: RunningServer;
  config: Config;
  dir: string;
  /** Every log line the server wrote. */
  logs: string[];
  starttlsPort: number;
  directTlsPort: number;
  addUser(local: string, password: string, domain?: string): Promise<void>;
  stop(): Promise<void>;
}

export function testConfig(dataDir: string, certs: string, overrides: ConfigOverrides = {}): Config {
  const raw: Record<string, Record<string, unknown>> = {
    server: { data_dir: dataDir, log_level: "debug" },
    listen: { c2s_ports: [0], c2s_direct_tls_ports: [0] },
    tls: { cert_dir: certs },
    // Fast tests: no throttling unless a test asks for it.
    auth: { failure_delay_ms: 0, scram_iterations: 4096 },
  };
  for (const [section, values] of Object.entries(overrides)) raw[section] = { ...raw[section], ...values };
  return validateConfig(raw, null);
}

export interface TestServerOptions {
  /** Reuse this directory (its data/ holds the databases), e.g. to restart on the same data. */
  dir?: string;
  /** stop() leaves the directory in place, for a restart. */
  keepDir?: boolean;
  /** An audit sink instead of the one [audit] configures (e.g. one that fails). */
  audit?: AuditSink;
}

export async function startTestServer(overrides: ConfigOverrides = {}, opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "parley-test-")));
  const config = testConfig(join(dir, "data"), await certDir(), overrides);
  const logs: string[] = [];
  const sink: LogSink = { level: "debug", write: (line) => logs.push(line) };
  const server = await startServer(config, { sink, ...(opts.audit ? { audit: opts.audit } : {}) });
  return {
    server,
    config,
    dir,
    logs,
    starttlsPort: config.listen.c2s_ports.length ? server.port("starttls") : 0,
    directTlsPort: config.listen.c2s_direct_tls_ports.length ? server.port("direct-tls") : 0,
    async addUser(local, password, domain = "localhost") {
      await server.core.storage.accounts.create(domain, local, await deriveCredentials(password, 4096));
    },
    async stop() {
      await server.stop();
      if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
