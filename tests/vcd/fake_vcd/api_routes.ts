/**
 * The fake's `/api` routes: org list and org, catalog and its `action/upload`, vApp templates
 * (GET, DELETE, metadata), tasks and queries. Ids that do not exist or are not visible to the
 * session answer 403 `ACCESS_TO_RESOURCE_IS_FORBIDDEN` (wire facts §B.3); unknown paths 404.
 */
import { XMLParser } from "fast-xml-parser";
import {
  catalogItemXml,
  catalogXml,
  metadataXml,
  orgListXml,
  orgXml,
  taskXml,
  templateXml,
  TYPES,
} from "./render.ts";
import { query } from "./query.ts";
import { xml, xmlError } from "./responses.ts";
import type { FakeOrg, FakeSession, FakeTemplate } from "./state.ts";
import type { World } from "./world.ts";

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === "MetadataEntry",
});

/** Every `/api` route but the versions document, for a request with a live session. */
export async function apiRoute(
  world: World,
  req: Request,
  url: URL,
  session: FakeSession,
): Promise<Response> {
  const h = world.hrefs;
  const path = url.pathname;
  const method = req.method;
  const visibleOrgs = world.state.orgs.filter((o) => session.provider || o.id === session.orgId);
  const forbidden = () =>
    xmlError(403, {
      majorErrorCode: 403,
      minorErrorCode: "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
      message: `Either you need some or all of the following rights [ORG_VDC_ACCESS] to ` +
        `perform operations [${method}] for ${path} or the target entity is invalid.`,
    });

  if (path === "/api/org" || path === "/api/org/") {
    return xml(200, orgListXml(h, visibleOrgs));
  }
  if (path === "/api/query" && method === "GET") {
    const answer = query(world.state, h, session, url);
    return "fault" in answer ? xmlError(answer.status, answer.fault) : xml(200, answer.body);
  }
  let m = /^\/api\/org\/([^/]+)$/.exec(path);
  if (m && method === "GET") {
    const org = visibleOrgs.find((o) => o.id === m![1]);
    return org ? xml(200, orgXml(h, org)) : forbidden();
  }
  m = /^\/api\/catalog\/([^/]+)(\/action\/upload)?$/.exec(path);
  if (m) {
    const org = visibleOrgs.find((o) => o.catalogs.some((c) => c.id === m![1]));
    const catalog = org?.catalogs.find((c) => c.id === m![1]);
    if (!org || !catalog) return forbidden();
    if (!m[2] && method === "GET") {
      return xml(200, catalogXml(h, org, catalog, world.state.templates));
    }
    if (m[2] && method === "POST") return await upload(world, req, org, catalog, session);
  }
  m = /^\/api\/vAppTemplate\/vappTemplate-([^/]+?)(\/metadata)?$/.exec(path);
  if (m) {
    const template = world.state.templates.get(m[1]);
    if (!template || !visibleOrgs.some((o) => o.id === template.orgId)) return forbidden();
    if (!m[2] && method === "GET") {
      const tasks = [...world.state.tasks.values()].filter((t) =>
        t.ownerHref === h.template(template)
      );
      return xml(200, templateXml(h, template, tasks));
    }
    if (!m[2] && method === "DELETE") {
      return xml(202, taskXml(h, world.deleteTemplate(template)), TYPES.task);
    }
    if (m[2] && method === "GET") return xml(200, metadataXml(h, template));
    if (m[2] && method === "POST") return await metadata(world, req, template);
  }
  m = /^\/api\/task\/([^/]+)$/.exec(path);
  if (m && method === "GET") {
    const task = world.state.tasks.get(m[1]);
    if (!task || !visibleOrgs.some((o) => o.id === task.orgId)) return forbidden();
    return xml(200, taskXml(h, task), TYPES.task);
  }
  await req.body?.cancel();
  return xmlError(404, {
    majorErrorCode: 404,
    minorErrorCode: "RESOURCE_NOT_FOUND",
    message: `No such resource: ${method} ${path}`,
  });
}

