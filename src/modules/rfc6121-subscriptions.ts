// RFC 6121 section 3 and Appendix A: presence subscriptions. The state of each
// roster item (none, to, from, both; ask = pending out; approved = 3.4
// pre-approval) changes here, on the user's side for outbound subscription
// stanzas and on the contact's side for inbound ones; every change is pushed.
// Pending-in requests are kept in storage and redelivered at each initial
// presence until answered (3.1.3).

import { defineModule, type ModuleContext } from "../core/modules.js";
import type { ClientSession } from "../core/session.js";
import type { RosterItem, RosterUpdate, Subscription } from "../storage/types.js";
import { type Element, cloneElement, serialize, xml } from "../xml/index.js";
import { StanzaError } from "../xmpp/errors.js";
import { Jid } from "../xmpp/jid.js";
import {
  NS_PRE_APPROVAL,
  isInitialPresence,
  rosterSettings,
  newRosterItem,
  parseStanza,
  pushRosterItem,
  sendToAvailable,
} from "./rfc6121-common.js";

type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";
const TYPES: ReadonlySet<string> = new Set<SubscriptionType>(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);
const INITIAL_KEY = "subscriptions:initial";

const hasTo = (s: Subscription) => s === "to" || s === "both";
const hasFrom = (s: Subscription) => s === "from" || s === "both";
const addTo = (s: Subscription): Subscription => (s === "from" || s === "both" ? "both" : "to");
const addFrom = (s: Subscription): Subscription => (s === "to" || s === "both" ? "both" : "from");
const dropTo = (s: Subscription): Subscription => (s === "both" || s === "from" ? "from" : "none");
const dropFrom = (s: Subscription): Subscription => (s === "both" || s === "to" ? "to" : "none");

export default defineModule({
  name: "subscriptions",
  implements: [{ rfc: 6121, status: "complete", note: "section 3 and Appendix A: subscriptions, with pre-approval (3.4)" }],
  setup(m) {
    m.streamFeature(() => xml("sub", { xmlns: NS_PRE_APPROVAL }));

    m.on("presence/outbound", async (session, el) => {
      const type = el.attrs.type;
      if (type === undefined || !TYPES.has(type)) {
        // RFC 6121 3.1.3: pending requests are delivered when the contact next becomes available.
        if (isInitialPresence(session, el, INITIAL_KEY)) await deliverPending(m, session);
        return false;
      }
      const to = Jid.tryParse(el.attrs.to ?? "");
      if (!to) return true; // a subscription stanza needs a contact
      // RFC 6121 3.1.2: the server stamps the bare JIDs on subscription stanzas.
      const stanza = cloneElement(el);
      stanza.attrs.from = session.jid.bareString();
      stanza.attrs.to = to.bareString();
      await outbound(m, session, type as SubscriptionType, stanza, session.jid.bare(), to.bare());
      return true;
    });

    m.on("presence/inbound", async (el, to, from) => {
      const type = el.attrs.type;
      if (type === undefined || !TYPES.has(type)) return false;
      await inbound(m, type as SubscriptionType, el, to.bare(), from.bare());
      return true;
    });
  },
});

async function update(m: ModuleContext, user: Jid, contact: Jid, fn: RosterUpdate): Promise<RosterItem | null> {
  const change = await m.storage.roster.update(user.bareString(), contact.bareString(), fn);
  if (change.after && change.after !== change.before) await pushRosterItem(m, user, change.after, change.version);
  return change.after;
}

/** Whether an action that creates the contact's item (none yet) would pass modules.roster.max_items. */
async function rosterFullFor(m: ModuleContext, account: string, current: RosterItem | null | undefined): Promise<boolean> {
  return !current && (await m.storage.roster.count(account)) >= rosterSettings(m.config).max_items;
}

const ROSTER_FULL = () => new StanzaError("not-allowed", "the roster is full");

/** The user's side (Appendix A.2): what the user's own client sent. */
async function outbound(m: ModuleContext, session: ClientSession, type: SubscriptionType, stanza: Element, user: Jid, contact: Jid): Promise<void> {
  const account = user.bareString();
  const key = contact.bareString();
  const route = () => m.router.deliver(stanza, contact, session);
  const current = await m.storage.roster.item(account, key);
  switch (type) {
    case "subscribe": {
      // RFC 6121 3.1.2: the item becomes pending out (ask), created if needed; the request is always routed.
      if (await rosterFullFor(m, account, current)) return m.router.bounce(stanza, ROSTER_FULL(), session);
      await update(m, user, contact, (cur) => (cur && (hasTo(cur.subscription) || cur.ask) ? undefined : { ...(cur ?? newRosterItem(key)), ask: true }));
      return route();
    }
    case "subscribed": {
      if (current && hasFrom(current.subscription)) return; // A.2.2: already subscribed, nothing to route
      // Approving or pre-approving creates the item when there is none: both count against
      // max_items as a subscribe does (RFC 6121 2.3.3); without this a client could grow its
      // roster without bound by pre-approving made-up JIDs. A refused approval stays pending.
      if (await rosterFullFor(m, account, current)) return m.router.bounce(stanza, ROSTER_FULL(), session);
      if (await m.storage.roster.removePending(account, key)) {
        // RFC 6121 3.1.5: approving a pending request.
        await update(m, user, contact, (cur) => ({ ...(cur ?? newRosterItem(key)), subscription: addFrom(cur?.subscription ?? "none"), approved: false }));
        await route();
        return sendCurrentPresence(m, user, contact);
      }
      // RFC 6121 3.4.2: no request yet: pre-approve, and do not route.
      if (!current?.approved) await update(m, user, contact, (cur) => ({ ...(cur ?? newRosterItem(key)), approved: true }));
      return;
    }
    case "unsubscribe": {
      // RFC 6121 3.3.2 (and retracting a pending request, 3.1.2's ask).
      await update(m, user, contact, (cur) => (cur && (hasTo(cur.subscription) || cur.ask) ? { ...cur, subscription: dropTo(cur.subscription), ask: false } : undefined));
      return route();
    }
    case "unsubscribed": {
      // RFC 6121 3.2.2: cancelling the contact's subscription, denying its request, or revoking a pre-approval.
      const hadPending = await m.storage.roster.removePending(account, key);
      const before = current;
      const after = await update(m, user, contact, (cur) =>
        cur && (hasFrom(cur.subscription) || cur.approved) ? { ...cur, subscription: dropFrom(cur.subscription), approved: false } : undefined,
      );
      const cancelled = before !== null && hasFrom(before.subscription) && after !== null && !hasFrom(after.subscription);
      if (!cancelled && !hadPending) return;
      await route();
      if (cancelled) await sendUnavailable(m, user, contact);
      return;
    }
  }
}

