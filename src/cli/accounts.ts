// parley adduser | passwd | deluser | listusers

import type { Command } from "commander";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { adminSettings } from "../admin/config.js";
import { adminRequest } from "../admin/socket.js";
import { deriveCredentials } from "../c2s/sasl/credentials.js";
import type { Config } from "../config/types.js";
import { openSqliteStorage } from "../storage/sqlite/index.js";
import { AccountExistsError, type Storage } from "../storage/types.js";
import { Jid } from "../xmpp/jid.js";
import { recordAdminAction } from "./audit.js";
import { fail, loadFor } from "./common.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

async function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk as Buffer);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      muted = true;
    });
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}

async function readPassword(fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) password = await readStdin();
  else {
    if (!process.stdin.isTTY) fail("no terminal to ask for the password on: use --password-stdin");
    password = await promptHidden("Password: ");
    if ((await promptHidden("Again: ")) !== password) fail("the two passwords differ");
  }
  if (password === "") fail("the password is empty");
  return password;
}

function accountJid(config: Config, address: string): Jid {
  const jid = Jid.tryParse(address);
  if (!jid || !jid.local || jid.resource) fail(`"${address}" is not an account address like alice@${config.server.domains[0]}`);
  if (!config.server.domains.includes(jid.domain)) {
    fail(`${jid.domain} is not a hosted domain (server.domains: ${config.server.domains.join(", ")})`);
  }
  return jid;
}

async function withStorage<T>(config: Config, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openSqliteStorage(config.server.data_dir);
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

/**
 * A running server keeps the rosters of online accounts in memory and does not see
 * this process's writes: it is told, and ends the deleted account's sessions.
 * No server running (nothing answers on the admin socket) is the usual case.
 */
async function tellRunningServer(config: Config, jid: Jid): Promise<void> {
  const admin = adminSettings(config);
  if (!admin.enabled) return;
  try {
    const answer = await adminRequest(admin.socket, { command: "account-deleted", jid: jid.toString() });
    if (answer.ok !== true) console.error(`warning: the running server refused to end ${jid}'s sessions: ${String(answer.error)}`);
    else if (Number(answer.closed) > 0) console.log(`ended ${String(answer.closed)} session(s) of ${jid}`);
  } catch (err) {
    const message = (err as Error).message;
    if (!message.includes("is not running")) console.error(`warning: could not tell the running server: ${message}`);
  }
}

async function credentialsFor(config: Config, password: string) {
  try {
    return await deriveCredentials(password, config.auth.scram_iterations);
  } catch (err) {
    return fail(`the password cannot be used: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command("adduser <jid>")
    .description("create an account (the password is asked for, or read from standard input)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (address: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
      const config = await loadFor(cmd);
      const jid = accountJid(config, address);
      // Say so before asking for a password that would be thrown away.
      if (await withStorage(config, (s) => s.accounts.get(jid.domain, jid.local))) {
        fail(`${jid} already exists (use 'parley passwd' to change its password)`);
      }
      const password = await readPassword(opts.passwordStdin === true);
      const credentials = await credentialsFor(config, password);
      await withStorage(config, async (s) => {
        try {
          await s.accounts.create(jid.domain, jid.local, credentials);
        } catch (err) {
          if (err instanceof AccountExistsError) fail(`${jid} already exists (use 'parley passwd' to change its password)`);
          throw err;
        }
      });
      await recordAdminAction(config, "adduser", {}, jid.toString());
      console.log(`created ${jid}`);
    });

  program
    .command("passwd <jid>")
    .description("change an account's password")
    .option("--password-stdin", "read the password from standard input")
    .action(async (address: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
      const config = await loadFor(cmd);
      const jid = accountJid(config, address);
      const exists = await withStorage(config, (s) => s.accounts.get(jid.domain, jid.local));
      if (!exists) fail(`${jid} does not exist`);
      const credentials = await credentialsFor(config, await readPassword(opts.passwordStdin === true));
      const changed = await withStorage(config, (s) => s.accounts.setCredentials(jid.domain, jid.local, credentials));
      if (!changed) fail(`${jid} does not exist`);
      await recordAdminAction(config, "passwd", {}, jid.toString());
      console.log(`password changed for ${jid}`);
    });

  program
    .command("deluser <jid>")
    .description("delete an account")
    .action(async (address: string, _opts: unknown, cmd: Command) => {
      const config = await loadFor(cmd);
      const jid = accountJid(config, address);
      const deleted = await withStorage(config, async (s) => {
        if (!(await s.accounts.get(jid.domain, jid.local))) return false;
        // The account's roster, pending requests and offline messages go with it (a new account
        // of the same name starts empty); personal data first, so a rerun after a failure finishes.
        await s.roster.forget(jid.toString());
        await s.offline.forget(jid.toString());
        return s.accounts.delete(jid.domain, jid.local);
      });
      if (!deleted) fail(`${jid} does not exist`);
      await recordAdminAction(config, "deluser", {}, jid.toString());
      console.log(`deleted ${jid}`);
      await tellRunningServer(config, jid);
    });

  program
    .command("listusers [domain]")
    .description("list accounts, of one domain or all")
    .action(async (domain: string | undefined, _opts: unknown, cmd: Command) => {
      const config = await loadFor(cmd);
      if (domain !== undefined && !config.server.domains.includes(domain.toLowerCase())) {
        fail(`${domain} is not a hosted domain (server.domains: ${config.server.domains.join(", ")})`);
      }
      const rows = await withStorage(config, (s) => s.accounts.list(domain?.toLowerCase()));
      for (const r of rows) console.log(`${r.local}@${r.domain}`);
    });
}
