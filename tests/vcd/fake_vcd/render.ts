/**
 * The fake's XML documents, in the shapes of wire facts §B.1 (element order as in the vCloud
 * schema: Link*, Description, Tasks, Files, Owner, …). Every value is escaped.
 */
import {
  FAILED,
  type FakeCatalog,
  type FakeOrg,
  type FakeTask,
  type FakeTemplate,
  type FakeVdc,
  type Fault,
  RESOLVED,
} from "./state.ts";

export const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";
const XML_HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n`;

export const TYPES = {
  org: "application/vnd.vmware.vcloud.org+xml",
  orgList: "application/vnd.vmware.vcloud.orgList+xml",
  vdc: "application/vnd.vmware.vcloud.vdc+xml",
  catalog: "application/vnd.vmware.vcloud.catalog+xml",
  catalogItem: "application/vnd.vmware.vcloud.catalogItem+xml",
  uploadParams: "application/vnd.vmware.vcloud.uploadVAppTemplateParams+xml",
  media: "application/vnd.vmware.vcloud.media+xml",
  vAppTemplate: "application/vnd.vmware.vcloud.vAppTemplate+xml",
  task: "application/vnd.vmware.vcloud.task+xml",
  metadata: "application/vnd.vmware.vcloud.metadata+xml",
  error: "application/vnd.vmware.vcloud.error+xml",
  query: "application/vnd.vmware.vcloud.query.records+xml",
  storageProfile: "application/vnd.vmware.vcloud.vdcStorageProfile+xml",
} as const;

export function esc(value: string | number | boolean): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

/** `name="value"` pairs, escaped, skipping undefined values. */
export function attrs(values: Record<string, string | number | boolean | undefined>): string {
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v!)}"`).join("");
}

/** Hrefs of the fake's entities, absolute to its own origin. */
export class Hrefs {
  constructor(readonly origin: string) {}
  org = (org: FakeOrg) => `${this.origin}/api/org/${org.id}`;
  vdc = (vdc: FakeVdc) => `${this.origin}/api/vdc/${vdc.id}`;
  catalog = (catalog: FakeCatalog) => `${this.origin}/api/catalog/${catalog.id}`;
  catalogItem = (id: string) => `${this.origin}/api/catalogItem/${id}`;
  template = (template: FakeTemplate | string) =>
    `${this.origin}/api/vAppTemplate/vappTemplate-${
      typeof template === "string" ? template : template.id
    }`;
  task = (task: FakeTask | string) =>
    `${this.origin}/api/task/${typeof task === "string" ? task : task.id}`;
  profile = (id: string) => `${this.origin}/api/vdcStorageProfile/${id}`;
  transfer = (id: string, file: string) =>
    `${this.origin}/transfer/${id}/${encodeURIComponent(file)}`;
}

export function errorXml(fault: Fault): string {
  return XML_HEAD +
    `<Error xmlns="${VCLOUD_NS}"${
      attrs({
        majorErrorCode: fault.majorErrorCode,
        message: fault.message,
        minorErrorCode: fault.minorErrorCode,
        stackTrace: `com.vmware.vcloud.api.presentation.service.${fault.minorErrorCode}`,
      })
    }/>\n`;
}

export function orgListXml(h: Hrefs, orgs: FakeOrg[]): string {
  const items = orgs.map((o) =>
    `  <Org${attrs({ href: h.org(o), name: o.name, type: TYPES.org })}/>\n`
  );
  return XML_HEAD +
    `<OrgList xmlns="${VCLOUD_NS}"${
      attrs({ href: `${h.origin}/api/org/`, type: TYPES.orgList })
    }>\n` +
    items.join("") + `</OrgList>\n`;
}

export function orgXml(h: Hrefs, org: FakeOrg): string {
  const links = [
    ...org.vdcs.map((v) => link("down", h.vdc(v), TYPES.vdc, v.name)),
    ...org.catalogs.map((c) => link("down", h.catalog(c), TYPES.catalog, c.name)),
  ];
  return XML_HEAD +
    `<Org xmlns="${VCLOUD_NS}"${
      attrs({ name: org.name, id: `urn:vcloud:org:${org.id}`, href: h.org(org), type: TYPES.org })
    }>\n` + links.join("") + `  <Description/>\n  <FullName>${esc(org.name)}</FullName>\n</Org>\n`;
}

