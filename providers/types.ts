/**
 * The provider interface and the provider-module toolkit, for platform clients. Both are
 * defined in `lib/` (`lib/image/provider.ts`, `lib/provider_module.ts`) so that `lib/` never
 * imports `providers/`; this module is where providers pick them up.
 */
export * from "../lib/image/provider.ts";
export {
  type ConfiguredProvider,
  defineProvider,
  type ImageFormat,
  type ImageLayout,
  type ProviderDeps,
  type ProviderFlag,
  type ProviderModule,
  type ProviderSpec,
} from "../lib/provider_module.ts";
