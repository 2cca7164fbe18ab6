// PLAIN (RFC 4616), server side: only ever offered inside TLS.

import { fakeCredentials, saslprep, SaslprepError, verifyPassword } from "./credentials.js";
import {
  decodeUtf8,
  failure,
  type MechanismOptions,
  type SaslContext,
  type SaslMechanism,
  type SaslStep,
} from "./types.js";

const MAX_FIELD_BYTES = 255;
const DEFAULT_FAKE_ITERATIONS = 4096;

export class PlainMechanism implements SaslMechanism {
  readonly name = "PLAIN";
  readonly #ctx: SaslContext;
  readonly #opts: MechanismOptions;
  #done = false;
  #busy = false;
  #emptyChallengeSent = false;

  constructor(ctx: SaslContext, opts: MechanismOptions = {}) {
    this.#ctx = ctx;
    this.#opts = opts;
  }

  async step(input: Buffer | null): Promise<SaslStep> {
    if (this.#busy) return failure("malformed-request");
    if (this.#done) return failure("malformed-request");
    // No initial response: ask for it once. "=" is a zero-length response
    // (RFC 6120 6.4.2), and an empty PLAIN message is malformed (RFC 4616 2).
    if (input === null && !this.#emptyChallengeSent) {
      this.#emptyChallengeSent = true;
      return { kind: "challenge", data: Buffer.alloc(0) };
    }
    this.#busy = true;
    try {
      return await this.#verify(input ?? Buffer.alloc(0));
    } catch {
      return failure("temporary-auth-failure");
    } finally {
      this.#busy = false;
      this.#done = true;
    }
  }

  async #verify(input: Buffer): Promise<SaslStep> {
    // message = [authzid] UTF8NUL authcid UTF8NUL passwd
    const first = input.indexOf(0);
    const second = first < 0 ? -1 : input.indexOf(0, first + 1);
    if (second < 0 || input.indexOf(0, second + 1) >= 0) return failure("malformed-request");
    const fields = [
      input.subarray(0, first),
      input.subarray(first + 1, second),
      input.subarray(second + 1),
    ];
    if (
      fields.some((f) => f.length > MAX_FIELD_BYTES) ||
      fields[1]!.length === 0 ||
      fields[2]!.length === 0
    )
      return failure("malformed-request");
    const [authzid, authcid, password] = fields.map(decodeUtf8);
    if (authzid == null || authcid == null || password == null) return failure("malformed-request");

    let username: string;
    try {
      username = saslprep(authcid);
    } catch (e) {
      if (e instanceof SaslprepError) return failure("not-authorized");
      throw e;
    }
    const creds = await this.#ctx.lookup(username);
    // An unknown user costs the same PBKDF2 work as a known one.
    const ok = await verifyPassword(
      creds ??
        fakeCredentials(
          username,
          this.#opts.fakeIterations ?? DEFAULT_FAKE_ITERATIONS,
          this.#opts.fakeSecret,
        ),
      password,
    );
    if (!ok || creds === null) return failure("not-authorized");
    return { kind: "success", data: null, username, authzid: authzid === "" ? null : authzid };
  }
}