export function catalogXml(
  h: Hrefs,
  org: FakeOrg,
  catalog: FakeCatalog,
  templates: Map<string, FakeTemplate>,
): string {
  const links = [link("up", h.org(org), TYPES.org)];
  if (!catalog.subscribed) {
    links.push(
      link("add", `${h.catalog(catalog)}/catalogItems`, TYPES.catalogItem),
      link("add", `${h.catalog(catalog)}/action/upload`, TYPES.uploadParams),
      link("add", `${h.catalog(catalog)}/action/upload`, TYPES.media),
    );
  }
  const items = [...catalog.items].map(([itemId, templateId]) =>
    `    <CatalogItem${
      attrs({
        href: h.catalogItem(itemId),
        id: itemId,
        name: templates.get(templateId)?.name ?? "",
        type: TYPES.catalogItem,
      })
    }/>\n`
  );
  return XML_HEAD +
    `<Catalog xmlns="${VCLOUD_NS}"${
      attrs({
        name: catalog.name,
        id: `urn:vcloud:catalog:${catalog.id}`,
        href: h.catalog(catalog),
        type: TYPES.catalog,
      })
    }>\n` + links.join("") +
    `  <Description/>\n  <CatalogItems>\n${items.join("")}  </CatalogItems>\n` +
    `  <IsPublished>false</IsPublished>\n</Catalog>\n`;
}

export function catalogItemXml(h: Hrefs, catalog: FakeCatalog, template: FakeTemplate): string {
  return XML_HEAD +
    `<CatalogItem xmlns="${VCLOUD_NS}"${
      attrs({
        size: 0,
        name: template.name,
        id: `urn:vcloud:catalogitem:${template.catalogItemId}`,
        href: h.catalogItem(template.catalogItemId),
        type: TYPES.catalogItem,
      })
    }>\n` + link("up", h.catalog(catalog), TYPES.catalog) +
    `  <Description>${esc(template.description)}</Description>\n` +
    `  <Entity${
      attrs({ href: h.template(template), name: template.name, type: TYPES.vAppTemplate })
    }/>\n` +
    `</CatalogItem>\n`;
}

export function templateXml(h: Hrefs, template: FakeTemplate, tasks: FakeTask[]): string {
  const running = tasks.filter((t) => t.status === "running" || t.status === "queued");
  // A failed upload keeps its error task visible, as go-vcd's check after the POST expects.
  const shown = template.status === FAILED ? tasks.filter((t) => t.status === "error") : running;
  const links = [
    link("up", `${h.origin}/api/vdc/${template.vdcId}`, TYPES.vdc),
    link("down", `${h.template(template)}/metadata`, TYPES.metadata),
    link("remove", h.template(template)),
  ];
  const files = template.status === RESOLVED || template.status === FAILED
    ? ""
    : `  <Files>\n` + template.files.map((f) =>
      `    <File${attrs({ size: f.size, bytesTransferred: f.bytesTransferred, name: f.name })}>\n` +
      (f.bytesTransferred < f.size || f.size < 0
        ? `      <Link rel="upload:default"${attrs({ href: h.transfer(f.transferId, f.name) })}/>\n`
        : "") +
      `    </File>\n`
    ).join("") + `  </Files>\n`;
  return XML_HEAD +
    `<VAppTemplate xmlns="${VCLOUD_NS}"${
      attrs({
        goldMaster: false,
        ovfDescriptorUploaded: template.descriptorUploaded,
        status: template.status,
        name: template.name,
        id: `urn:vcloud:vapptemplate:${template.id}`,
        href: h.template(template),
        type: TYPES.vAppTemplate,
      })
    }>\n` + links.join("") +
    `  <Description>${esc(template.description)}</Description>\n` +
    (shown.length
      ? `  <Tasks>\n${shown.map((t) => taskElement(h, t, "    ")).join("")}  </Tasks>\n`
      : "") +
    files +
    `  <Owner type="application/vnd.vmware.vcloud.owner+xml">\n` +
    `    <User${
      attrs({ name: template.ownerName, type: "application/vnd.vmware.admin.user+xml" })
    }/>\n` +
    `  </Owner>\n` +
    `  <DateCreated>${esc(template.createdAt)}</DateCreated>\n` +
    `</VAppTemplate>\n`;
}

