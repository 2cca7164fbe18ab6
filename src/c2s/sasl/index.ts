// Server-side SASL (RFC 6120 6): the mechanisms we offer and how to pick one.

import { PlainMechanism } from "./plain.js";
import { SCRAM_MECHANISMS, ScramMechanism, type ScramMechanismName } from "./scram.js";
import type { ChannelBindingType, MechanismOptions, SaslContext, SaslMechanism } from "./types.js";

export type {
  ChannelBindingType,
  MechanismOptions,
  SaslContext,
  SaslFailureCondition,
  SaslMechanism,
  SaslStep,
} from "./types.js";
export {
  deriveCredentials,
  deriveScramCredential,
  saslprep,
  SaslprepError,
  verifyPassword,
  type Credentials,
  type ScramCredential,
  type ScramName,
} from "./credentials.js";

export const SUPPORTED_MECHANISMS: readonly string[] = [...SCRAM_MECHANISMS, "PLAIN"];

function isScram(name: string): name is ScramMechanismName {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name);
}

/** null = unknown mechanism (the caller answers invalid-mechanism). opts is for tests and for the fake-user iteration count. */
export function createMechanism(
  name: string,
  ctx: SaslContext,
  opts: MechanismOptions = {},
): SaslMechanism | null {
  if (isScram(name)) return new ScramMechanism(name, ctx, opts);
  if (name === "PLAIN") return new PlainMechanism(ctx, opts);
  return null;
}

/** What to offer on a stream, in the configured order: PLAIN only when `secure`; -PLUS variants only when at least one binding is available. Unknown names are dropped. */
export function advertisedMechanisms(
  configured: readonly string[],
  secure: boolean,
  bindings: readonly ChannelBindingType[],
): string[] {
  const out: string[] = [];
  for (const name of configured) {
    if (!SUPPORTED_MECHANISMS.includes(name) || out.includes(name)) continue;
    if (name === "PLAIN" && !secure) continue;
    if (name.endsWith("-PLUS") && bindings.length === 0) continue;
    out.push(name);
  }
  return out;
}
