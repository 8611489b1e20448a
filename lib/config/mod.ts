/**
 * Operator configuration: values.yaml, the Go operator's flags and mounted files, validation,
 * redaction and live reload.
 * @module
 */
export {
  type ClientSetupConfig,
  CONFIG_DEFAULTS,
  loadOperatorConfig,
  OperatorConfig,
  parseOperatorConfig,
  type ProviderConfigs,
} from "./operator_config.ts";
export { type S3Config, type S3Credentials } from "./s3.ts";
export { configFilesOf, FLAGS_SOURCE, loadConfigFromSources } from "./sources.ts";
export {
  CONFIG_FLAGS,
  type ConfigSources,
  configSourcesFromFlags,
  providerFlagSpecs,
} from "./source_flags.ts";
export { type ProviderLoadContext } from "./provider_loading.ts";
export { type ReadTextFile } from "./mounted_files.ts";
export { WATCH_DEFAULTS, watchConfig, type WatchConfigOptions } from "./watch.ts";
export { ConfigReloadStatus } from "./reload_status.ts";
export { configFingerprint } from "./fingerprint.ts";
export { ConfigError, type ConfigIssue, formatConfigIssue } from "./errors.ts";
export { Secret } from "./secret.ts";
// The toolkit provider modules write their config schemas with.
export { Decoder, field, isObject, join, type YamlObject } from "./_decode.ts";
export { hostPortProblem, httpUrlProblem } from "./address_checks.ts";
export type { YamlValue } from "./_yaml.ts";
