// SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants, server side
// (RFC 5802, RFC 7677; channel binding types of RFC 9266 and RFC 5929).
//
// Failure texts are RFC 5802 server-error-values; what XMPP clients act on
// is the RFC 6120 condition.

import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  fakeCredentials,
  hash,
  hmac,
  SCRAM_HASHES,
  type ScramCredential,
  type ScramName,
} from "./credentials.js";
import {
  decodeUtf8,
  failure,
  type ChannelBindingType,
  type MechanismOptions,
  type SaslContext,
  type SaslMechanism,
  type SaslStep,
} from "./types.js";

export const SCRAM_MECHANISMS = [
  "SCRAM-SHA-1",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-256-PLUS",
] as const;
export type ScramMechanismName = (typeof SCRAM_MECHANISMS)[number];

const MAX_MESSAGE_BYTES = 4096;
const DEFAULT_FAKE_ITERATIONS = 4096;

// printable = %x21-2B / %x2D-7E (RFC 5802 7)
function isPrintable(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false;
  }
  return true;
}

/** saslname = 1*(value-safe-char / "=2C" / "=3D"), unescaped; null when malformed. */
function unescapeSaslname(s: string): string | null {
  if (s.length === 0 || s.includes("\0")) return null;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== "=") {
      out += ch;
      continue;
    }
    const esc = s.slice(i + 1, i + 3);
    if (esc === "2C") out += ",";
    else if (esc === "3D") out += "=";
    else return null;
    i += 2;
  }
  return out;
}

const RE_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Strict base64 (RFC 4648 4): canonical padding and zero pad bits, non-empty. */
function decodeBase64(s: string): Buffer | null {
  if (s.length === 0 || !RE_BASE64.test(s)) return null;
  const b = Buffer.from(s, "base64");
  return b.toString("base64") === s ? b : null;
}

// attr-val = ALPHA "=" value; value = 1*value-char (no "," and no NUL)
const RE_EXTENSION = /^[A-Za-z]=[^\0]+$/;

type State = "start" | "awaiting-final" | "done";

interface FirstMessage {
  gs2Header: string;
  cbType: string | null; // from "p=", null for "n"/"y"
  flag: "n" | "y" | "p";
  authzid: string | null;
  username: string;
  clientNonce: string;
  bare: string;
}

export class ScramMechanism implements SaslMechanism {
  readonly name: ScramMechanismName;
  readonly #hash: ScramName;
  readonly #plus: boolean;
  readonly #ctx: SaslContext;
  readonly #opts: MechanismOptions;
  #state: State = "start";
  #busy = false;
  #emptyChallengeSent = false;
  // Set after the client-first message:
  #first: FirstMessage | undefined;
  #cred: ScramCredential | undefined;
  #unknown = false;
  #nonce = "";
  #serverFirst = "";
  #expectedCbind: Buffer | undefined;

  constructor(name: ScramMechanismName, ctx: SaslContext, opts: MechanismOptions = {}) {
    this.name = name;
    this.#plus = name.endsWith("-PLUS");
    this.#hash = (this.#plus ? name.slice(0, -5) : name) as ScramName;
    this.#ctx = ctx;
    this.#opts = opts;
    if (opts.serverNonce !== undefined && !isPrintable(opts.serverNonce))
      throw new RangeError("server nonce must be printable ASCII without ','");
  }

  async step(input: Buffer | null): Promise<SaslStep> {
    if (this.#busy) return failure("malformed-request", "step while a previous step is pending");
    this.#busy = true;
    try {
      const result = await this.#step(input);
      if (result.kind !== "challenge") this.#state = "done";
      return result;
    } catch {
      this.#state = "done";
      return failure("temporary-auth-failure");
    } finally {
      this.#busy = false;
    }
  }

  async #step(input: Buffer | null): Promise<SaslStep> {
    if (this.#state === "done") return failure("malformed-request", "exchange already finished");
    if (input === null || input.length === 0) {
      // No initial response: send an empty challenge once, then expect client-first.
      if (this.#state === "start" && !this.#emptyChallengeSent) {
        this.#emptyChallengeSent = true;
        return { kind: "challenge", data: Buffer.alloc(0) };
      }
      return failure("malformed-request", "invalid-encoding");
    }
    if (input.length > MAX_MESSAGE_BYTES) return failure("malformed-request", "invalid-encoding");
    const text = decodeUtf8(input);
    if (text === null) return failure("malformed-request", "invalid-encoding");
    return this.#state === "start" ? this.#clientFirst(text) : this.#clientFinal(text);
  }

  #parseFirst(msg: string): FirstMessage | SaslStep {
    const malformed = failure("malformed-request", "invalid-encoding");
    const c1 = msg.indexOf(",");
    const c2 = c1 < 0 ? -1 : msg.indexOf(",", c1 + 1);
    if (c2 < 0) return malformed;
    const flagPart = msg.slice(0, c1);
    const authzPart = msg.slice(c1 + 1, c2);
    let flag: FirstMessage["flag"];
    let cbType: string | null = null;
    if (flagPart === "n" || flagPart === "y") flag = flagPart;
    else if (/^p=[A-Za-z0-9.-]+$/.test(flagPart)) {
      flag = "p";
      cbType = flagPart.slice(2);
    } else return malformed;
    let authzid: string | null = null;
    if (authzPart !== "") {
      if (!authzPart.startsWith("a=")) return malformed;
      authzid = unescapeSaslname(authzPart.slice(2));
      if (authzid === null) return malformed;
    }
    const bare = msg.slice(c2 + 1);
    const attrs = bare.split(",");
    if (attrs[0]!.startsWith("m=")) return failure("malformed-request", "extensions-not-supported");
    if (attrs.length < 2 || !attrs[0]!.startsWith("n=") || !attrs[1]!.startsWith("r="))
      return malformed;
    const username = unescapeSaslname(attrs[0]!.slice(2));
    const clientNonce = attrs[1]!.slice(2);
    if (username === null || !isPrintable(clientNonce)) return malformed;
    for (const ext of attrs.slice(2)) if (!RE_EXTENSION.test(ext)) return malformed;
    return { gs2Header: msg.slice(0, c2 + 1), cbType, flag, authzid, username, clientNonce, bare };
  }

