// The configuration: one schema, checked at start. Import from here.

export type * from "./types.js";
export {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  defaultConfig,
  loadConfig,
  validateConfig,
} from "./load.js";
export { coreSchema, currentSchema, extendSchema } from "./schema.js";
export {
  bool,
  int,
  intList,
  mapOf,
  oneOf,
  path,
  portList,
  Problem,
  section,
  str,
  strList,
} from "./spec.js";
export type { Field, Fields, Infer, MapOf, Section, Spec } from "./spec.js";
