// The modules loaded at start, in order. One file per specification.
import type { ModuleDefinition } from "../core/modules.js";
import disco from "./xep0030-disco.js";
import ping from "./xep0199-ping.js";

export const builtinModules: readonly ModuleDefinition[] = [disco, ping];
