// parley start: run the server in the foreground until SIGTERM/SIGINT;
// SIGHUP reloads the configuration (whole or not at all).

import type { Command } from "commander";
import { resolve } from "node:path";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/index.js";
import { type RunningServer, startServer } from "../main.js";
import { configPath } from "./common.js";

export function register(program: Command): void {
  program
    .command("start")
    .description("run the server in the foreground")
    .action(async (_opts: unknown, cmd: Command) => {
      const path = configPath(cmd);
      // The handlers come first: a signal that arrives while the server starts
      // (a reload from systemd, a stop) waits for it, instead of the default
      // action, which ends the process.
      let ready!: (server: RunningServer) => void;
      const started = new Promise<RunningServer>((resolve) => (ready = resolve));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        void started.then((server) => {
          server.log.info(`${signal} received`);
          const force = setTimeout(() => {
            server.log.error("shutdown took too long; exiting");
            process.exit(1);
          }, 15_000);
          server.stop().then(
            () => {
              clearTimeout(force);
              process.exit(0);
            },
            (err: unknown) => {
              server.log.error("shutdown failed", { error: (err as Error).message });
              process.exit(1);
            },
          );
        });
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      // Reloads run one after another; none starts once shutdown has begun.
      let reloading: Promise<unknown> = started;
      process.on("SIGHUP", () => {
        if (stopping) return;
        reloading = reloading.then(async () => {
          const server = await started;
          if (stopping) return;
          server.log.info("SIGHUP received: reloading the configuration and certificates");
          try {
            const next = await loadConfig(path);
            if (!stopping) await server.reload(next);
          } catch (err) {
            server.log.error(
              `reload refused, the running configuration stays: ${(err as Error).message}`,
            );
          }
        });
      });

      const config = await loadConfig(path);
      const server = await startServer(config);
      ready(server);
      const accounts = await server.core.storage.accounts.list();
      if (accounts.length === 0) {
        const domain = config.server.domains[0];
        const cfg =
          config.source && config.source !== resolve(DEFAULT_CONFIG_PATH)
            ? ` --config ${config.source}`
            : "";
        server.log.info(`no accounts yet; add one with: bin/parley${cfg} adduser alice@${domain}`);
      }
    });
}
