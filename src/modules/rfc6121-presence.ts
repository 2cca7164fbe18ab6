// RFC 6121 section 4: presence broadcast to subscribers, probes answered on
// the contact's behalf (every account is local), directed presence, and the
// unavailable broadcast when a session ends for any reason. Presence goes only
// to those entitled to it: subscribers (from/both), the account's own
// resources, and whoever the user sent directed presence to.

import { defineModule, type ModuleContext } from "../core/modules.js";
import type { ClientSession } from "../core/session.js";
import { type Element, cloneElement, xml } from "../xml/index.js";
import { Jid } from "../xmpp/jid.js";
import { isInitialPresence, sendToAvailable } from "./rfc6121-common.js";

const INITIAL_KEY = "presence:initial";
/** Full or bare JIDs this session sent available directed presence to (RFC 6121 4.6). */
const DIRECTED_KEY = "presence:directed";

export default defineModule({
  name: "presence",
  implements: [{ rfc: 6121, status: "complete", note: "section 4: presence" }],
  setup(m) {
    m.on("presence/outbound", async (session, el) => {
      const type = el.attrs.type;
      if (type !== undefined && type !== "unavailable" && type !== "error") return false;
      if (el.attrs.to !== undefined) {
        await directed(m, session, el);
        return true;
      }
      if (type === "error") return true;
      const initial = isInitialPresence(session, el, INITIAL_KEY);
      await broadcast(m, session, el);
      if (initial) await probeContacts(m, session);
      // Not handled: other modules (subscriptions, offline) also act on initial presence.
      return false;
    });

    m.on("presence/inbound", async (el, to, from) => {
      const type = el.attrs.type;
      if (type === "probe") {
        await answerProbe(m, to.bare(), from);
        return true;
      }
      if (type !== undefined && type !== "unavailable" && type !== "error") return false;
      // RFC 6121 8.5.3.1 / 8.5.2.1.1: a full JID gets it if connected; a bare JID goes to every available resource.
      if (to.resource) await m.sessions.get(to)?.send(el);
      else await sendToAvailable(m, to, el);
      return true;
    });

    // RFC 6121 4.5.2 and 4.6.3: a session that ends without saying unavailable is made unavailable.
    m.on("session/closed", async (session) => {
      const wasAvailable = session.data.get(INITIAL_KEY) === true;
      if (!wasAvailable && directedList(session).size === 0) return;
      const unavailable = xml("presence", { type: "unavailable", from: session.jid.toString() });
      if (wasAvailable) await broadcast(m, session, unavailable);
      else await sendToDirected(m, session, unavailable);
      session.data.delete(INITIAL_KEY);
    });
  },
});

function directedList(session: ClientSession): Set<string> {
  let set = session.data.get(DIRECTED_KEY) as Set<string> | undefined;
  if (!set) session.data.set(DIRECTED_KEY, (set = new Set()));
  return set;
}

/** RFC 6121 4.6.2: routed as addressed, and remembered so that unavailable follows it. */
async function directed(m: ModuleContext, session: ClientSession, el: Element): Promise<void> {
  const to = Jid.parse(el.attrs.to!); // the router validated 'to'
  const list = directedList(session);
  if (el.attrs.type === undefined) list.add(to.toString());
  else if (el.attrs.type === "unavailable") list.delete(to.toString());
  await m.router.deliver(el, to, session);
}

/** Contacts with a subscription to the user's presence: 'from' or 'both' (RFC 6121 4.2.2, 4.4.2). */
async function subscribers(m: ModuleContext, user: Jid): Promise<string[]> {
  const { items } = await m.storage.roster.get(user.bareString());
  return items.filter((i) => i.subscription === "from" || i.subscription === "both").map((i) => i.jid);
}

/**
 * RFC 6121 4.2.2, 4.4.2, 4.5.2: to every subscriber and to all of the user's
 * available resources (the sender included: it is subscribed to itself);
 * unavailable also goes to the directed-presence recipients, whose list ends.
 */
async function broadcast(m: ModuleContext, session: ClientSession, el: Element): Promise<void> {
  const user = session.jid.bare();
  const from = session.jid.toString();
  const sent = new Set<string>();
  for (const contact of await subscribers(m, user)) {
    sent.add(contact);
    await m.router.deliver(addressed(el, from, contact), Jid.parse(contact));
  }
  for (const s of m.sessions.available(user)) await s.send(addressed(el, from, s.jid.toString()));
  if (el.attrs.type === "unavailable") {
    if (!session.available) await session.send(addressed(el, from, from)).catch(() => undefined);
    await sendToDirected(m, session, el, sent);
  }
}

async function sendToDirected(m: ModuleContext, session: ClientSession, el: Element, skip: ReadonlySet<string> = new Set()): Promise<void> {
  const from = session.jid.toString();
  const list = directedList(session);
  for (const target of list) {
    const jid = Jid.parse(target);
    if (skip.has(jid.bareString())) continue;
    await m.router.deliver(addressed(el, from, target), jid);
  }
  list.clear();
}

function addressed(el: Element, from: string, to: string): Element {
  const copy = cloneElement(el);
  copy.attrs.from = from;
  copy.attrs.to = to;
  return copy;
}

/**
 * RFC 6121 4.2.2: at initial presence the server probes the contacts the user
 * is subscribed to ('to' or 'both'), and the new resource learns the presence
 * of the account's other available resources.
 */
async function probeContacts(m: ModuleContext, session: ClientSession): Promise<void> {
  const user = session.jid.bare();
  const from = session.jid.toString();
  const { items } = await m.storage.roster.get(user.bareString());
  for (const item of items) {
    if (item.subscription !== "to" && item.subscription !== "both") continue;
    await m.router.deliver(xml("presence", { type: "probe", from, to: item.jid }), Jid.parse(item.jid));
  }
  for (const other of m.sessions.available(user)) {
    if (other === session || !other.presence) continue;
    await session.send(addressed(other.presence, other.jid.toString(), from));
  }
}

/**
 * RFC 6121 4.3.2: a probe is answered with the last available presence of each
 * of the contact's available resources, only for an entity subscribed to it
 * (or the account itself). Others learn nothing. No available resource: no answer.
 */
async function answerProbe(m: ModuleContext, contact: Jid, requester: Jid): Promise<void> {
  // Nothing to answer with: skip the roster lookup (at a mass login, most probes are for contacts not yet online).
  const online = m.sessions.available(contact).filter((s) => s.presence);
  if (online.length === 0) return;
  if (!requester.bare().equals(contact)) {
    const item = await m.storage.roster.item(contact.bareString(), requester.bareString());
    if (!item || (item.subscription !== "from" && item.subscription !== "both")) return;
  }
  // Read again after the lookup: a resource may have gone unavailable (or come) meanwhile.
  for (const s of m.sessions.available(contact)) {
    if (!s.presence) continue;
    await m.router.deliver(addressed(s.presence, s.jid.toString(), requester.toString()), requester);
  }
}
