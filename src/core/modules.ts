// Features live in modules. Each registers what it handles through a context
// that remembers every registration, so unloading undoes all of it; modules
// never import each other and talk only through core events.

import type { Config } from "../config/types.js";
import type { Element } from "../xml/index.js";
import type { Storage } from "../storage/types.js";
import type { Band, CoreEvents, EventBus, EventName } from "./events.js";
import type { IqDispatcher, IqHandler, IqTarget } from "./iq.js";
import type { Logger } from "./log.js";
import type { Router } from "./router.js";
import type { ClientSession } from "./session.js";
import type { SessionRegistry } from "./sessions.js";

export interface Implements {
  rfc?: number;
  xep?: number;
  version?: string;
  status: "complete" | "partial";
  note?: string;
}

export interface ModuleDefinition {
  name: string;
  implements?: Implements[];
  setup(m: ModuleContext): void | Promise<void>;
}

export function defineModule(def: ModuleDefinition): ModuleDefinition {
  return def;
}

/** Stream features after authentication (next to bind), e.g. roster versioning. */
export type FeatureBuilder = (session: { secure: boolean }) => Element | null;

/** A top-level element in a namespace other than jabber:client (e.g. XEP-0198's <r/>). */
export type NonzaHandler = (session: ClientSession, el: Element) => void | Promise<void>;

export interface IqOptions {
  /** Default: both the server and accounts answer. */
  to?: readonly IqTarget[];
  /** Advertise the namespace as a disco feature (default true). */
  feature?: boolean;
}

/** Everything the server core offers to modules. */
export interface Core {
  config: Config;
  log: Logger;
  storage: Storage;
  sessions: SessionRegistry;
  events: EventBus;
  iq: IqDispatcher;
  router: Router;
  hosts: ReadonlySet<string>;
  disco: DiscoRegistry;
  streamFeatures: Set<FeatureBuilder>;
  nonzas: Map<string, NonzaHandler>;
}

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

/** What disco#info answers, per target; fed by the modules that are loaded. */
export class DiscoRegistry {
  readonly features: Record<IqTarget, Set<string>> = { server: new Set(), account: new Set() };
  readonly identities: Record<IqTarget, DiscoIdentity[]> = { server: [], account: [] };
}

export interface ModuleContext {
  readonly name: string;
  readonly config: Config;
  readonly log: Logger;
  readonly storage: Storage;
  readonly sessions: SessionRegistry;
  readonly router: Router;
  readonly hosts: ReadonlySet<string>;
  readonly disco: DiscoRegistry;
  on<E extends EventName>(event: E, handler: CoreEvents[E], band?: Band): void;
  iq: {
    get(ns: string, name: string, handler: IqHandler, opts?: IqOptions): void;
    set(ns: string, name: string, handler: IqHandler, opts?: IqOptions): void;
  };
  feature(ns: string, targets?: readonly IqTarget[]): void;
  identity(identity: DiscoIdentity, targets?: readonly IqTarget[]): void;
  streamFeature(build: FeatureBuilder): void;
  nonza(ns: string, handler: NonzaHandler): void;
  /** Runs when the module is unloaded or the server stops. */
  onUnload(fn: () => void | Promise<void>): void;
}

export interface LoadedModule {
  definition: ModuleDefinition;
  unload(): Promise<void>;
}

export async function loadModule(core: Core, def: ModuleDefinition): Promise<LoadedModule> {
  const undo: (() => void | Promise<void>)[] = [];
  const both: readonly IqTarget[] = ["server", "account"];
  const addFeature = (ns: string, targets: readonly IqTarget[]) => {
    for (const t of targets) {
      if (core.disco.features[t].has(ns)) continue;
      core.disco.features[t].add(ns);
      undo.push(() => void core.disco.features[t].delete(ns));
    }
  };
  const iq = (type: "get" | "set") => (ns: string, name: string, handler: IqHandler, opts: IqOptions = {}) => {
    const targets = opts.to ?? both;
    undo.push(core.iq.register(targets, type, ns, name, handler));
    if (opts.feature !== false) addFeature(ns, targets);
  };
  const ctx: ModuleContext = {
    name: def.name,
    get config() {
      return core.config; // replaced whole on reload
    },
    log: core.log.child(def.name),
    storage: core.storage,
    sessions: core.sessions,
    router: core.router,
    hosts: core.hosts,
    disco: core.disco,
    on: (event, handler, band) => void undo.push(core.events.on(event, handler, band)),
    iq: { get: iq("get"), set: iq("set") },
    feature: (ns, targets = both) => addFeature(ns, targets),
    identity: (identity, targets = ["server"]) => {
      for (const t of targets) {
        core.disco.identities[t].push(identity);
        undo.push(() => {
          const list = core.disco.identities[t];
          list.splice(list.indexOf(identity), 1);
        });
      }
    },
    streamFeature: (build) => {
      core.streamFeatures.add(build);
      undo.push(() => void core.streamFeatures.delete(build));
    },
    nonza: (ns, handler) => {
      if (core.nonzas.has(ns)) throw new Error(`${def.name}: namespace ${ns} already handled`);
      core.nonzas.set(ns, handler);
      undo.push(() => void core.nonzas.delete(ns));
    },
    onUnload: (fn) => void undo.push(fn),
  };
  await def.setup(ctx);
  return {
    definition: def,
    async unload() {
      for (const fn of undo.reverse()) await fn();
      undo.length = 0;
    },
  };
}
