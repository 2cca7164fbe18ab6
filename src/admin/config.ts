// The [admin] configuration section: the local admin socket `parley status` uses.

import { isAbsolute, join, resolve } from "node:path";
import { type Config, type Field, Problem, bool, extendSchema } from "../config/index.js";

/** "" (the default) means <server.data_dir>/parley.sock. */
const socketPath: Field<string> = {
  kind: "field",
  doc: 'Unix socket for `parley status` (mode 0600); "" means <server.data_dir>/parley.sock.',
  default: "",
  parse(raw) {
    if (typeof raw !== "string")
      throw new Problem(`expected a file system path or "", got ${JSON.stringify(raw)}`);
    return raw === "" ? "" : resolve(process.cwd(), raw);
  },
};

const readAdmin = extendSchema(
  "admin",
  {
    enabled: bool({ doc: "Open the local admin socket.", default: true }),
    socket: socketPath,
  },
  "The local admin socket.",
);

export interface AdminSettings {
  enabled: boolean;
  /** The socket's absolute path. */
  socket: string;
}

export function adminSettings(config: Config): AdminSettings {
  const a = readAdmin(config);
  const file = a.socket === "" ? join(config.server.data_dir, "parley.sock") : a.socket;
  return { enabled: a.enabled, socket: isAbsolute(file) ? file : resolve(file) };
}
