/**
 * What the fake VCD holds: orgs with their users, API tokens, VDCs (with storage profiles) and
 * catalogs; vApp templates with the files of their upload; tasks; sessions.
 *
 * Template bytes are hashed as they arrive (SHA-256 per file) and never stored, so a multi-GiB
 * upload costs the fake no memory.
 */
import type { Hash } from "node:crypto";

/** Template statuses (wire facts §B.1). */
export const UNRESOLVED = 0;
export const RESOLVED = 8;
export const FAILED = -1;

export type TaskStatus =
  | "queued"
  | "preRunning"
  | "running"
  | "success"
  | "error"
  | "canceled"
  | "aborted";

export interface Fault {
  majorErrorCode: number;
  minorErrorCode: string;
  message: string;
}

export interface FakeUser {
  id: string;
  name: string;
  password: string;
}

export interface FakeStorageProfile {
  id: string;
  name: string;
  isDefault: boolean;
  enabled: boolean;
}

export interface FakeVdc {
  id: string;
  name: string;
  profiles: FakeStorageProfile[];
}

export interface FakeCatalog {
  id: string;
  name: string;
  /** A subscribed catalog offers no upload link. */
  subscribed: boolean;
  /** Catalog item id → template id. */
  items: Map<string, string>;
}

export interface FakeOrg {
  id: string;
  name: string;
  users: FakeUser[];
  /** API tokens (refresh tokens) → user name. */
  apiTokens: Map<string, string>;
  vdcs: FakeVdc[];
  catalogs: FakeCatalog[];
}

export interface FakeFile {
  name: string;
  /** Declared size; -1 while unknown (the descriptor before its PUT). */
  size: number;
  bytesTransferred: number;
  transferId: string;
  /** Running SHA-256 of the bytes received in order. */
  hash?: Hash;
  /** Hex SHA-256 once complete. */
  sha256?: string;
}

export interface FakeTemplate {
  id: string;
  name: string;
  description: string;
  orgId: string;
  catalogId: string;
  catalogItemId: string;
  vdcId: string;
  storageProfileId: string;
  status: number;
  createdAt: string;
  ownerName: string;
  descriptorUploaded: boolean;
  /** `VirtualSystemType` values of the uploaded descriptor. */
  hardware: string[];
  /** The uploaded descriptor, as text. */
  descriptor?: string;
  /** Upload files in VCD's listing order (disk files before `descriptor.ovf`, §B.3). */
  files: FakeFile[];
  uploadTaskId: string;
  metadata: Map<string, string>;
}

export interface FakeTask {
  id: string;
  operationName: string;
  operation: string;
  status: TaskStatus;
  ownerHref: string;
  ownerName: string;
  ownerType: string;
  orgId: string;
  startTime: string;
  endTime?: string;
  error?: Fault;
  progress: number;
}

export interface FakeSession {
  token: string;
  id: string;
  orgId: string;
  userName: string;
  provider: boolean;
  createdAt: number;
  lastUse: number;
  /** Set by `expireSessions` (and by the timeouts below when they pass). */
  expired: boolean;
}

/** Seed of one org. */
export interface OrgSpec {
  name: string;
  users?: { name: string; password: string }[];
  apiTokens?: { user: string; token: string }[];
  vdcs?: { name: string; profiles?: { name: string; isDefault?: boolean; enabled?: boolean }[] }[];
  catalogs?: { name: string; subscribed?: boolean }[];
}

/** The default world: one tenant org with a VDC, two storage profiles and a catalog. */
export const DEFAULT_ORGS: OrgSpec[] = [{
  name: "demo-org",
  users: [{ name: "operator", password: "operator-password" }],
  vdcs: [{ name: "vdc1", profiles: [{ name: "gold", isDefault: true }, { name: "silver" }] }],
  catalogs: [{ name: "images" }],
}];

export class FakeVcdState {
  readonly orgs: FakeOrg[] = [];
  readonly templates = new Map<string, FakeTemplate>();
  readonly tasks = new Map<string, FakeTask>();
  readonly sessions = new Map<string, FakeSession>();
  /** Transfer id → template id. */
  readonly transfers = new Map<string, string>();

  constructor(orgs: OrgSpec[]) {
    for (const spec of orgs) this.addOrg(spec);
  }

  addOrg(spec: OrgSpec): FakeOrg {
    const org: FakeOrg = {
      id: crypto.randomUUID(),
      name: spec.name,
      users: (spec.users ?? []).map((u) => ({ id: crypto.randomUUID(), ...u })),
      apiTokens: new Map((spec.apiTokens ?? []).map((t) => [t.token, t.user])),
      vdcs: (spec.vdcs ?? []).map((v) => ({
        id: crypto.randomUUID(),
        name: v.name,
        profiles: (v.profiles ?? [{ name: "default", isDefault: true }]).map((p) => ({
          id: crypto.randomUUID(),
          name: p.name,
          isDefault: p.isDefault ?? false,
          enabled: p.enabled ?? true,
        })),
      })),
      catalogs: (spec.catalogs ?? []).map((c) => ({
        id: crypto.randomUUID(),
        name: c.name,
        subscribed: c.subscribed ?? false,
        items: new Map(),
      })),
    };
    this.orgs.push(org);
    return org;
  }

  org(name: string): FakeOrg | undefined {
    return this.orgs.find((o) => o.name.toLowerCase() === name.toLowerCase());
  }

  /** The catalog named `catalog` in `org`; throws when either is missing (a test bug). */
  catalog(org: string, catalog: string): FakeCatalog {
    const found = this.org(org)?.catalogs.find((c) => c.name === catalog);
    if (!found) throw new Error(`The fake VCD has no catalog "${catalog}" in org "${org}"`);
    return found;
  }

  /** Templates of a catalog (by org and catalog name). */
  templatesIn(org: string, catalog: string): FakeTemplate[] {
    const found = this.catalog(org, catalog);
    return [...this.templates.values()].filter((t) => t.catalogId === found.id);
  }

  /** Every org's VDC storage profiles with their VDC and org. */
  *profiles(): Generator<{ org: FakeOrg; vdc: FakeVdc; profile: FakeStorageProfile }> {
    for (const org of this.orgs) {
      for (const vdc of org.vdcs) for (const profile of vdc.profiles) yield { org, vdc, profile };
    }
  }

  removeTemplate(id: string): void {
    const template = this.templates.get(id);
    if (!template) return;
    this.templates.delete(id);
    for (const org of this.orgs) {
      for (const catalog of org.catalogs) catalog.items.delete(template.catalogItemId);
    }
    for (const file of template.files) this.transfers.delete(file.transferId);
  }
}
