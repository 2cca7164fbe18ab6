// `parley start` as a child process, the way systemd runs it: a config file,
// signals, the exit code, and every log line it writes.

import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BIN, runParley } from "../harness/cli.js";

export interface Daemon {
  child: ChildProcess;
  lines: string[];
  starttlsPort: number;
  directTlsPort: number;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Waits until a log line matches; returns it. */
  waitLine(match: RegExp, timeoutMs?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
}

/** A configuration for a test daemon in `dir`: free ports, fast SCRAM, no throttling. */
export function daemonToml(dir: string, extra = ""): string {
  return `[server]
data_dir = "${join(dir, "data")}"
log_level = "debug"
[listen]
c2s_ports = [0]
c2s_direct_tls_ports = [0]
[tls]
cert_dir = "${join(dir, "certs")}"
[auth]
failure_delay_ms = 0
scram_iterations = 4096
${extra}`;
}

export async function writeToml(dir: string, extra = ""): Promise<string> {
  const path = join(dir, "parley.toml");
  await writeFile(path, daemonToml(dir, extra));
  return path;
}

export async function addUsers(dir: string, config: string, users: string[]): Promise<void> {
  for (const u of users) {
    const r = await runParley(
      ["--config", config, "adduser", `${u}@localhost`, "--password-stdin"],
      dir,
      { input: "pw\n" },
    );
    if (r.code !== 0) throw new Error(`adduser ${u}: ${r.stderr}`);
  }
}

export async function startDaemon(dir: string, config: string): Promise<Daemon> {
  const env = { ...process.env };
  delete env.PARLEY_CONFIG;
  const child = spawn(process.execPath, [BIN, "--config", config, "start"], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  let partial = "";
  const onText = (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    wake();
  };
  child.stdout!.on("data", onText);
  child.stderr!.on("data", onText);
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      done = true;
      wake();
      resolve(code);
    });
  });
  const waitLine = async (match: RegExp, timeoutMs = 10_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((l) => match.test(l));
      if (found) return found;
      if (done)
        throw new Error(
          `parley exited before a line matching ${match}; it wrote:\n${lines.join("\n")}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no line matching ${match}; parley wrote:\n${lines.join("\n")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  const port = async (kind: string) =>
    Number(/port=(\d+)/.exec(await waitLine(new RegExp(`listening kind=${kind} `)))![1]);
  try {
    const starttlsPort = await port("starttls");
    const directTlsPort = await port("direct-tls");
    return {
      child,
      lines,
      starttlsPort,
      directTlsPort,
      exited,
      waitLine,
      signal: (sig) => child.kill(sig),
    };
  } catch (err) {
    child.kill("SIGKILL");
    waiters = [];
    throw err;
  }
}
