// Shared types of the server-side SASL mechanisms (RFC 6120 6.4/6.5).

import type { Credentials } from "./credentials.js";

/** RFC 6120 6.5 */
export type SaslFailureCondition =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

/** RFC 9266 and RFC 5929 */
export type ChannelBindingType = "tls-exporter" | "tls-server-end-point" | "tls-unique";

export interface SaslContext {
  /** Credentials for a SASL username (exactly as the client sent it, after SCRAM's =2C/=3D unescaping); null when unknown. The caller prepares it as a JID localpart. */
  lookup(username: string): Promise<Credentials | null>;
  /** Channel binding data the TLS layer can provide on this connection (empty map on plain TCP). */
  channelBindings: Map<ChannelBindingType, Buffer>;
  /** The mechanisms advertised on this stream (needed to detect SCRAM downgrade: a client sending gs2 flag "y" while a -PLUS variant was advertised must fail). */
  advertised: readonly string[];
}

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  | { kind: "success"; data: Buffer | null; username: string; authzid: string | null }
  | { kind: "failure"; condition: SaslFailureCondition; text?: string };

export interface SaslMechanism {
  readonly name: string;
  /** input: null when the client sent no data at all (no initial response), an empty Buffer for "=". */
  step(input: Buffer | null): Promise<SaslStep>;
}

export interface MechanismOptions {
  /** SCRAM: the server nonce part (printable ASCII without ","); random when absent. For tests. */
  serverNonce?: string;
  /** Iteration count presented for unknown users; should match what real accounts use. Default 4096. */
  fakeIterations?: number;
  /** Secret that makes fake salts deterministic per username; a per-process random one when absent. */
  fakeSecret?: Buffer;
}

export function failure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: "failure", condition } : { kind: "failure", condition, text };
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decoding; null when the bytes are not UTF-8. */
export function decodeUtf8(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}
