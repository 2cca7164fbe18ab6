// Write-ahead for one c2s stream: nothing derived from a stanza reaches a socket
// before the stanza's audit record is committed, and writes go out in the order
// send() was called. The sink commits records in groups; this decides what each
// write waits for, so that one fsync serves many stanzas (see audit/sink.ts).

import { type Element, serialize } from "../xml/index.js";
import type { C2sStream } from "./stream.js";

/**
 * The commit of each inbound stanza's audit record, by element: the router hands
 * the same element to the recipient's send(), which waits for this commit as well
 * as its own. Routing does not wait for the inbound commit, so both records
 * usually share one commit group (one fsync per message, not two). A property,
 * not a WeakMap: see INBOUND_RECORD in audit/sink.ts.
 */
const INBOUND_COMMIT = Symbol("inbound commit");
type CommittedElement = Element & { [INBOUND_COMMIT]?: Promise<void> };

/** Inbound stanzas of one session whose audit records may be uncommitted at once. */
const MAX_UNCOMMITTED = 32;

export class WriteAhead {
  /** Outbound writes wait for their audit commit, in the order write() was called. */
  private outbound: Promise<void> = Promise.resolve();
  /** The newest inbound record's commit: replies to this session wait for it too. */
  private lastInbound: Promise<void> = Promise.resolve();
  private uncommitted = 0;

  constructor(private readonly stream: C2sStream) {}

  /**
   * Records an inbound stanza before it is routed; a failure closes the stream.
   * Returns the commit, settled either way, for the caller to wait on after
   * routing when the window is full.
   */
  recordIn(el: Element): Promise<void> {
    const recorded = this.stream.ctx.audit.stanza("in", this.stream.auditParty(), el);
    this.uncommitted++;
    const settled = recorded.then(
      () => void this.uncommitted--,
      (err: unknown) => {
        this.uncommitted--;
        this.stream.auditFailed(err);
      },
    );
    (el as CommittedElement)[INBOUND_COMMIT] = recorded;
    this.lastInbound = recorded;
    return settled;
  }

  /**
   * Pipelined: the next stanza is routed while earlier records commit, so one
   * group commit serves many stanzas of this session; the window bounds what a
   * fast sender can have in flight ahead of the audit writer.
   */
  get windowFull(): boolean {
    return this.uncommitted >= MAX_UNCOMMITTED;
  }

  /**
   * Records an outbound stanza and queues its write behind that record, the
   * record of the inbound stanza it came from, this session's newest inbound
   * record, and every earlier write. A record that cannot be committed drops the
   * write and closes the stream (fail closed).
   */
  write(el: Element): void {
    const text = serialize(el);
    const own = this.stream.ctx.audit.stanza("out", this.stream.auditParty(), el, text);
    const committed = Promise.all([own, (el as CommittedElement)[INBOUND_COMMIT], this.lastInbound]);
    committed.catch(() => undefined); // handled in the chain below, once earlier writes are done
    this.outbound = this.outbound
      .then(() => committed)
      .then(
        () => this.stream.sendRaw(text),
        (err: unknown) => this.stream.auditFailed(err),
      );
  }

  /** Settles once every write queued so far has gone out (or was dropped). */
  get flushed(): Promise<void> {
    return this.outbound;
  }
}
