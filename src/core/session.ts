// What the router and modules see of a bound client session. The c2s stream
// implements it; a session on another node could implement it too.

import type { Element } from "../xml/index.js";
import type { Jid } from "../xmpp/jid.js";
import type { StreamErrorCondition } from "../xmpp/errors.js";

export interface ClientSession {
  /** The stream id, unique on this node. */
  readonly id: string;
  /** The full JID after resource binding. */
  readonly jid: Jid;
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** RFC 6121 4.7.2.3: from the last presence without 'to'; 0 until then. */
  priority: number;
  /** Sent initial presence and not yet unavailable (RFC 6121 4.2). */
  available: boolean;
  /** The last broadcast available presence, as stamped by the server. */
  presence: Element | null;
  /** Requested the roster (RFC 6121 2.1.6): receives roster pushes. */
  interested: boolean;
  /** Module-private state, keyed by module name. */
  readonly data: Map<string, unknown>;
  /**
   * Queues a stanza for this client, after every stanza queued before it. It is
   * written once its audit record is committed; resolves once queued.
   */
  send(el: Element): Promise<void>;
  /** End the stream, with a stream error when a condition is given; resolves once the session is gone. */
  close(condition?: StreamErrorCondition, text?: string): Promise<void>;
}
