// The one command-line entry (bin/parley). Every subcommand takes --config.

import { Command, CommanderError } from "commander";
import { register as accounts } from "./accounts.js";
import { register as audit } from "./audit.js";
import { register as cert } from "./cert.js";
import { UserError } from "./common.js";
import { register as config } from "./config.js";
import { register as start } from "./start.js";
import { register as status } from "./status.js";

/** Errors that are the user's to fix print one line; anything else is a bug and keeps its stack. */
function isUserFacing(err: unknown): err is Error {
  if (err instanceof UserError) return true;
  const name = (err as Error | undefined)?.constructor?.name ?? "";
  return ["ConfigError", "CertificateError", "SchemaTooNewError", "AdminSocketError"].includes(name) || /^cannot listen on /.test((err as Error)?.message ?? "");
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command("parley")
    .description("Parley: an XMPP server that records every stanza in a tamper-evident audit trail")
    .option("-c, --config <path>", "configuration file (default: $PARLEY_CONFIG or conf/parley.toml)")
    .showHelpAfterError()
    .exitOverride();
  start(program);
  status(program);
  accounts(program);
  config(program);
  cert(program);
  audit(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (isUserFacing(err)) {
      console.error(`parley: ${err.message}`);
      process.exit(1);
    }
    console.error(err);
    process.exit(2);
  }
}
