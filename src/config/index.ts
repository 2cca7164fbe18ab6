// The configuration: one schema, checked at start. Import from here.

export type * from "./types.js";
export {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  defaultConfig,
  loadConfig,
  validateConfig,
} from "./load.js";
export {
  bool,
  coreSchema,
  currentSchema,
  extendSchema,
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
} from "./schema.js";
export type { Field, Fields, Infer, MapOf, Section, Spec } from "./schema.js";
