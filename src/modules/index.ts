// The modules loaded at start, in order. One file per specification.
import type { ModuleDefinition } from "../core/modules.js";
import disco from "./xep0030-disco.js";
import ping from "./xep0199-ping.js";
import roster from "./rfc6121-roster.js";
import presence from "./rfc6121-presence.js";
import subscriptions from "./rfc6121-subscriptions.js";
import offline from "./xep0160-offline.js";

// Order matters for "presence/outbound": presence broadcasts first, then
// pending subscription requests and offline messages reach the new resource.
export const builtinModules: readonly ModuleDefinition[] = [disco, ping, roster, presence, subscriptions, offline];