async function upload(
  world: World,
  req: Request,
  org: FakeOrg,
  catalog: FakeOrg["catalogs"][number],
  session: FakeSession,
): Promise<Response> {
  const bad = (message: string, minor = "BAD_REQUEST", status = 400) =>
    xmlError(status, { majorErrorCode: status, minorErrorCode: minor, message });
  if (catalog.subscribed) {
    return bad(
      "A subscribed catalog cannot take uploads",
      "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
      403,
    );
  }
  if (req.headers.get("content-type")?.split(";")[0] !== TYPES.uploadParams) {
    await req.body?.cancel();
    return bad(`Expected Content-Type ${TYPES.uploadParams}`, "UNSUPPORTED_MEDIA_TYPE", 415);
  }
  let params: Record<string, unknown>;
  try {
    params = xmlParser.parse(await req.text()).UploadVAppTemplateParams;
  } catch (error) {
    return bad(`The request body is not XML: ${(error as Error).message}`);
  }
  if (!params || typeof params !== "object") return bad("Expected UploadVAppTemplateParams");
  const name = String(params["@name"] ?? "");
  if (!name) return bad("UploadVAppTemplateParams needs a name");
  const taken = [...catalog.items.values()].some((id) =>
    world.state.templates.get(id)?.name === name
  );
  if (taken) {
    // [UNVERIFIED] exact message; the code is what clients see for duplicate entity names.
    return bad(`The VCD entity ${name} already exists.`, "DUPLICATE_NAME");
  }
  const reference = params.VdcStorageProfile as Record<string, unknown> | undefined;
  let placed: {
    vdc: FakeOrg["vdcs"][number];
    profile: FakeOrg["vdcs"][number]["profiles"][number];
  } | undefined;
  if (reference) {
    const id = /\/vdcStorageProfile\/([^/]+)$/.exec(String(reference["@href"] ?? ""))?.[1];
    for (const vdc of org.vdcs) {
      const profile = vdc.profiles.find((p) => p.id === id && p.enabled);
      if (profile) placed = { vdc, profile };
    }
    if (!placed) return bad("The storage profile is not one of this organization's VDCs");
  } else {
    const vdc = org.vdcs[0];
    const profile = vdc?.profiles.find((p) => p.isDefault);
    if (!vdc || !profile) return bad("The organization has no VDC to hold the template");
    placed = { vdc, profile };
  }
  const description = typeof params.Description === "string"
    ? params.Description
    : String((params.Description as Record<string, unknown> | undefined)?.["#text"] ?? "");
  const template = world.createTemplate(org, catalog, placed.vdc, placed.profile, {
    name,
    description,
    ownerName: session.userName,
  });
  return xml(201, catalogItemXml(world.hrefs, catalog, template), TYPES.catalogItem);
}

async function metadata(world: World, req: Request, template: FakeTemplate): Promise<Response> {
  if (req.headers.get("content-type")?.split(";")[0] !== TYPES.metadata) {
    await req.body?.cancel();
    return xmlError(415, {
      majorErrorCode: 415,
      minorErrorCode: "UNSUPPORTED_MEDIA_TYPE",
      message: `Expected Content-Type ${TYPES.metadata}`,
    });
  }
  let entries: [string, string][];
  try {
    const doc = xmlParser.parse(await req.text()).Metadata as Record<string, unknown>;
    entries = ((doc?.MetadataEntry ?? []) as Record<string, unknown>[]).map((entry) => {
      const typed = entry.TypedValue as Record<string, unknown>;
      if (typed?.["@type"] !== "MetadataStringValue") {
        throw new Error("expected MetadataStringValue");
      }
      return [String(entry.Key), String(typed.Value ?? "")];
    });
  } catch (error) {
    return xmlError(400, {
      majorErrorCode: 400,
      minorErrorCode: "BAD_REQUEST",
      message: `Invalid Metadata: ${(error as Error).message}`,
    });
  }
  return xml(
    202,
    taskXml(world.hrefs, world.mergeMetadata(template, entries)),
    TYPES.task,
  );
}