export function taskXml(h: Hrefs, task: FakeTask): string {
  return XML_HEAD + taskElement(h, task, "", true);
}

function taskElement(h: Hrefs, task: FakeTask, indent: string, root = false): string {
  return `${indent}<Task${root ? ` xmlns="${VCLOUD_NS}"` : ""}${
    attrs({
      cancelRequested: false,
      operation: task.operation,
      operationName: task.operationName,
      serviceNamespace: "com.vmware.vcloud",
      startTime: task.startTime,
      endTime: task.endTime,
      status: task.status,
      name: "task",
      id: `urn:vcloud:task:${task.id}`,
      href: h.task(task),
      type: TYPES.task,
    })
  }>\n` +
    `${indent}  <Owner${
      attrs({ href: task.ownerHref, name: task.ownerName, type: task.ownerType })
    }/>\n` +
    (task.error
      ? `${indent}  <Error${
        attrs({
          majorErrorCode: task.error.majorErrorCode,
          message: task.error.message,
          minorErrorCode: task.error.minorErrorCode,
        })
      }/>\n`
      : "") +
    `${indent}  <Progress>${task.progress}</Progress>\n${indent}</Task>\n`;
}

export function metadataXml(h: Hrefs, template: FakeTemplate): string {
  const entries = [...template.metadata].map(([key, value]) =>
    `  <MetadataEntry>\n    <Domain visibility="READWRITE">GENERAL</Domain>\n` +
    `    <Key>${esc(key)}</Key>\n` +
    `    <TypedValue xsi:type="MetadataStringValue"><Value>${esc(value)}</Value></TypedValue>\n` +
    `  </MetadataEntry>\n`
  );
  return XML_HEAD +
    `<Metadata xmlns="${VCLOUD_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"${
      attrs({ href: `${h.template(template)}/metadata`, type: TYPES.metadata })
    }>\n${entries.join("")}</Metadata>\n`;
}

/** A query answer (`format=records`) with paging links. */
export function queryXml(
  h: Hrefs,
  query: { type: string; page: number; pageSize: number; total: number; self: URL },
  records: { element: string; attributes: Record<string, string | number | boolean | undefined> }[],
): string {
  const pageLink = (rel: string, page: number) => {
    const url = new URL(query.self);
    url.searchParams.set("page", String(page));
    return link(rel, `${h.origin}${url.pathname}${url.search}`, TYPES.query);
  };
  const lastPage = Math.max(1, Math.ceil(query.total / query.pageSize));
  const links = [
    ...(query.page < lastPage
      ? [pageLink("nextPage", query.page + 1), pageLink("lastPage", lastPage)]
      : []),
    ...(query.page > 1 ? [pageLink("previousPage", query.page - 1), pageLink("firstPage", 1)] : []),
  ];
  return XML_HEAD +
    `<QueryResultRecords xmlns="${VCLOUD_NS}"${
      attrs({
        total: query.total,
        pageSize: query.pageSize,
        page: query.page,
        name: query.type,
        type: TYPES.query,
        href: `${h.origin}${query.self.pathname}${query.self.search}`,
      })
    }>\n` + links.join("") +
    records.map((r) => `  <${r.element}${attrs(r.attributes)}/>\n`).join("") +
    `</QueryResultRecords>\n`;
}

/** The versions document (§B.0); each version's login URL is the cloudapi sessions endpoint. */
export function versionsXml(
  origin: string,
  versions: readonly string[],
  providerLoginUrl: boolean,
): string {
  const infos = versions.map((v) =>
    `  <VersionInfo deprecated="false">\n    <Version>${esc(v)}</Version>\n` +
    `    <LoginUrl>${esc(`${origin}/cloudapi/1.0.0/sessions`)}</LoginUrl>\n` +
    (providerLoginUrl
      ? `    <ProviderLoginUrl>${
        esc(`${origin}/cloudapi/1.0.0/sessions/provider`)
      }</ProviderLoginUrl>\n`
      : "") +
    `  </VersionInfo>\n`
  );
  return XML_HEAD +
    `<SupportedVersions xmlns="http://www.vmware.com/vcloud/versions" ` +
    `xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">\n${infos.join("")}</SupportedVersions>\n`;
}

function link(rel: string, href: string, type?: string, name?: string): string {
  return `  <Link${attrs({ rel, href, type, name })}/>\n`;
}
