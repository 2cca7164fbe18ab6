// The local admin socket: a Unix socket (mode 0600, so only the server's user
// and root can use it) speaking line-based JSON. One request per line,
// {"command":"status"}; one answer per line, {"ok":true,...} or
// {"ok":false,"error":"..."}. The connection stays open for further requests.

import { chmod, unlink } from "node:fs/promises";
import { type Server, type Socket, connect, createServer } from "node:net";
import type { Logger } from "../core/log.js";

/** Longest request line accepted. */
const MAX_LINE = 64 * 1024;
const IDLE_MS = 30_000;

export type AdminHandler = (request: Record<string, unknown>) => Promise<Record<string, unknown>>;

export class AdminSocketError extends Error {
  override readonly name = "AdminSocketError";
}

/** Whether something answers on the socket (a running server), as opposed to a stale file. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface AdminSocket {
  readonly path: string;
  close(): Promise<void>;
}

export async function startAdminSocket(
  path: string,
  handle: AdminHandler,
  log: Logger,
): Promise<AdminSocket> {
  if (await answers(path)) {
    throw new AdminSocketError(
      `${path}: another Parley server is running on this data directory (its admin socket answers)`,
    );
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT")
      throw new AdminSocketError(
        `${path}: cannot remove the stale admin socket: ${e.code ?? e.message}`,
      );
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serve(socket, handle, log);
  });
  // The socket file is created with the umask applied: 0177 leaves 0600, with no window
  // in which another user could connect. (Binding a Unix socket is synchronous in listen().)
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          new AdminSocketError(
            `${path}: cannot open the admin socket: ${err.code ?? err.message} (admin.socket)`,
          ),
        ),
      );
      server.listen(path, () => resolve());
      process.umask(umask);
    });
  } finally {
    process.umask(umask);
  }
  server.removeAllListeners("error");
  server.on("error", (err) => log.error("admin socket error", { error: err.message }));
  await chmod(path, 0o600);
  return {
    path,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await unlink(path).catch(() => undefined);
    },
  };
}

function serve(socket: Socket, handle: AdminHandler, log: Logger): void {
  socket.setEncoding("utf8");
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on("error", () => undefined);
  let buffer = "";
  let chain = Promise.resolve();
  const reply = (answer: Record<string, unknown>) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(answer)}\n`);
  };
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === "") continue;
      // In order: one answer per request line.
      chain = chain.then(async () => {
        let request: unknown;
        try {
          request = JSON.parse(line);
        } catch {
          return reply({ ok: false, error: "not JSON: send one JSON object per line" });
        }
        if (request === null || typeof request !== "object" || Array.isArray(request)) {
          return reply({ ok: false, error: 'expected a JSON object such as {"command":"status"}' });
        }
        try {
          reply(await handle(request as Record<string, unknown>));
        } catch (err) {
          log.error("admin request failed", { error: (err as Error).message });
          reply({ ok: false, error: (err as Error).message });
        }
      });
    }
    if (buffer.length > MAX_LINE) {
      reply({ ok: false, error: "request line too long" });
      socket.end();
    }
  });
}

/** Client side: sends one request, resolves with the answer. */
export function adminRequest(
  path: string,
  request: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new AdminSocketError(`${path}: no answer from the server within ${timeoutMs / 1000} s`),
      );
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.once("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      } catch {
        reject(new AdminSocketError(`${path}: the answer is not JSON`));
      }
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        err.code === "ENOENT" || err.code === "ECONNREFUSED"
          ? "the server is not running (nothing answers on its admin socket)"
          : err.code === "EACCES"
            ? "permission denied: run this as the user the server runs as (e.g. sudo -u parley)"
            : err.message;
      reject(new AdminSocketError(`${path}: ${why}`));
    });
  });
}
