// What every server is given alike: accounts, rosters, certificate.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { scramKeys } from "../lib/scram.mjs";

export const DOMAIN = "localhost";
export const PASSWORD = "bench-password";
/** One salt for every account, so the generator runs PBKDF2 once (its cache); servers never run it at login. */
export const SALT_TEXT = "parley-bench-salt";
export const SALT_B64 = Buffer.from(SALT_TEXT).toString("base64");
export const ITERATIONS = 4096;

export function keys() {
  return scramKeys(PASSWORD, SALT_B64, ITERATIONS);
}

/** Plain accounts u0..u(n-1): logins, messages, idle sessions. Empty rosters. */
export const userName = (i) => `u${i}`;
/** Presence accounts p0..p(m-1), each with `contacts` mutual ('both') contacts on a ring. */
export const presenceName = (i) => `p${i}`;

export function ringContacts(i, m, contacts) {
  const half = contacts / 2;
  const out = [];
  for (let k = 1; k <= half; k++) {
    out.push((i + k) % m, (i - k + m) % m);
  }
  return out;
}

/** A self-signed RSA-2048 certificate for localhost, shared by the three servers. */
export function certificate(dir) {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, `${DOMAIN}.crt`);
  const key = join(dir, `${DOMAIN}.key`);
  if (!existsSync(cert)) {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
      "-keyout", key, "-out", cert, "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:${DOMAIN}`,
    ], { stdio: "ignore" });
  }
  return { cert, key };
}
