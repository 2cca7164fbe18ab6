// The recording notice (audit.notice): a headline from the server domain to
// each session right after resource binding, sent (and so recorded) like any
// other stanza. Read from the live config, so a SIGHUP reload changes it.

import type { Core } from "../core/modules.js";
import type { ClientSession } from "../core/session.js";
import { xml } from "../xml/index.js";
import { auditSettings } from "./config.js";

export function installRecordingNotice(core: Core): () => void {
  return core.events.on("session/bound", async (session: ClientSession) => {
    const text = auditSettings(core.config).notice;
    if (text === "") return;
    await session.send(
      xml(
        "message",
        { type: "headline", from: session.jid.domain, to: session.jid.toString(), id: `notice-${session.id}` },
        xml("subject", {}, "Recording notice"),
        xml("body", {}, text),
      ),
    );
  }, "policy");
}
