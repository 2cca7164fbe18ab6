// XEP-0199: XMPP Ping, 4.2 client-to-server ping (and pings to an account's bare JID).
import { defineModule } from "../core/modules.js";
import { NS } from "../xmpp/ns.js";

export default defineModule({
  name: "ping",
  implements: [{ xep: 199, version: "2.0.1", status: "complete" }],
  setup(m) {
    m.iq.get(NS.PING, "ping", () => null);
  },
});
