// TCP (STARTTLS) and direct TLS (XEP-0368) listeners. They only accept,
// enforce the per-address connection limit and set up TLS, then hand a
// Transport to the c2s layer.

import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { type Server as TlsServer, type TLSSocket, createServer as createTlsServer } from "node:tls";
import type { Logger } from "../core/log.js";
import type { Transport } from "../c2s/transport.js";
import type { TlsContexts } from "./certs.js";
import { SocketTransport } from "./transport.js";

export interface ListenerOptions {
  interfaces: readonly string[];
  starttlsPorts: readonly number[];
  directTlsPorts: readonly number[];
  maxConnectionsPerAddress: () => number;
}

export interface BoundListener {
  kind: "starttls" | "direct-tls";
  address: string;
  port: number;
}

export class Listeners {
  private readonly servers: Server[] = [];
  private readonly perAddress = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  readonly bound: BoundListener[] = [];

  constructor(
    private tls: TlsContexts,
    private readonly onTransport: (t: Transport) => void,
    private readonly log: Logger,
  ) {}

  /** New connections use the new certificates; existing ones keep theirs. */
  setTls(tls: TlsContexts): void {
    this.tls = tls;
    for (const server of this.tlsServers) server.setSecureContext({ ...tls.defaultPems, minVersion: "TLSv1.2" });
  }

  private readonly tlsServers: TlsServer[] = [];

  async start(opts: ListenerOptions): Promise<BoundListener[]> {
    for (const host of opts.interfaces) {
      for (const port of opts.starttlsPorts) {
        const server = createServer((socket) => this.accept(socket, opts, false));
        this.bound.push({ kind: "starttls", ...(await this.listen(server, host, port)) });
      }
      for (const port of opts.directTlsPorts) {
        const server = createTlsServer(
          {
            // Per connection: the current contexts, so a reload applies to the next handshake.
            SNICallback: (name, cb) => this.tls.sniCallback(name, cb),
            ...this.tls.defaultPems,
            minVersion: "TLSv1.2",
            ALPNProtocols: ["xmpp-client"],
          },
          (socket) => this.accept(socket, opts, true),
        );
        this.tlsServers.push(server);
        server.on("tlsClientError", (err) => this.log.debug("tls handshake failed", { error: err.message }));
        this.bound.push({ kind: "direct-tls", ...(await this.listen(server, host, port)) });
      }
    }
    return this.bound;
  }

  private listen(server: Server, host: string, port: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        const what = err.code === "EADDRINUSE" ? "is already in use" : err.code === "EACCES" ? "needs privileges" : err.message;
        reject(new Error(`cannot listen on ${host} port ${port}: ${what}`));
      });
      server.listen(port, host, () => {
        this.servers.push(server);
        server.removeAllListeners("error");
        server.on("error", (err) => this.log.error("listener error", { error: err.message }));
        const info = server.address() as AddressInfo;
        resolve({ address: info.address, port: info.port });
      });
    });
  }

  private accept(socket: Socket | TLSSocket, opts: ListenerOptions, _direct: boolean): void {
    const address = socket.remoteAddress ?? "unknown";
    const count = (this.perAddress.get(address) ?? 0) + 1;
    if (count > opts.maxConnectionsPerAddress()) {
      this.log.warn("too many connections from one address", { address });
      socket.destroy();
      return;
    }
    this.perAddress.set(address, count);
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.once("close", () => {
      this.sockets.delete(socket);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
    this.onTransport(new SocketTransport(socket, address, () => this.tls));
  }

  /**
   * Stops accepting new connections at once; the promise resolves when the
   * existing ones (which the caller closes) are gone too.
   */
  stop(): Promise<void> {
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
    return closed.then(() => undefined);
  }

  get connectionCount(): number {
    return this.sockets.size;
  }
}
