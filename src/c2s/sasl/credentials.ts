// Salted SCRAM credentials (RFC 5802 3, RFC 7677). The password itself is
// never stored: only salt, iteration count, StoredKey and ServerKey for each
// hash, which is enough for SCRAM and, by recomputation, for PLAIN.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import saslprepLib from "@mongodb-js/saslprep";

const pbkdf2Async = promisify(pbkdf2);

export type ScramName = "SCRAM-SHA-1" | "SCRAM-SHA-256";
export interface ScramCredential {
  salt: string /* base64 */;
  iterations: number;
  storedKey: string /* base64 */;
  serverKey: string /* base64 */;
}
export type Credentials = Record<ScramName, ScramCredential>;

export const SCRAM_HASHES: Record<ScramName, { digest: "sha1" | "sha256"; length: number }> = {
  "SCRAM-SHA-1": { digest: "sha1", length: 20 },
  "SCRAM-SHA-256": { digest: "sha256", length: 32 },
};

export class SaslprepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SaslprepError";
  }
}

/** SASLprep (RFC 4013) for stored strings; throws SaslprepError for prohibited characters or an empty result. */
export function saslprep(s: string): string {
  let out: string;
  try {
    out = saslprepLib(s);
  } catch (e) {
    // The library also throws a TypeError when everything maps to nothing.
    throw new SaslprepError(
      e instanceof Error && !(e instanceof TypeError) ? e.message : "SASLprep failed",
    );
  }
  if (out.length === 0) throw new SaslprepError("SASLprep result is empty");
  return out;
}

export function hmac(name: ScramName, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(SCRAM_HASHES[name].digest, key).update(data).digest();
}

export function hash(name: ScramName, data: Buffer): Buffer {
  return createHash(SCRAM_HASHES[name].digest).update(data).digest();
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new RangeError("iterations must be a positive integer");
}

async function keysFor(
  name: ScramName,
  prepared: string,
  salt: Buffer,
  iterations: number,
): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await pbkdf2Async(
    prepared,
    salt,
    iterations,
    SCRAM_HASHES[name].length,
    SCRAM_HASHES[name].digest,
  );
  const clientKey = hmac(name, salted, "Client Key");
  return { storedKey: hash(name, clientKey), serverKey: hmac(name, salted, "Server Key") };
}

/** One hash's credential with a given salt (tests use it for the RFC vectors). SASLpreps the password. */
export async function deriveScramCredential(
  name: ScramName,
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<ScramCredential> {
  checkIterations(iterations);
  return credentialFor(name, saslprep(password), salt, iterations);
}

async function credentialFor(
  name: ScramName,
  prepared: string,
  salt: Buffer,
  iterations: number,
): Promise<ScramCredential> {
  const { storedKey, serverKey } = await keysFor(name, prepared, salt, iterations);
  return {
    salt: salt.toString("base64"),
    iterations,
    storedKey: storedKey.toString("base64"),
    serverKey: serverKey.toString("base64"),
  };
}

/** Both hashes, each with a fresh random 16-byte salt. PBKDF2 runs on the libuv pool, never on the event loop. */
export async function deriveCredentials(
  password: string,
  iterations: number,
): Promise<Credentials> {
  checkIterations(iterations);
  const prepared = saslprep(password);
  const [sha1, sha256] = await Promise.all([
    credentialFor("SCRAM-SHA-1", prepared, randomBytes(16), iterations),
    credentialFor("SCRAM-SHA-256", prepared, randomBytes(16), iterations),
  ]);
  return { "SCRAM-SHA-1": sha1, "SCRAM-SHA-256": sha256 };
}

/** For PLAIN: recompute StoredKey from the SCRAM-SHA-256 salt and iterations and compare in constant time. */
export async function verifyPassword(creds: Credentials, password: string): Promise<boolean> {
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch (e) {
    if (e instanceof SaslprepError) return false;
    throw e;
  }
  const c = creds["SCRAM-SHA-256"];
  const expected = Buffer.from(c.storedKey, "base64");
  const { storedKey } = await keysFor(
    "SCRAM-SHA-256",
    prepared,
    Buffer.from(c.salt, "base64"),
    c.iterations,
  );
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}

const processSecret = randomBytes(32);

/**
 * Credentials for a username that does not exist: the salt is deterministic per
 * username (so repeated probes see the same salt) and the keys match no password.
 */
export function fakeCredentials(
  username: string,
  iterations: number,
  secret: Buffer = processSecret,
): Credentials {
  const one = (name: ScramName): ScramCredential => {
    const mac = (label: string) =>
      createHmac("sha256", secret).update(`${name}\0${label}\0${username}`).digest();
    return {
      salt: mac("salt").subarray(0, 16).toString("base64"),
      iterations,
      storedKey: mac("stored").subarray(0, SCRAM_HASHES[name].length).toString("base64"),
      serverKey: mac("server").subarray(0, SCRAM_HASHES[name].length).toString("base64"),
    };
  };
  return { "SCRAM-SHA-1": one("SCRAM-SHA-1"), "SCRAM-SHA-256": one("SCRAM-SHA-256") };
}
