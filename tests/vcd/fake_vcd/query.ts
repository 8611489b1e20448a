/**
 * `GET /api/query?type=…&format=records`: the record types the operator uses, paged, filtered.
 *
 * - Paging: `page` from 1, `pageSize` default 25 and at most 128 (VCD's default maximum;
 *   larger values are cut to it); `total` counts every match; `nextPage`/`lastPage` links.
 * - Filters: `attr==value` clauses joined by `;` (AND); with `filterEncoded=true` each value is
 *   URL-decoded after the split, so values may contain `;` (go-vcd's `QueryWithNotEncodedParams`).
 *   An unknown attribute is a 400, as in VCD.
 * - Scope: a tenant session sees its own org; the provider (System) session sees every org
 *   through the `admin…` types, which tenants may not use.
 * - vApp template status names (records carry names, documents numbers): 0 `UNRESOLVED`,
 *   8 `RESOLVED`, -1 `FAILED_CREATION` (go-vcd's `VAppStatuses` and its query filters; which
 *   name VCD 10.4+ gives a resolved template's record is [UNVERIFIED], see the client).
 */
import { type Hrefs, queryXml } from "./render.ts";
import { FAILED, type FakeSession, type FakeVcdState, type Fault, RESOLVED } from "./state.ts";

type Attributes = Record<string, string | number | boolean | undefined>;

const STATUS_NAMES = new Map([[0, "UNRESOLVED"], [RESOLVED, "RESOLVED"], [
  FAILED,
  "FAILED_CREATION",
]]);

export function query(
  state: FakeVcdState,
  h: Hrefs,
  session: FakeSession,
  url: URL,
): { body: string } | { fault: Fault; status: number } {
  const type = url.searchParams.get("type") ?? "";
  const admin = type.startsWith("admin");
  if (admin && !session.provider) {
    return forbidden(`The query type "${type}" is only for system administrators`);
  }
  const format = url.searchParams.get("format") ?? "records";
  if (format !== "records") return bad(`Unsupported query format "${format}" in this fake`);
  const page = Number(url.searchParams.get("page") ?? "1");
  const pageSize = Math.min(Number(url.searchParams.get("pageSize") ?? "25"), 128);
  if (!Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1) {
    return bad("Invalid page or pageSize");
  }
  const visible = (orgId: string) =>
    admin || state.orgs.find((o) => o.id === orgId)?.name.toLowerCase() ===
      orgNameOf(state, session).toLowerCase();
  let element: string;
  let rows: Attributes[];
  switch (type) {
    case "vAppTemplate":
    case "adminVAppTemplate":
      element = admin ? "AdminVAppTemplateRecord" : "VAppTemplateRecord";
      rows = [...state.templates.values()].filter((t) => visible(t.orgId)).map((t) => {
        const org = state.orgs.find((o) => o.id === t.orgId)!;
        const catalog = org.catalogs.find((c) => c.id === t.catalogId);
        const vdc = org.vdcs.find((v) => v.id === t.vdcId);
        const profile = vdc?.profiles.find((p) => p.id === t.storageProfileId);
        return {
          href: h.template(t),
          name: t.name,
          catalogName: catalog?.name,
          catalog: catalog ? h.catalog(catalog) : undefined,
          catalogItem: h.catalogItem(t.catalogItemId),
          vdc: vdc ? h.vdc(vdc) : undefined,
          vdcName: vdc?.name,
          org: h.org(org),
          ownerName: t.ownerName,
          creationDate: t.createdAt,
          isBusy: t.status === 0,
          isDeployed: false,
          isEnabled: true,
          isExpired: false,
          isGoldMaster: false,
          isPublished: false,
          status: STATUS_NAMES.get(t.status) ?? "UNKNOWN",
          storageProfileName: profile?.name,
        };
      });
      break;
    case "orgVdcStorageProfile":
    case "adminOrgVdcStorageProfile":
      element = admin ? "AdminOrgVdcStorageProfileRecord" : "OrgVdcStorageProfileRecord";
      rows = [...state.profiles()].filter(({ org }) => visible(org.id)).map(({ vdc, profile }) => ({
        href: h.profile(profile.id),
        name: profile.name,
        isDefaultStorageProfile: profile.isDefault,
        isEnabled: profile.enabled,
        vdc: h.vdc(vdc),
        vdcName: vdc.name,
        storageLimitMB: 0,
        storageUsedMB: 0,
      }));
      break;
    case "task":
    case "adminTask":
      element = admin ? "AdminTaskRecord" : "TaskRecord";
      rows = [...state.tasks.values()].filter((t) => visible(t.orgId)).map((t) => ({
        href: h.task(t),
        name: t.operationName,
        status: t.status,
        objectName: t.ownerName,
        startDate: t.startTime,
        endDate: t.endTime,
      }));
      break;
    default:
      return bad(`Unsupported query type "${type}" in this fake`);
  }
  const filter = url.searchParams.get("filter");
  if (filter) {
    const encoded = url.searchParams.get("filterEncoded") === "true";
    for (const clause of filter.split(";")) {
      const at = clause.indexOf("==");
      if (at <= 0) return bad(`Cannot parse the filter clause "${clause}"`);
      const key = clause.slice(0, at);
      const value = encoded ? decodeURIComponent(clause.slice(at + 2)) : clause.slice(at + 2);
      if (rows.length > 0 && !(key in rows[0])) return bad(`Unknown property "${key}" for ${type}`);
      rows = rows.filter((row) => String(row[key] ?? "") === value);
    }
  }
  const total = rows.length;
  const slice = rows.slice((page - 1) * pageSize, page * pageSize);
  return {
    body: queryXml(
      h,
      { type, page, pageSize, total, self: url },
      slice.map((attributes) => ({
        element,
        attributes,
      })),
    ),
  };
}

function orgNameOf(state: FakeVcdState, session: FakeSession): string {
  return state.orgs.find((o) => o.id === session.orgId)?.name ?? "";
}

function bad(message: string) {
  return { status: 400, fault: { majorErrorCode: 400, minorErrorCode: "BAD_REQUEST", message } };
}

function forbidden(message: string) {
  return {
    status: 403,
    fault: { majorErrorCode: 403, minorErrorCode: "ACCESS_TO_RESOURCE_IS_FORBIDDEN", message },
  };
}
