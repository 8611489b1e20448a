/**
 * Provider modules for tests: a `FakeCatalog` served under its id, and stubs for ids whose
 * client a test never builds (the release controller only needs to know they are configured).
 */
import type { Provider } from "../../lib/image/provider.ts";
import {
  type ConfiguredProvider,
  defineProvider,
  type ProviderModule,
} from "../../lib/provider_module.ts";
import type { FakeCatalog, FakeProvider } from "./fake_provider.ts";
import { layoutFor } from "./provider_configs.ts";

/** A test module's config: any fields (compared like a real config, secrets by value). */
export type TestSection = Record<string, unknown>;

/**
 * A module with id `id`, laid out in the bucket like the shipped module of that id (so `capv`
 * fakes read `capv/…/….ova`), whose clients come from `create` (default: refuse, naming it).
 */
export function testModule(
  id: string,
  options: { locations?: () => string[]; create?: () => Provider } = {},
): ProviderModule<TestSection> {
  return defineProvider<TestSection>({
    id,
    platform: `test platform ${id}`,
    releasePrefixes: [],
    section: `test-${id}`,
    layout: layoutFor(id),
    flags: {
      enable: `enable-test-${id}`,
      credentials: `${id}-credentials`,
      locations: `${id}-locations`,
    },
    files: {
      credentials: `/home/.test-${id}/credentials`,
      locations: `/home/.test-${id}/locations`,
    },
    parseSection: () => ({}),
    withCredentials: (config) => config,
    withLocations: (config) => config,
    locationNames: () => options.locations?.() ?? [],
    create: options.create ?? (() => {
      throw new Error(`test module ${id} builds no client`);
    }),
  });
}

/** `catalog`'s fake providers under `catalog.id`; `onConnect` sees each client made. */
export function catalogModule(
  catalog: FakeCatalog,
  onConnect?: (provider: FakeProvider) => void,
): ProviderModule<TestSection> {
  return testModule(catalog.id, {
    locations: () => [...catalog.locations],
    create: () => {
      const provider = catalog.connect();
      onConnect?.(provider);
      return provider;
    },
  });
}

/** Each catalog configured with an empty section, keyed by id (what `registry.update` takes). */
export function catalogConfigs(
  ...catalogs: FakeCatalog[]
): Record<string, ConfiguredProvider> {
  return Object.fromEntries(catalogs.map((c) => [c.id, catalogModule(c).configure({})]));
}
