// XEP-0030: Service Discovery. Answers from what the loaded modules
// registered, so it never claims a feature that is not there.
import { defineModule } from "../core/modules.js";
import { StanzaError } from "../xmpp/errors.js";
import { NS } from "../xmpp/ns.js";
import { xml } from "../xml/index.js";

export default defineModule({
  name: "disco",
  implements: [{ xep: 30, version: "2.5rc3", status: "complete" }],
  setup(m) {
    m.identity({ category: "server", type: "im", name: "Parley" }, ["server"]);
    m.identity({ category: "account", type: "registered" }, ["account"]);
    m.iq.get(NS.DISCO_INFO, "query", (req) => {
      const target = req.to.local ? "account" : "server";
      // An account's details are for the account itself (and, later, its subscribers).
      if (target === "account" && !req.self) return new StanzaError("service-unavailable");
      const node = req.payload.attrs.node;
      if (node !== undefined) return new StanzaError("item-not-found");
      return xml(
        "query",
        { xmlns: NS.DISCO_INFO },
        ...m.disco.identities[target].map((i) => xml("identity", { category: i.category, type: i.type, name: i.name })),
        ...[...m.disco.features[target]].sort().map((v) => xml("feature", { var: v })),
      );
    });
    m.iq.get(NS.DISCO_ITEMS, "query", (req) => {
      if (req.to.local && !req.self) return new StanzaError("service-unavailable");
      if (req.payload.attrs.node !== undefined) return new StanzaError("item-not-found");
      return xml("query", { xmlns: NS.DISCO_ITEMS });
    });
  },
});
