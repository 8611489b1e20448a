/**
 * The provider interface, for platform clients. It is defined in `lib/image/provider.ts` so that
 * `lib/` never imports `providers/`; this module is where providers pick it up.
 */
export * from "../lib/image/provider.ts";
