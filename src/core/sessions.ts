// Who is online: bare JID → resource → session, with the RFC 6121 8.5.2
// selection of the resources a bare-JID message goes to.

import type { Jid } from "../xmpp/jid.js";
import type { ClientSession } from "./session.js";

export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, ClientSession>>();
  private total = 0;

  /** Adds a freshly bound session; returns the session it replaces (same full JID), if any. */
  bind(session: ClientSession): ClientSession | undefined {
    const bare = session.jid.bareString();
    let resources = this.byBare.get(bare);
    if (!resources) this.byBare.set(bare, (resources = new Map()));
    const previous = resources.get(session.jid.resource);
    resources.set(session.jid.resource, session);
    if (!previous) this.total++;
    return previous;
  }

  /** Removes the session if it is still the one bound to its full JID. */
  unbind(session: ClientSession): boolean {
    const bare = session.jid.bareString();
    const resources = this.byBare.get(bare);
    if (resources?.get(session.jid.resource) !== session) return false;
    resources.delete(session.jid.resource);
    if (resources.size === 0) this.byBare.delete(bare);
    this.total--;
    return true;
  }

  get(full: Jid): ClientSession | undefined {
    return this.byBare.get(full.bareString())?.get(full.resource);
  }

  resources(bare: Jid): ClientSession[] {
    const resources = this.byBare.get(bare.bareString());
    return resources ? [...resources.values()] : [];
  }

  /** Whether the account (a bare JID as stored, already prepared) has a bound session. */
  hasSession(account: string): boolean {
    return this.byBare.has(account);
  }

  available(bare: Jid): ClientSession[] {
    return this.resources(bare).filter((s) => s.available);
  }

  /** RFC 6121 8.5.2.1.1: the available resources of highest non-negative priority. */
  highestPriority(bare: Jid): ClientSession[] {
    let best: ClientSession[] = [];
    let top = -1;
    for (const s of this.resources(bare)) {
      if (!s.available || s.priority < 0) continue;
      if (s.priority > top) {
        top = s.priority;
        best = [s];
      } else if (s.priority === top) best.push(s);
    }
    return best;
  }

  all(): IterableIterator<ClientSession> {
    const maps = this.byBare.values();
    return (function* () {
      for (const m of maps) yield* m.values();
    })();
  }

  get count(): number {
    return this.total;
  }
}
