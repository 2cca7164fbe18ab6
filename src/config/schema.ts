// The schema in force: the core sections with their defaults, and the
// extensions features add with extendSchema() before the configuration is
// loaded. The field builders are in spec.ts.

import type { Config, LogLevel } from "./types.js";
import {
  bool,
  int,
  mapOf,
  oneOf,
  path,
  portList,
  Problem,
  section,
  strList,
  type Fields,
  type Infer,
  type Section,
} from "./spec.js";

// ---------------------------------------------------------------------------
// The core schema: produces exactly Config (minus `source`).

export const SASL_MECHANISMS = [
  "SCRAM-SHA-256-PLUS",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-1",
  "PLAIN",
] as const;

const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug", "trace"];

export const coreSchema = {
  server: section("The XMPP service.", {
    domains: strList({
      doc: "Hosted XMPP domains; the first one is the default.",
      default: ["localhost"],
      noun: "domain names",
      minItems: 1,
      lowercase: true,
      check: (ds) => {
        const bad = ds.find(
          (d) => !/^[^\s@/\\"]+$/.test(d) || d.startsWith(".") || d.endsWith("."),
        );
        return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a domain name`;
      },
    }),
    data_dir: path({
      doc: "Directory for the SQLite databases; created at start.",
      default: "data",
    }),
    log_level: oneOf(LOG_LEVELS, { doc: "error, warn, info, debug or trace.", default: "info" }),
  }),
  listen: section("Client-to-server listeners.", {
    interfaces: strList({
      doc: "Addresses the listeners bind to.",
      default: ["127.0.0.1"],
      noun: "addresses",
      minItems: 1,
    }),
    c2s_ports: portList({ doc: "Ports with STARTTLS (RFC 6120); [] disables.", default: [5222] }),
    c2s_direct_tls_ports: portList({
      doc: "Ports with direct TLS (XEP-0368); [] disables.",
      default: [5223],
    }),
    require_encryption: bool({
      doc: "Refuse authentication until the stream is encrypted.",
      default: true,
    }),
  }),
  tls: section("Certificates.", {
    cert_dir: path({
      doc: "Scanned for <domain>.crt+.key, <domain>.pem, <domain>/fullchain.pem+privkey.pem, live/<domain>/.",
      default: "certs",
    }),
    certificates: mapOf(
      "Explicit certificate and key files for a domain.",
      {
        cert: path({ doc: "Certificate file (PEM, may hold the chain)." }),
        key: path({ doc: "Private key file (PEM)." }),
      },
      { lowercaseKeys: true },
    ),
    generate_self_signed: bool({
      doc: "Write a self-signed certificate into cert_dir for a domain that has none.",
      default: true,
    }),
  }),
  auth: section(
    "Authentication.",
    {
      mechanisms: strList({
        doc: "SASL mechanisms offered, in order of preference.",
        default: [...SASL_MECHANISMS],
        noun: "SASL mechanisms",
        minItems: 1,
        allowed: SASL_MECHANISMS,
      }),
      scram_iterations: int({
        doc: "PBKDF2 iterations for newly stored SCRAM credentials.",
        default: 10000,
        min: 4096,
      }),
      max_failures_per_stream: int({
        doc: "Failed SASL attempts allowed on one stream before it is closed (RFC 6120 6.4.5).",
        default: 3,
        min: 1,
        max: 10,
      }),
      failure_delay_ms: int({
        doc: "Delay before answering a failure, doubled per recent failure from the address.",
        default: 500,
        min: 0,
      }),
      failure_delay_max_ms: int({ doc: "Upper bound for that delay.", default: 8000, min: 0 }),
    },
    (a) =>
      a.failure_delay_max_ms < a.failure_delay_ms
        ? new Problem(
            `${a.failure_delay_max_ms} is less than failure_delay_ms (${a.failure_delay_ms})`,
            "failure_delay_max_ms",
          )
        : undefined,
  ),
  limits: section("Limits per connection.", {
    max_stanza_bytes: int({
      doc: "Largest stanza accepted, in bytes (RFC 6120 13.12: at least 10000).",
      default: 262144,
      min: 10000,
    }),
    max_xml_depth: int({
      doc: "Deepest element nesting accepted.",
      default: 32,
      min: 4,
      max: 1000,
    }),
    auth_timeout_seconds: int({
      doc: "Time allowed from connect until resource binding.",
      default: 60,
      min: 1,
    }),
    idle_timeout_seconds: int({
      doc: "Silence after which the server pings the client (XEP-0199).",
      default: 300,
      min: 1,
    }),
    ping_timeout_seconds: int({
      doc: "Time the client has to answer that ping.",
      default: 60,
      min: 1,
    }),
    max_connections_per_address: int({
      doc: "Simultaneous connections allowed from one IP address.",
      default: 20,
      min: 1,
    }),
  }),
} as const;

// Compile-time proof that the core schema produces exactly Config.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const exact: Same<Infer<typeof coreSchema>, Omit<Config, "source">> = true;
void exact;

// ---------------------------------------------------------------------------
// Extensions

let current: Fields = coreSchema;

/** The schema in force: the core sections plus every extension. */
export function currentSchema(): Fields {
  return current;
}

function withSection(fields: Fields, names: string[], add: Section<Fields>, full: string): Fields {
  const [name, ...rest] = names;
  const existing = fields[name];
  if (rest.length === 0) {
    if (existing) throw new Error(`config section "${full}" is already defined`);
    return { ...fields, [name]: add };
  }
  if (existing && existing.kind !== "section") {
    throw new Error(`config section "${full}": "${name}" is not a section`);
  }
  const parent = existing ?? section("", {});
  return { ...fields, [name]: { ...parent, fields: withSection(parent.fields, rest, add, full) } };
}

/**
 * Adds a section (a dotted name like "audit" or "modules.mam" nests it) with its
 * defaults, before the configuration is loaded. Returns a typed reader for it.
 *
 *   const auditConfig = extendSchema("audit", { retention_days: int({ doc: "...", default: 365, min: 1 }) });
 *   auditConfig(config).retention_days
 */
export function extendSchema<const F extends Fields>(
  name: string,
  fields: F,
  doc = "",
): (config: Config) => Infer<F> {
  const names = name.split(".");
  if (names.some((n) => !/^[a-z][a-z0-9_]*$/.test(n))) {
    throw new Error(`config section name "${name}" must be lower_snake_case, dotted for nesting`);
  }
  current = withSection(current, names, section(doc, fields), name);
  return (config) => {
    let v: unknown = config;
    for (const n of names) v = (v as Record<string, unknown>)[n];
    return v as Infer<F>;
  };
}
