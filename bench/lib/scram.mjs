// SCRAM-SHA-1 client side (RFC 5802), written from the RFC for the load
// generator. SaltedPassword is cached per (password, salt, iterations), as
// RFC 5802 5.1 allows a client to do, so a login costs the generator two HMACs
// and a hash, not a PBKDF2 run.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

const saltedCache = new Map();

function salted(password, saltB64, iterations) {
  const key = `${password}\0${saltB64}\0${iterations}`;
  let v = saltedCache.get(key);
  if (!v) {
    const sp = pbkdf2Sync(password, Buffer.from(saltB64, "base64"), iterations, 20, "sha1");
    const clientKey = createHmac("sha1", sp).update("Client Key").digest();
    v = {
      clientKey,
      storedKey: createHash("sha1").update(clientKey).digest(),
      serverKey: createHmac("sha1", sp).update("Server Key").digest(),
    };
    saltedCache.set(key, v);
  }
  return v;
}

/** Keys a server stores for a password (used to provision accounts directly). */
export function scramKeys(password, saltB64, iterations) {
  const { storedKey, serverKey } = salted(password, saltB64, iterations);
  return { storedKey, serverKey };
}

export class ScramSha1 {
  constructor(user, password) {
    this.user = user;
    this.password = password;
    this.nonce = randomBytes(15).toString("base64");
    this.clientFirstBare = `n=${user.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${this.nonce}`;
    this.serverSignature = "";
  }

  first() {
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst) {
    const attrs = new Map();
    for (const kv of serverFirst.split(",")) attrs.set(kv[0], kv.slice(2));
    const nonce = attrs.get("r");
    if (!nonce || !nonce.startsWith(this.nonce)) throw new Error("SCRAM: server nonce does not extend ours");
    const { clientKey, storedKey, serverKey } = salted(this.password, attrs.get("s"), Number(attrs.get("i")));
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac("sha1", storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(20);
    for (let i = 0; i < 20; i++) proof[i] = clientKey[i] ^ signature[i];
    this.serverSignature = createHmac("sha1", serverKey).update(authMessage).digest("base64");
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  verify(serverFinal) {
    return serverFinal === `v=${this.serverSignature}`;
  }
}
