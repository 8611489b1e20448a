/**
 * Operator configuration: values.yaml loading, validation and redaction.
 * @module
 */
export {
  type ClientSetupConfig,
  CONFIG_DEFAULTS,
  loadOperatorConfig,
  OperatorConfig,
  parseOperatorConfig,
  PROVIDER_SECTIONS,
  type ProviderConfigs,
  type S3Config,
} from "./operator_config.ts";
export { ConfigError, type ConfigIssue } from "./errors.ts";
export { Secret } from "./secret.ts";
export type { VsphereConfig, VsphereCredentials, VsphereLocation } from "./vsphere.ts";
export type { VcdConfig, VcdCredentials, VcdLocation } from "./vcd.ts";
export type { ProxmoxConfig, ProxmoxCredentials, ProxmoxLocation } from "./proxmox.ts";
