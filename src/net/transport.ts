// The Transport a c2s stream runs on, over a TCP socket that may be or
// become TLS. The only place besides the listeners that touches sockets.

import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";
import type { ChannelBindingType } from "../c2s/sasl/index.js";
import type { Transport } from "../c2s/transport.js";
import type { TlsContexts } from "./certs.js";
import { tlsServerEndPoint } from "./end-point.js";

/**
 * tls-server-end-point data per secure context. getCertificate() turns the whole
 * certificate into an object (about 75 µs) and every login's features need the
 * bindings, while a context's certificate never changes. null: none to bind to.
 */
const endPoints = new WeakMap<SecureContext, Buffer | null>();

export class SocketTransport implements Transport {
  private socket: Socket;
  private dataCb: ((chunk: Buffer) => void) | null = null;
  private readonly closeCbs: ((reason: string) => void)[] = [];
  private closed = false;
  private lastError: string | null = null;
  /** The context the STARTTLS handshake used (SNI may switch it); unknown on direct TLS. */
  private tlsContext: SecureContext | null = null;

  constructor(
    socket: Socket,
    readonly remoteAddress: string,
    /** Read at STARTTLS time, so a reload applies to the next upgrade. */
    private readonly tls: () => TlsContexts,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get canStartTls(): boolean {
    return !this.secure;
  }

  private attach(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => this.dataCb?.(chunk));
    socket.on("error", (err) => {
      this.lastError = err.message;
    });
    socket.on("close", () => {
      if (socket !== this.socket || this.closed) return;
      this.closed = true;
      for (const cb of this.closeCbs) cb(this.lastError ?? "closed by peer");
    });
  }

  /** The socket whose writes are held until the end of this tick (see write). */
  private corked: Socket | null = null;

  /**
   * Writes made in one tick leave as one TLS record and one syscall: a commit
   * group resolves many deliveries at once, often several to the same session,
   * and a login answers with a header and features together. On this kind of
   * machine a socket write costs more in the kernel than the stanza costs us.
   */
  write(data: string): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.corked === null) {
      const socket = (this.corked = this.socket);
      socket.cork();
      process.nextTick(() => this.flush(socket));
    }
    return this.socket.write(data);
  }

  private flush(socket: Socket): void {
    if (this.corked !== socket) return;
    this.corked = null;
    socket.uncork();
  }

  onDrain(cb: () => void): void {
    this.socket.once("drain", cb);
  }

  end(graceMs = 2000): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  onData(cb: (chunk: Buffer) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (reason: string) => void): void {
    this.closeCbs.push(cb);
  }

  startTls(servername: string): Promise<void> {
    const plain = this.socket;
    // <proceed/> must reach the wire before the socket is handed to TLS.
    this.flush(plain);
    plain.removeAllListeners("data");
    const tls = this.tls();
    this.tlsContext = tls.contextFor(servername);
    const secure = new TLSSocket(plain, {
      isServer: true,
      secureContext: this.tlsContext,
      SNICallback: (name, cb) =>
        tls.sniCallback(name, (err, ctx) => {
          if (ctx) this.tlsContext = ctx;
          cb(err, ctx);
        }),
    });
    this.socket = secure;
    // From here on the TLS socket's events count; the plain socket's are ignored by attach().
    this.attach(secure);
    return new Promise((resolve, reject) => {
      const closed = () => reject(new Error("closed during TLS handshake"));
      secure.once("error", reject);
      secure.once("close", closed);
      secure.once("secure", () => {
        // Not kept for the life of the session: each holds the promise's functions.
        secure.off("error", reject);
        secure.off("close", closed);
        resolve();
      });
    });
  }

  /** Computed once per TLS connection: the features and the SASL exchange both ask. */
  private bindings: { socket: Socket; map: Map<ChannelBindingType, Buffer> } | null = null;

  channelBindings(): Map<ChannelBindingType, Buffer> {
    if (this.bindings?.socket !== this.socket)
      this.bindings = { socket: this.socket, map: this.computeBindings() };
    return this.bindings.map;
  }

  /** About 450 bytes per session in a heap snapshot of idle sessions (map, buffers, the context reference). */
  releaseChannelBindings(): void {
    this.bindings = null;
    this.tlsContext = null;
  }

  private computeBindings(): Map<ChannelBindingType, Buffer> {
    const bindings = new Map<ChannelBindingType, Buffer>();
    const socket = this.socket;
    if (!(socket instanceof TLSSocket)) return bindings;
    // RFC 9266: tls-exporter is defined for TLS 1.3 only.
    if (socket.getProtocol() === "TLSv1.3") {
      bindings.set(
        "tls-exporter",
        socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0)),
      );
    }
    // RFC 5929 3.1: the first Finished message of the latest handshake (the client's, unless
    // the session was resumed). COMPAT: slixmpp 1.8 binds only to tls-unique, even on TLS 1.3,
    // where RFC 9266 replaces it with tls-exporter; without it slixmpp cannot log in while
    // -PLUS is offered (its non-PLUS attempt then says "y", which RFC 5802 makes us refuse).
    const finished = socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished();
    if (finished) bindings.set("tls-unique", finished);
    const endPoint = this.endPoint(socket);
    if (endPoint) bindings.set("tls-server-end-point", endPoint);
    return bindings;
  }

  /** RFC 5929 4.1: the hash of our certificate, with its signature's hash function (see end-point.ts). */
  private endPoint(socket: TLSSocket): Buffer | null {
    const context = this.tlsContext;
    let hash = context ? endPoints.get(context) : undefined;
    if (hash === undefined) {
      const cert = socket.getCertificate();
      hash = cert && "raw" in cert && cert.raw ? tlsServerEndPoint(cert.raw) : null;
      if (context) endPoints.set(context, hash);
    }
    return hash;
  }

  tlsInfo(): { protocol: string; cipher: string } | null {
    const socket = this.socket;
    if (!(socket instanceof TLSSocket)) return null;
    return { protocol: socket.getProtocol() ?? "unknown", cipher: socket.getCipher().name };
  }
}
