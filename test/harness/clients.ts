// Clients for integration tests: xmpp.js (someone else's XMPP code) for
// normal use, and raw sockets where the exact bytes matter.

import { client as xmppClient, type Client, type XmlElement } from "@xmpp/client";
import { type Socket, connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

export type { Client };

export interface ClientOptions {
  port: number;
  username: string;
  password: string;
  resource?: string;
  /** Direct TLS (XEP-0368) instead of STARTTLS. */
  directTls?: boolean;
  domain?: string;
  /** Sees every stanza from the start: what the server sends with the bind result arrives before start() resolves. */
  onStanza?: (stanza: XmlElement) => void;
}

/** Connects and waits until online (bound); rejects with the client's error otherwise. */
export async function connectClient(opts: ClientOptions): Promise<Client> {
  const scheme = opts.directTls ? "xmpps" : "xmpp";
  const xmpp = xmppClient({
    service: `${scheme}://127.0.0.1:${opts.port}`,
    domain: opts.domain ?? "localhost",
    username: opts.username,
    password: opts.password,
    resource: opts.resource,
  });
  xmpp.reconnect.stop();
  const errors: Error[] = [];
  xmpp.on("error", (err: Error) => errors.push(err));
  if (opts.onStanza) xmpp.on("stanza", opts.onStanza);
  try {
    await xmpp.start();
  } catch (err) {
    await xmpp.stop().catch(() => undefined);
    throw err;
  }
  return xmpp;
}

/** A raw TCP (or TLS) connection that collects everything the server writes. */
export class RawClient {
  received = "";
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(public socket: Socket) {
    this.listen(socket);
  }

  private listen(socket: Socket): void {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.received += d;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** A plain connection taken through STARTTLS (RFC 6120 5.4), stopping right after the TLS handshake. */
  static async starttls(port: number): Promise<RawClient> {
    const raw = await RawClient.connect(port);
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await raw.waitFor("<proceed");
    await raw.upgrade();
    return raw;
  }

  static connect(port: number, tls = false): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tls
        ? tlsConnect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false })
        : netConnect({ port, host: "127.0.0.1" });
      socket.once(tls ? "secureConnect" : "connect", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until what was received matches, or the connection closes, or the timeout passes. */
  async waitFor(match: RegExp | string, timeoutMs = 5000): Promise<string> {
    const test = () => (typeof match === "string" ? this.received.includes(match) : match.test(this.received));
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (this.closed) throw new Error(`connection closed before ${match} arrived; got: ${this.received}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${match}; got: ${this.received}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open; got: ${this.received}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** STARTTLS from the client side, after <proceed/>. */
  upgrade(): Promise<void> {
    return new Promise((resolve, reject) => {
      const plain = this.socket;
      plain.removeAllListeners("data");
      plain.removeAllListeners("close");
      const secure = tlsConnect({ socket: plain, servername: "localhost", rejectUnauthorized: false });
      secure.once("secureConnect", () => {
        this.socket = secure;
        this.received = "";
        this.listen(secure);
        resolve();
      });
      secure.once("error", reject);
    });
  }

  clear(): void {
    this.received = "";
  }

  close(): void {
    this.socket.destroy();
  }
}

export const HEADER = (to = "localhost") =>
  `<?xml version='1.0'?><stream:stream to='${to}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
