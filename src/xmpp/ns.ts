// Namespaces used by the core. Feature modules keep their own next to them.
export const NS = {
  CLIENT: "jabber:client",
  STREAM: "http://etherx.jabber.org/streams",
  STREAMS_ERR: "urn:ietf:params:xml:ns:xmpp-streams",
  STANZAS_ERR: "urn:ietf:params:xml:ns:xmpp-stanzas",
  TLS: "urn:ietf:params:xml:ns:xmpp-tls",
  SASL: "urn:ietf:params:xml:ns:xmpp-sasl",
  BIND: "urn:ietf:params:xml:ns:xmpp-bind",
  SESSION: "urn:ietf:params:xml:ns:xmpp-session",
  SASL_CB: "urn:xmpp:sasl-cb:0",
  PING: "urn:xmpp:ping",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DISCO_ITEMS: "http://jabber.org/protocol/disco#items",
  DELAY: "urn:xmpp:delay",
} as const;
