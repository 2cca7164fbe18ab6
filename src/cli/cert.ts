// parley cert generate: write a self-signed certificate and key for a domain.

import type { Command } from "commander";
import { CertificateError, generateSelfSigned } from "../net/certs.js";
import { fail, loadFor } from "./common.js";

export function register(program: Command): void {
  const cert = program.command("cert").description("manage TLS certificates");
  cert
    .command("generate")
    .description("write a self-signed certificate and key for <domain> (RSA 2048, one year)")
    .argument("<domain>", "the XMPP domain it is for")
    .option("--dir <dir>", "where to write <domain>.crt and <domain>.key (default: tls.cert_dir)")
    .option("--force", "replace existing files")
    .action(async (domain: string, opts: { dir?: string; force?: boolean }, cmd: Command) => {
      const dir = opts.dir ?? (await loadFor(cmd)).tls.cert_dir;
      try {
        const { certPath, keyPath } = await generateSelfSigned(domain, dir, { force: opts.force });
        console.log(`certificate: ${certPath}`);
        console.log(`key:         ${keyPath}`);
      } catch (err) {
        if (err instanceof CertificateError && !opts.force && /already exists/.test(err.message)) {
          fail(`${err.message} (use --force to replace it)`);
        }
        throw err;
      }
    });
}
