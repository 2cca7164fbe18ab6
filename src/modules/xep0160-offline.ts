// XEP-0160: Best Practices for Handling Offline Messages. A normal or chat
// message for an account with no available resource is stored, up to a
// quota, and delivered with a XEP-0203 delay stamp at the account's next
// available presence with non-negative priority. Past the quota the sender
// gets an error: a message is never dropped silently.

import { defineModule, type ModuleContext } from "../core/modules.js";
import type { ClientSession } from "../core/session.js";
import { type Element, cloneElement, serialize, xml } from "../xml/index.js";
import { StanzaError } from "../xmpp/errors.js";
import type { Jid } from "../xmpp/jid.js";
import { NS } from "../xmpp/ns.js";
import { extendSchema, int } from "../config/index.js";
import { parseStanza } from "./rfc6121-common.js";

const offlineSettings = extendSchema(
  "modules.offline",
  { max_messages: int({ doc: "Most messages stored for one offline account; past it the sender gets an error.", default: 500, min: 0 }) },
  "Offline messages (XEP-0160).",
);
const NS_HINTS = "urn:xmpp:hints";
const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";
/** Set once this session got its stored messages; cleared by unavailable presence. */
const DELIVERED_KEY = "offline:delivered";

/** Payloads worth keeping besides a body: invitations, encrypted bodies, receipts and markers. */
const STORABLE_PAYLOADS = new Set([
  "jabber:x:conference",
  "http://jabber.org/protocol/muc#user",
  "eu.siacs.conversations.axolotl",
  "urn:xmpp:omemo:2",
  "urn:xmpp:openpgp:0",
  "urn:xmpp:receipts",
  "urn:xmpp:chat-markers:0",
  "urn:xmpp:jingle-message:0",
]);

type Verdict = "store" | "discard" | "refuse";

/** XEP-0160 section 3 with the XEP-0334 hints. The router only hands over normal and chat messages. */
export function offlineVerdict(el: Element): Verdict {
  const children = el.getChildElements();
  const hint = (name: string) => children.some((c) => c.name === name && c.attrs.xmlns === NS_HINTS);
  if (hint("no-store")) return "refuse"; // XEP-0334 4.2: not even kept for offline delivery
  if (hint("store")) return "store";
  if (children.some((c) => c.name === "body" || c.name === "subject")) return "store";
  if (children.some((c) => STORABLE_PAYLOADS.has(c.attrs.xmlns ?? ""))) return "store";
  // XEP-0085 5.5: chat states for someone offline are simply not delivered.
  if (children.some((c) => c.attrs.xmlns === NS_CHATSTATES)) return "discard";
  return "refuse";
}

export default defineModule({
  name: "offline",
  implements: [{ xep: 160, version: "1.0.1", status: "complete" }],
  setup(m) {
    m.feature("msgoffline", ["server"]);

    m.on("message/offline", async (el, to) => {
      const verdict = offlineVerdict(el);
      if (verdict === "discard") return true;
      if (verdict === "refuse") return false; // the router answers service-unavailable (RFC 6121 8.5.2.2.1)
      return store(m, el, to);
    });

    m.on("presence/outbound", async (session, el) => {
      if (el.attrs.to !== undefined) return false;
      if (el.attrs.type === "unavailable") session.data.delete(DELIVERED_KEY);
      else if (el.attrs.type === undefined && session.priority >= 0 && !session.data.get(DELIVERED_KEY)) {
        session.data.set(DELIVERED_KEY, true);
        await deliverStored(m, session);
      }
      return false;
    });
  },
});

async function store(m: ModuleContext, el: Element, to: Jid): Promise<boolean> {
  const limit = offlineSettings(m.config).max_messages;
  const stored = await m.storage.offline.store(to.bareString(), serialize(el), Date.now(), limit);
  if (!stored) {
    // XEP-0160 3: storage full: the sender learns the message was not kept.
    await m.router.bounce(el, new StanzaError("service-unavailable", "the recipient's offline storage is full"), null);
  }
  return true;
}

/** Oldest first, each with a XEP-0203 delay saying when the server received it. */
async function deliverStored(m: ModuleContext, session: ClientSession): Promise<void> {
  const messages = await m.storage.offline.take(session.jid.bareString());
  for (const { stanza, storedAt } of messages) {
    let el: Element;
    try {
      el = cloneElement(parseStanza(stanza));
    } catch (err) {
      m.log.error("a stored offline message could not be parsed", { error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    el.cnode(xml("delay", { xmlns: NS.DELAY, from: session.jid.domain, stamp: new Date(storedAt).toISOString() }));
    // Through the router: if this session is gone meanwhile, the message is stored again or bounced.
    await m.router.deliver(el, session.jid);
  }
}
