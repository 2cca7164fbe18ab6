// Runs bin/parley as a child process, the way an administrator does.

import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = join(ROOT, "bin/parley");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runParley(args: string[], cwd: string, opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((ok, fail) => {
    const base = { ...process.env };
    delete base.PARLEY_CONFIG;
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => ok({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}