/** The contact's side (Appendix A.3): a subscription stanza for a local account. */
async function inbound(m: ModuleContext, type: SubscriptionType, el: Element, user: Jid, contact: Jid): Promise<void> {
  const account = user.bareString();
  const key = contact.bareString();
  const stanza = cloneElement(el);
  stanza.attrs.to = account;
  const current = await m.storage.roster.item(account, key);
  switch (type) {
    case "subscribe": {
      // RFC 6121 3.1.3: already subscribed: the server answers on the user's behalf.
      if (current && hasFrom(current.subscription)) return reply(m, user, contact, "subscribed");
      // RFC 6121 3.4.2: pre-approved: the subscription is granted without asking.
      if (current?.approved) {
        await update(m, user, contact, (cur) => cur && { ...cur, subscription: addFrom(cur.subscription), approved: false });
        await reply(m, user, contact, "subscribed");
        return sendCurrentPresence(m, user, contact);
      }
      // Pending in: kept until answered, delivered now to available resources, else at next login.
      if (await m.storage.roster.hasPending(account, key)) return; // A.3.1: already pending, no state change
      await m.storage.roster.addPending(account, key, serialize(stanza));
      await sendToAvailable(m, user, stanza);
      return;
    }
    case "subscribed": {
      // RFC 6121 3.1.6: honoured only when the user asked (pending out).
      if (!current?.ask) return;
      await update(m, user, contact, (cur) => cur && { ...cur, subscription: addTo(cur.subscription), ask: false });
      await sendToAvailable(m, user, stanza);
      return;
    }
    case "unsubscribe": {
      // RFC 6121 3.3.3: the contact no longer wants the user's presence (or retracts its request).
      const hadPending = await m.storage.roster.removePending(account, key);
      const changed = current !== null && hasFrom(current.subscription);
      if (changed) await update(m, user, contact, (cur) => cur && { ...cur, subscription: dropFrom(cur.subscription) });
      if (!changed && !hadPending) return;
      await sendToAvailable(m, user, stanza);
      if (changed) await sendUnavailable(m, user, contact);
      return;
    }
    case "unsubscribed": {
      // RFC 6121 3.2.3: the contact cancelled the user's subscription or denied the request.
      if (!current || !(hasTo(current.subscription) || current.ask)) return;
      await update(m, user, contact, (cur) => cur && { ...cur, subscription: dropTo(cur.subscription), ask: false });
      await sendToAvailable(m, user, stanza);
      return;
    }
  }
}

/** A subscription answer from the user's bare JID. */
function reply(m: ModuleContext, user: Jid, contact: Jid, type: SubscriptionType): Promise<void> {
  return m.router.deliver(xml("presence", { type, from: user.bareString(), to: contact.bareString() }), contact);
}

/** RFC 6121 3.1.5: after approving, the contact gets the user's current presence from each available resource. */
async function sendCurrentPresence(m: ModuleContext, user: Jid, contact: Jid): Promise<void> {
  for (const s of m.sessions.available(user)) {
    if (!s.presence) continue;
    const p = cloneElement(s.presence);
    p.attrs.from = s.jid.toString();
    p.attrs.to = contact.bareString();
    await m.router.deliver(p, contact);
  }
}

/** RFC 6121 3.2.2 and 3.3.3: a contact who lost the subscription gets unavailable from each available resource. */
async function sendUnavailable(m: ModuleContext, user: Jid, contact: Jid): Promise<void> {
  for (const s of m.sessions.available(user)) {
    await m.router.deliver(xml("presence", { type: "unavailable", from: s.jid.toString(), to: contact.bareString() }), contact);
  }
}

/** RFC 6121 3.1.3: every request still pending, to the resource that just became available. */
async function deliverPending(m: ModuleContext, session: ClientSession): Promise<void> {
  for (const { stanza } of await m.storage.roster.pending(session.jid.bareString())) {
    try {
      await session.send(parseStanza(stanza));
    } catch (err) {
      m.log.warn("a stored subscription request could not be delivered", { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
