// Starting pinned processes with a raised descriptor limit, and waiting for ports.

import { spawn, execFileSync } from "node:child_process";
import { openSync } from "node:fs";
import net from "node:net";

export const FD_LIMIT = 65536;

/**
 * Runs cmd pinned to `cpus` (taskset) with `ulimit -n` raised. sh and taskset
 * exec, so the returned child's pid is the program's own pid.
 */
export function spawnPinned(cpus, cmd, args, { env, cwd, log, stdio } = {}) {
  const out = log ? openSync(log, "a") : "ignore";
  const script = `ulimit -Hn ${FD_LIMIT} 2>/dev/null; ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec taskset -c ${cpus} "$@"`;
  return spawn("sh", ["-c", script, "sh", cmd, ...args], {
    env: { ...process.env, ...env },
    cwd,
    stdio: stdio ?? ["ignore", out, out],
  });
}

export function have(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function sh(cmd) {
  try {
    return execFileSync("sh", ["-c", cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (e) {
    return (e.stdout ?? "").trim();
  }
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(port, { host = "127.0.0.1", timeoutMs = 60000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) {
      // Someone else may own the port: make sure our server did not exit on "address in use".
      await new Promise((r) => setTimeout(r, 300));
      if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}; is port ${port} used by another process?`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
export function stopChild(child, graceMs = 10000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
