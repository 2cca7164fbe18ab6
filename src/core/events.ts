// One typed list of core events, with named priority bands. Handlers of a
// band run before the next band's; the first handler that returns true has
// handled the event and stops the rest.

import type { Element } from "../xml/index.js";
import type { Jid } from "../xmpp/jid.js";
import type { ClientSession } from "./session.js";

export type Band = "policy" | "feature" | "fallback";
const BANDS: readonly Band[] = ["policy", "feature", "fallback"];

type Handled = boolean | void;

export interface CoreEvents {
  /** A session finished resource binding and is in the registry. */
  "session/bound": (session: ClientSession) => void | Promise<void>;
  /** A bound session ended (closing handshake, error, dropped TCP, conflict, shutdown). */
  "session/closed": (session: ClientSession, reason: string) => void | Promise<void>;
  /** A presence from a bound client, 'from' stamped. The core already updated priority/availability. */
  "presence/outbound": (session: ClientSession, el: Element) => Handled | Promise<Handled>;
  /** A presence addressed to a local account (bare or full JID) from anyone. */
  "presence/inbound": (el: Element, to: Jid, from: Jid) => Handled | Promise<Handled>;
  /** A message from a bound client, 'from' stamped, before routing. */
  "message/outbound": (session: ClientSession, el: Element) => Handled | Promise<Handled>;
  /** A message for an existing local account with no resource to take it (RFC 6121 8.5.2.2). */
  "message/offline": (el: Element, to: Jid) => Handled | Promise<Handled>;
  /** A message was handed to these sessions (for carbons, archives). */
  "message/delivered": (el: Element, to: Jid, sessions: readonly ClientSession[]) => void | Promise<void>;
}

export type EventName = keyof CoreEvents;

interface Entry<E extends EventName> {
  band: Band;
  handler: CoreEvents[E];
}

export class EventBus {
  private readonly handlers = new Map<EventName, Entry<EventName>[]>();

  /** Returns a function that removes the handler again. */
  on<E extends EventName>(event: E, handler: CoreEvents[E], band: Band = "feature"): () => void {
    const list = (this.handlers.get(event) ?? []) as Entry<E>[];
    const entry: Entry<E> = { band, handler };
    list.push(entry);
    list.sort((a, b) => BANDS.indexOf(a.band) - BANDS.indexOf(b.band));
    this.handlers.set(event, list as Entry<EventName>[]);
    return () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Runs handlers in band order; true when one of them handled the event. */
  async emit<E extends EventName>(event: E, ...args: Parameters<CoreEvents[E]>): Promise<boolean> {
    const list = this.handlers.get(event);
    if (!list) return false;
    for (const { handler } of [...list]) {
      const result = await (handler as (...a: Parameters<CoreEvents[E]>) => unknown)(...args);
      if (result === true) return true;
    }
    return false;
  }

  has(event: EventName): boolean {
    return (this.handlers.get(event)?.length ?? 0) > 0;
  }
}
