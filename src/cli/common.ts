// Shared by the CLI command groups: the --config option, one-line errors.

import type { Command } from "commander";
import { loadConfig } from "../config/index.js";
import type { Config } from "../config/types.js";

/** The global --config value (PARLEY_CONFIG and the default are handled by loadConfig). */
export function configPath(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { config?: string }).config;
}

export function loadFor(cmd: Command): Promise<Config> {
  return loadConfig(configPath(cmd));
}

/** A failure the user can act on: printed as one line, exit status 1, no stack trace. */
export class UserError extends Error {}

export function fail(message: string): never {
  throw new UserError(message);
}