  async #clientFirst(msg: string): Promise<SaslStep> {
    const first = this.#parseFirst(msg);
    if ("kind" in first) return first;

    // Channel binding negotiation (RFC 5802 6).
    let cbData: Buffer | undefined;
    if (first.flag === "p") {
      if (!this.#plus) return failure("not-authorized", "server-does-not-support-channel-binding");
      cbData = this.#ctx.channelBindings.get(first.cbType as ChannelBindingType);
      if (cbData === undefined)
        return failure("not-authorized", "unsupported-channel-binding-type");
    } else if (this.#plus) {
      return failure("not-authorized", "channel-binding-not-supported");
    } else if (first.flag === "y" && this.#ctx.advertised.some((m) => m.endsWith("-PLUS"))) {
      // The client could have bound but thinks we cannot: a downgrade.
      return failure("not-authorized", "server-does-support-channel-binding");
    }

    let creds;
    try {
      creds = await this.#ctx.lookup(first.username);
    } catch {
      return failure("temporary-auth-failure");
    }
    if (creds === null) {
      this.#unknown = true;
      creds = fakeCredentials(
        first.username,
        this.#opts.fakeIterations ?? DEFAULT_FAKE_ITERATIONS,
        this.#opts.fakeSecret,
      );
    }
    this.#cred = creds[this.#hash];
    this.#first = first;
    this.#expectedCbind =
      cbData === undefined
        ? Buffer.from(first.gs2Header)
        : Buffer.concat([Buffer.from(first.gs2Header), cbData]);
    this.#nonce =
      first.clientNonce + (this.#opts.serverNonce ?? randomBytes(24).toString("base64"));
    this.#serverFirst = `r=${this.#nonce},s=${this.#cred.salt},i=${this.#cred.iterations}`;
    this.#state = "awaiting-final";
    return { kind: "challenge", data: Buffer.from(this.#serverFirst) };
  }

  #clientFinal(msg: string): SaslStep {
    const first = this.#first!;
    const cred = this.#cred!;
    const malformed = failure("malformed-request", "invalid-encoding");
    const p = msg.lastIndexOf(",p=");
    if (p < 0) return malformed;
    const withoutProof = msg.slice(0, p);
    const proof = decodeBase64(msg.slice(p + 3));
    const attrs = withoutProof.split(",");
    if (
      proof === null ||
      attrs.length < 2 ||
      !attrs[0]!.startsWith("c=") ||
      !attrs[1]!.startsWith("r=")
    )
      return malformed;
    for (const ext of attrs.slice(2)) if (!RE_EXTENSION.test(ext)) return malformed;
    const cbind = decodeBase64(attrs[0]!.slice(2));
    if (cbind === null) return malformed;

    const expected = this.#expectedCbind!;
    if (cbind.length !== expected.length || !timingSafeEqual(cbind, expected))
      return failure("not-authorized", "channel-bindings-dont-match");
    if (attrs[1]!.slice(2) !== this.#nonce) return failure("not-authorized", "other-error");

    const storedKey = Buffer.from(cred.storedKey, "base64");
    const authMessage = `${first.bare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.#hash, storedKey, authMessage);
    let ok = proof.length === SCRAM_HASHES[this.#hash].length;
    if (ok) {
      const clientKey = Buffer.alloc(proof.length);
      for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
      const computed = hash(this.#hash, clientKey);
      ok = computed.length === storedKey.length && timingSafeEqual(computed, storedKey);
    }
    if (!ok || this.#unknown) return failure("not-authorized", "invalid-proof");

    const serverSignature = hmac(this.#hash, Buffer.from(cred.serverKey, "base64"), authMessage);
    return {
      kind: "success",
      data: Buffer.from(`v=${serverSignature.toString("base64")}`),
      username: first.username,
      authzid: first.authzid,
    };
  }
}
