// A minimal client side of SCRAM (RFC 5802) for raw-socket tests of the
// mechanisms xmpp.js does not speak (SCRAM-SHA-256). Written from the RFC,
// independently of the server's implementation.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

export class ScramClient {
  private readonly nonce = randomBytes(18).toString("base64");
  private clientFirstBare = "";
  private serverSignature = "";

  constructor(
    private readonly hash: "sha1" | "sha256",
    private readonly user: string,
    private readonly password: string,
    /** For the -PLUS mechanisms: the channel-binding type and the client's own data for it. */
    private readonly binding?: { type: string; data: Buffer },
  ) {}

  private get gs2Header(): string {
    return this.binding ? `p=${this.binding.type},,` : "n,,";
  }

  first(): string {
    this.clientFirstBare = `n=${this.user.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${this.nonce}`;
    return `${this.gs2Header}${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)] as [string, string]));
    const nonce = attrs.get("r")!;
    if (!nonce.startsWith(this.nonce)) throw new Error("server nonce does not extend ours");
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.get("s")!, "base64"), Number(attrs.get("i")), this.hash === "sha1" ? 20 : 32, this.hash);
    const clientKey = createHmac(this.hash, salted).update("Client Key").digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const cbind = Buffer.concat([Buffer.from(this.gs2Header), this.binding?.data ?? Buffer.alloc(0)]);
    const withoutProof = `c=${cbind.toString("base64")},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac(this.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    const serverKey = createHmac(this.hash, salted).update("Server Key").digest();
    this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest("base64");
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  verify(serverFinal: string): boolean {
    return serverFinal === `v=${this.serverSignature}`;
  }
}
