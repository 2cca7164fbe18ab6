// The Prometheus endpoint: node's http module, GET /metrics in the text
// exposition format. Meant for loopback ([metrics] address).

import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/log.js";
import { CONTENT_TYPE, type Registry } from "./registry.js";

export interface MetricsEndpoint {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startMetricsEndpoint(
  registry: Registry,
  opts: { address: string; port: number; path: string },
  log: Logger,
): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url !== opts.path) {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end(`not found; metrics are at ${opts.path}\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res
        .writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" })
        .end("method not allowed\n");
      return;
    }
    let body: string;
    try {
      body = registry.render();
    } catch (err) {
      log.error("metrics rendering failed", { error: (err as Error).message });
      res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPE, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const what =
        err.code === "EADDRINUSE"
          ? "is already in use"
          : err.code === "EACCES"
            ? "needs privileges"
            : err.message;
      reject(
        new Error(`cannot listen on ${opts.address} port ${opts.port}: ${what} (metrics.port)`),
      );
    });
    server.listen(opts.port, opts.address, () => {
      server.removeAllListeners("error");
      server.on("error", (err) => log.error("metrics endpoint error", { error: err.message }));
      const info = server.address() as AddressInfo;
      resolve({
        address: info.address,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
