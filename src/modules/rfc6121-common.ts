// Helpers shared by the RFC 6121 modules (roster, subscriptions, presence)
// and XEP-0160. Not a module: modules still talk only through core events;
// this is the roster's wire form and a few lookups they all need.

import { extendSchema, int } from "../config/index.js";
import type { ModuleContext } from "../core/modules.js";
import type { ClientSession } from "../core/session.js";
import type { RosterItem } from "../storage/types.js";
import { type Element, StreamParser, cloneElement, xml } from "../xml/index.js";
import type { Jid } from "../xmpp/jid.js";

/** [modules.roster]: read by the roster and the subscription modules. */
export const rosterSettings = extendSchema(
  "modules.roster",
  { max_items: int({ doc: "Most contacts one account's roster may hold; past it adding one fails with not-allowed.", default: 1000, min: 1 }) },
  "Rosters (RFC 6121 2).",
);

export const NS_ROSTER = "jabber:iq:roster";
/** RFC 6121 2.6.1: roster versioning stream feature. */

export const NS_ROSTERVER = "urn:xmpp:features:rosterver";
/** RFC 6121 3.4.1: subscription pre-approval stream feature. */
export const NS_PRE_APPROVAL = "urn:xmpp:features:pre-approval";

/** RFC 6121 2.1.2: an item as it appears in a roster result or push. */
export function rosterItemElement(item: RosterItem): Element {
  return xml(
    "item",
    {
      jid: item.jid,
      name: item.name ?? undefined,
      subscription: item.subscription,
      ask: item.ask ? "subscribe" : undefined,
      approved: item.approved ? "true" : undefined,
    },
    ...item.groups.map((g) => xml("group", {}, g)),
  );
}

export function newRosterItem(jid: string): RosterItem {
  return { jid, name: null, groups: [], subscription: "none", ask: false, approved: false };
}

let pushCounter = 0;

/**
 * RFC 6121 2.1.6: a roster push to every interested resource of the account,
 * after any change, whoever caused it. `removed` pushes subscription='remove'.
 */
export async function pushRosterItem(
  m: ModuleContext,
  account: Jid,
  item: RosterItem,
  version: number,
  removed = false,
): Promise<void> {
  const payload = removed ? xml("item", { jid: item.jid, subscription: "remove" }) : rosterItemElement(item);
  const targets = m.sessions.resources(account).filter((s) => s.interested);
  await Promise.all(
    targets.map((s) => {
      const push = xml(
        "iq",
        { type: "set", id: `push-${Date.now().toString(36)}-${++pushCounter}`, to: s.jid.toString() },
        xml("query", { xmlns: NS_ROSTER, ver: String(version) }, cloneElement(payload)),
      );
      return m.router.deliver(push, s.jid);
    }),
  );
}

/** Sends a stanza to every available resource of an account, directly (it is already routed). */
export async function sendToAvailable(m: ModuleContext, account: Jid, el: Element): Promise<ClientSession[]> {
  const targets = m.sessions.available(account);
  await Promise.all(targets.map((s) => s.send(el)));
  return targets;
}

/** Parses one stored stanza (as serialize() wrote it) in a jabber:client stream context. */
export function parseStanza(text: string): Element {
  let result: Element | null = null;
  let problem = "";
  const parser = new StreamParser(
    { maxStanzaBytes: Buffer.byteLength(text) + 1024, maxDepth: 256 },
    {
      streamStart: () => undefined,
      element: (el) => {
        result ??= el;
      },
      streamEnd: () => undefined,
      error: (_condition, text) => {
        problem = text;
      },
    },
  );
  parser.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  parser.write(text);
  if (!result) throw new Error(`stored stanza does not parse: ${problem || "incomplete"}`);
  return result;
}

/**
 * RFC 6121 4.2: whether this outbound presence is the session's initial
 * presence (first available broadcast), tracked per module under `key`.
 * An unavailable broadcast resets it, so the next available is initial again.
 */
export function isInitialPresence(session: ClientSession, el: Element, key: string): boolean {
  if (el.attrs.to !== undefined) return false;
  if (el.attrs.type === "unavailable") {
    session.data.delete(key);
    return false;
  }
  if (el.attrs.type !== undefined || session.data.get(key)) return false;
  session.data.set(key, true);
  return true;
}
