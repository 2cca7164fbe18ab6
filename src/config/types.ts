// The shape of a validated configuration. The schema in schema.ts produces
// exactly this (frozen); everything else in the server reads only this type.

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";

export interface ServerConfig {
  /** Hosted XMPP domains, prepared (lower case). The first one is the default. */
  domains: string[];
  /** Directory for SQLite files; created at start. Absolute after loading. */
  data_dir: string;
  log_level: LogLevel;
}

export interface ListenConfig {
  /** Addresses the listeners bind to. */
  interfaces: string[];
  /** Ports with STARTTLS (RFC 6120). 0 picks a free port (tests); [] disables. */
  c2s_ports: number[];
  /** Ports with direct TLS (XEP-0368). */
  c2s_direct_tls_ports: number[];
  /** Refuse authentication until the stream is encrypted. */
  require_encryption: boolean;
}

export interface CertificatePaths {
  cert: string;
  key: string;
}

export interface TlsConfig {
  /** Scanned for <domain>.crt/.key, <domain>.pem, <domain>/fullchain.pem + privkey.pem. */
  cert_dir: string;
  /** Explicit per-domain certificate and key paths (absolute after loading). */
  certificates: Record<string, CertificatePaths>;
  /** Make a self-signed certificate in cert_dir for a domain that has none. */
  generate_self_signed: boolean;
}

export interface AuthConfig {
  /** SASL mechanisms offered, in order of preference. */
  mechanisms: string[];
  /** PBKDF2 iterations for newly stored SCRAM credentials. */
  scram_iterations: number;
  /** Failed SASL attempts allowed on one stream before it is closed. */
  max_failures_per_stream: number;
  /** Delay before answering a failure, doubled per recent failure from the address. */
  failure_delay_ms: number;
  /** Upper bound for that delay. */
  failure_delay_max_ms: number;
}

export interface LimitsConfig {
  max_stanza_bytes: number;
  max_xml_depth: number;
  /** Time allowed from connect until resource binding. */
  auth_timeout_seconds: number;
  /** Silence after which the server pings the client (XEP-0199). */
  idle_timeout_seconds: number;
  /** Time the client has to answer that ping before connection-timeout. */
  ping_timeout_seconds: number;
  max_connections_per_address: number;
}

export interface Config {
  /** The file it was loaded from, or null for the embedded defaults. */
  source: string | null;
  server: ServerConfig;
  listen: ListenConfig;
  tls: TlsConfig;
  auth: AuthConfig;
  limits: LimitsConfig;
}
