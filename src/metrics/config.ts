// The [metrics] configuration section: the Prometheus endpoint, off by default.

import { type Config, bool, extendSchema, int, str } from "../config/index.js";

const readMetrics = extendSchema(
  "metrics",
  {
    enabled: bool({ doc: "Serve Prometheus metrics over HTTP.", default: false }),
    address: str({
      doc: "Address the metrics endpoint binds to; keep it on loopback.",
      default: "127.0.0.1",
    }),
    port: int({
      doc: "Port of the metrics endpoint; 0 picks a free one.",
      default: 9464,
      min: 0,
      max: 65535,
    }),
    path: str({
      doc: "URL path of the metrics.",
      default: "/metrics",
      check: (p) => (p.startsWith("/") ? undefined : `${JSON.stringify(p)} must start with "/"`),
    }),
  },
  "Prometheus metrics (text exposition format).",
);

export type MetricsSettings = ReturnType<typeof readMetrics>;

export function metricsSettings(config: Config): MetricsSettings {
  return readMetrics(config);
}
