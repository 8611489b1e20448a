/**
 * The Proxmox VE provider (`capmox`). `createProxmoxProvider(config, options)` is the entry
 * point; the rest is exported for tests, the bench and other tools.
 */
export { createProxmoxProvider, ProxmoxProvider, type ProxmoxProviderOptions } from "./provider.ts";
export { apiPath, pathSegment, ProxmoxClient, type ProxmoxClientOptions } from "./client.ts";
export { ProxmoxApiError, ProxmoxAuthError } from "./errors.ts";
export { ProxmoxCreateError } from "./create.ts";
export { parseUpid, ProxmoxTaskError, waitForTask } from "./tasks.ts";
export { PARTIAL_TAG, sanitiseTag, versionTags } from "./names.ts";
