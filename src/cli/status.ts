// parley status: asks the running server over its admin socket (admin.socket)
// for sessions, accounts, uptime, audit size and lag.

import type { Command } from "commander";
import { adminSettings } from "../admin/config.js";
import { adminRequest } from "../admin/socket.js";
import { type Status, formatStatus } from "../admin/status.js";
import { fail, loadFor } from "./common.js";

export function register(program: Command): void {
  program
    .command("status")
    .description(
      "show the running server's sessions, accounts, uptime and audit lag (via the admin socket)",
    )
    .option("--json", "print the answer as JSON")
    .option("--socket <path>", "the admin socket (default: admin.socket of the configuration)")
    .action(async (opts: { json?: boolean; socket?: string }, cmd: Command) => {
      let path = opts.socket;
      if (!path) {
        const admin = adminSettings(await loadFor(cmd));
        if (!admin.enabled)
          fail("the admin socket is disabled (admin.enabled = false); status is not available");
        path = admin.socket;
      }
      const answer = await adminRequest(path, { command: "status" }).catch((err: Error) =>
        fail(err.message),
      );
      if (answer.ok !== true) fail(`the server refused: ${String(answer.error)}`);
      const status = answer.status as Status;
      console.log(opts.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });
}
