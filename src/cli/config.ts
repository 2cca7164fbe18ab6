// parley config check: load and validate the configuration the server would
// start with, certificates included, without changing anything on disk.
// Failures (ConfigError, CertificateError) propagate to main(), which prints
// them as one line and exits 1.

import type { Command } from "commander";
import { loadCertificates } from "../net/certs.js";
import { loadFor } from "./common.js";

export function register(program: Command): void {
  const config = program.command("config").description("inspect the configuration");
  config
    .command("check")
    .description("validate the configuration and the certificates, then exit (0 when OK)")
    .action(async (_opts: unknown, cmd: Command) => {
      const cfg = await loadFor(cmd);
      const { warnings } = await loadCertificates(cfg, { generate: false });
      console.log(`configuration OK (${cfg.source ?? "embedded defaults"})`);
      for (const w of warnings) console.log(`warning: ${w}`);
    });
}
