// RFC 6121 section 2: roster get, set and remove, roster pushes, and roster
// versioning (2.6). Subscription state changes live in rfc6121-subscriptions.ts.

import { defineModule, type ModuleContext } from "../core/modules.js";
import type { IqRequest } from "../core/iq.js";
import type { RosterItem } from "../storage/types.js";
import { type Element, xml } from "../xml/index.js";
import { StanzaError } from "../xmpp/errors.js";
import { Jid } from "../xmpp/jid.js";
import {
  NS_ROSTER,
  NS_ROSTERVER,
  rosterSettings,
  newRosterItem,
  pushRosterItem,
  rosterItemElement,
} from "./rfc6121-common.js";

/** Limits on names and groups (RFC 6121 2.3.3 allows a server-configured limit). */
const MAX_TEXT_LENGTH = 1023;

export default defineModule({
  name: "roster",
  implements: [{ rfc: 6121, status: "complete", note: "section 2: roster management and versioning" }],
  setup(m) {
    // RFC 6121 2.6.1: versioning is advertised as a stream feature.
    m.streamFeature(() => xml("ver", { xmlns: NS_ROSTERVER }));
    m.iq.get(NS_ROSTER, "query", (req) => rosterGet(m, req), { to: ["account"], feature: false });
    m.iq.set(NS_ROSTER, "query", (req) => rosterSet(m, req), { to: ["account"], feature: false });
  },
});

/** RFC 6121 2.1.3 and 2.6.3. */
async function rosterGet(m: ModuleContext, req: IqRequest): Promise<Element | StanzaError | null> {
  // RFC 6121 2.1.5: only the account itself reads its roster.
  if (!req.self) return new StanzaError("forbidden");
  // RFC 6121 2.1.6: a resource that asked for the roster is interested in pushes.
  if (req.session) req.session.interested = true;
  const { version, items } = await m.storage.roster.get(req.to.bareString());
  const ver = String(version);
  const clientVer = req.payload.attrs.ver;
  // RFC 6121 2.6.3: the client's version is current: empty result, changes come as pushes.
  if (clientVer !== undefined && clientVer === ver) return null;
  return xml(
    "query",
    { xmlns: NS_ROSTER, ver: clientVer !== undefined ? ver : undefined },
    ...items.map(rosterItemElement),
  );
}

/** RFC 6121 2.3 (add, update) and 2.5 (remove). */
async function rosterSet(m: ModuleContext, req: IqRequest): Promise<StanzaError | null> {
  if (!req.self) return new StanzaError("forbidden");
  const parsed = parseSetItem(req.payload);
  if (parsed instanceof StanzaError) return parsed;
  const account = req.to;
  const contact = parsed.jid;
  if (contact.equals(account)) return new StanzaError("not-allowed", "the account's own JID cannot be a roster item");
  if (parsed.remove) return removeItem(m, account, contact);

  const max = rosterSettings(m.config).max_items;
  const key = contact.bareString();
  if ((await m.storage.roster.item(account.bareString(), key)) === null && (await m.storage.roster.count(account.bareString())) >= max) {
    return new StanzaError("not-allowed", `the roster is full (at most ${max} items)`);
  }
  // RFC 6121 2.1.2.5 and 2.1.2.2: the client sets name and groups only; subscription and ask stay the server's.
  const change = await m.storage.roster.update(account.bareString(), key, (current) => ({
    ...(current ?? newRosterItem(key)),
    name: parsed.name,
    groups: parsed.groups,
  }));
  if (change.after) await pushRosterItem(m, account, change.after, change.version);
  return null;
}

interface SetItem {
  jid: Jid;
  name: string | null;
  groups: string[];
  remove: boolean;
}

/** RFC 6121 2.3.3: the error cases of a roster set. */
function parseSetItem(query: Element): SetItem | StanzaError {
  const items = query.getChildren("item");
  if (items.length !== 1) return new StanzaError("bad-request", "a roster set carries exactly one item");
  const item = items[0]!;
  const jid = Jid.tryParse(item.attrs.jid ?? "");
  if (!jid) return new StanzaError("jid-malformed", "the item's jid is missing or not a valid JID");
  const name = item.attrs.name ?? "";
  if (name.length > MAX_TEXT_LENGTH) return new StanzaError("not-acceptable", "the name is too long");
  const groups: string[] = [];
  for (const g of item.getChildren("group")) {
    const text = g.text();
    if (text === "" || text.length > MAX_TEXT_LENGTH) return new StanzaError("not-acceptable", "a group name is empty or too long");
    if (groups.includes(text)) return new StanzaError("bad-request", "the same group appears twice");
    groups.push(text);
  }
  return { jid: jid.bare(), name: name === "" ? null : name, groups, remove: item.attrs.subscription === "remove" };
}

/** RFC 6121 2.5.2: removing an item also ends the subscriptions both ways. */
async function removeItem(m: ModuleContext, account: Jid, contact: Jid): Promise<StanzaError | null> {
  const key = contact.bareString();
  const hadPending = await m.storage.roster.removePending(account.bareString(), key);
  const change = await m.storage.roster.update(account.bareString(), key, () => null);
  const before: RosterItem | null = change.before;
  if (!before) {
    if (!hadPending) return new StanzaError("item-not-found");
    // A pending-in request with no item: removing it declines the request.
    await sendSubscription(m, account, contact, "unsubscribed");
    return null;
  }
  if (before.subscription === "to" || before.subscription === "both" || before.ask) {
    await sendSubscription(m, account, contact, "unsubscribe");
  }
  if (before.subscription === "from" || before.subscription === "both" || hadPending) {
    await sendSubscription(m, account, contact, "unsubscribed");
  }
  if (before.subscription === "from" || before.subscription === "both") {
    // RFC 6121 3.2.2: the contact is no longer entitled to presence; tell it the account is gone.
    for (const s of m.sessions.available(account)) {
      await m.router.deliver(xml("presence", { type: "unavailable", from: s.jid.toString(), to: key }), contact);
    }
  }
  await pushRosterItem(m, account, before, change.version, true);
  return null;
}

/** A subscription stanza from the account's bare JID (RFC 6121 3.1.2: stamped bare). */
async function sendSubscription(m: ModuleContext, account: Jid, contact: Jid, type: string): Promise<void> {
  await m.router.deliver(xml("presence", { type, from: account.bareString(), to: contact.bareString() }), contact);
}
