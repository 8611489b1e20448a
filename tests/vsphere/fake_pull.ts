/**
 * A fake of exactly one exchange vcsim lacks: `HttpNfcLeasePullFromUrls_Task` (vcsim answers
 * MethodNotFound, sample `curl/09-PullFromUrls`). It is an HTTPS proxy in front of vcsim that
 * passes every other request through unchanged, and for that one call does what ESXi does:
 *
 * - checks the request as govmomi's `HttpNfcLeasePullFromUrlsRequestType` shapes it: one
 *   `files` entry (HttpNfcLeaseSourceFile) per device URL of the lease, each with
 *   `targetDeviceId` (a lease `importKey`), `url`, `memberName`, `create`, `sslThumbprint`;
 *   a wrong count or unknown device is an `InvalidArgument` fault, as vCenter answers;
 * - answers at once with a real vcsim Task (TaskManager.CreateTask with the caller's session),
 *   then in the background: waits until the client has kept the lease alive
 *   (`keepAlivesBeforePull` HttpNfcLeaseProgress calls on it; none within 20 s fails the task
 *   as a timed-out lease would), checks the source's certificate against `sslThumbprint` (an
 *   `http` URL must come with the `0000` placeholder), downloads the OVA, extracts
 *   `memberName` and uploads it to the device URL (POST disk / PUT with `Overwrite: t`), then
 *   sets the task to success, or to error with `SSLVerifyFault` / `SystemError` and a message.
 */
import { createHash } from "node:crypto";
import { connect } from "node:tls";
import { TarReader } from "../../lib/integrity/mod.ts";
import { child, children, escapeXml, parseXml, textOf } from "../../providers/vsphere/soap/xml.ts";
import type { TestPki } from "../support/tls.ts";

export interface PullRequestSeen {
  lease: string;
  files: {
    targetDeviceId: string;
    url: string;
    memberName: string;
    create: string;
    sslThumbprint?: string;
    size?: string;
  }[];
}

export interface FakePull {
  /** `host:port` to configure as the vCenter. */
  host: string;
  requests: PullRequestSeen[];
  /** Bytes each pulled member had, by member name. */
  pulled: Map<string, number>;
  /** Lease progress calls seen, by lease. */
  keepAlives: Map<string, number>;
  close(): Promise<void>;
}

const ENVELOPE_HEAD = `<?xml version="1.0" encoding="UTF-8"?>` +
  `<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ` +
  `xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`;
const ENVELOPE_TAIL = `</soapenv:Body></soapenv:Envelope>`;

export function startFakePull(
  vcsimHost: string,
  pki: TestPki,
  options: { keepAlivesBeforePull?: number; sourceCa?: string } = {},
): FakePull {
  const upstream = `https://${vcsimHost}`;
  const http = Deno.createHttpClient({ caCerts: [pki.caCert] });
  const requests: PullRequestSeen[] = [];
  const pulled = new Map<string, number>();
  const keepAlives = new Map<string, number>();
  const background = new Set<Promise<void>>();
  const needed = options.keepAlivesBeforePull ?? 2;

  const soap = async (cookie: string, body: string) => {
    const response = await fetch(`${upstream}/sdk`, {
      method: "POST",
      headers: { "content-type": "text/xml", cookie },
      body:
        `<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Body>${body}</Body></Envelope>`,
      client: http,
    });
    return parseXml(await response.text());
  };

  const setState = async (
    cookie: string,
    task: string,
    error?: { type: string; message: string },
  ) => {
    const fault = error
      ? `<fault><fault xsi:type="${error.type}">${
        error.type === "SystemError" ? `<reason>${escapeXml(error.message)}</reason>` : ""
      }</fault><localizedMessage>${escapeXml(error.message)}</localizedMessage></fault>`
      : "";
    for (let i = 0; i < 50; i++) {
      const answer = await soap(
        cookie,
        `<SetTaskState xmlns="urn:vim25"><_this type="Task">${task}</_this><state>${
          error ? "error" : "success"
        }</state>${fault}</SetTaskState>`,
      );
      if (!child(child(answer, "Body"), "Fault")) return;
      await new Promise((r) => setTimeout(r, 20)); // CreateTask registers the task asynchronously
    }
  };

  const pull = async (cookie: string, lease: string, task: string, seen: PullRequestSeen) => {
    try {
      for (let i = 0; (keepAlives.get(lease) ?? 0) < needed; i++) {
        if (i > 2000) {
          throw { type: "SystemError", message: "the lease timed out: no HttpNfcLeaseProgress" };
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const info = await soap(
        cookie,
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>HttpNfcLease</type><pathSet>info</pathSet></propSet><objectSet><obj type="HttpNfcLease">${
          escapeXml(lease)
        }</obj></objectSet></specSet><options></options></RetrievePropertiesEx>`,
      );
      const leaseInfo = child(
        child(
          child(
            child(child(child(info, "Body"), "RetrievePropertiesExResponse"), "returnval"),
            "objects",
          ),
          "propSet",
        ),
        "val",
      );
      const devices = children(leaseInfo, "deviceUrl");
      for (const file of seen.files) {
        const device = devices.find((d) => textOf(d, "importKey") === file.targetDeviceId)!;
        await checkThumbprint(file.url, file.sslThumbprint, options.sourceCa);
        const member = await extract(file.url, file.memberName, options.sourceCa);
        const create = file.create === "true";
        const put = await fetch(textOf(device, "url")!, {
          method: create ? "PUT" : "POST",
          headers: {
            "content-type": create
              ? "application/octet-stream"
              : "application/x-vnd.vmware-streamVmdk",
            ...(create ? { overwrite: "t" } : {}),
          },
          body: member as Uint8Array<ArrayBuffer>,
          client: http,
        });
        await put.body?.cancel();
        if (!put.ok) throw { type: "SystemError", message: `upload answered ${put.status}` };
        pulled.set(file.memberName, member.byteLength);
      }
      await setState(cookie, task);
    } catch (error) {
      const fault = error as { type?: string; message?: string };
      await setState(cookie, task, {
        type: fault.type ?? "SystemError",
        message: fault.message ?? String(error),
      });
    }
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
    onListen: () => {},
  }, async (request) => {
    const body = await request.text();
    const cookie = request.headers.get("cookie") ?? "";
    if (body.includes("HttpNfcLeaseProgress")) {
      const lease = textOf(child(child(parseXml(body), "Body"), "HttpNfcLeaseProgress"), "_this");
      if (lease) keepAlives.set(lease, (keepAlives.get(lease) ?? 0) + 1);
    }
    if (body.includes("HttpNfcLeasePullFromUrls_Task")) {
      const call = child(child(parseXml(body), "Body"), "HttpNfcLeasePullFromUrls_Task")!;
      const lease = textOf(call, "_this") ?? "";
      const seen: PullRequestSeen = {
        lease,
        files: children(call, "files").map((f) => ({
          targetDeviceId: textOf(f, "targetDeviceId") ?? "",
          url: textOf(f, "url") ?? "",
          memberName: textOf(f, "memberName") ?? "",
          create: textOf(f, "create") ?? "",
          sslThumbprint: textOf(f, "sslThumbprint"),
          size: textOf(f, "size"),
        })),
      };
      requests.push(seen);
      if (
        seen.files.length === 0 || seen.files.some((f) => !f.url || !f.targetDeviceId || !f.create)
      ) {
        return fault("InvalidArgument", "A specified parameter was not correct: files");
      }
      const created = await soap(
        cookie,
        `<CreateTask xmlns="urn:vim25"><_this type="TaskManager">TaskManager</_this><obj type="HttpNfcLease">${
          escapeXml(lease)
        }</obj><taskTypeId>com.vmware.govmomi.simulator.test</taskTypeId><initiatedBy>esx</initiatedBy><cancelable>false</cancelable></CreateTask>`,
      );
      const task = textOf(
        child(child(child(created, "Body"), "CreateTaskResponse"), "returnval"),
        "task",
      );
      if (!task) return fault("NotAuthenticated", "The session is not authenticated.");
      const job = pull(cookie, lease, task, seen);
      background.add(job);
      job.finally(() => background.delete(job));
      return new Response(
        `${ENVELOPE_HEAD}<HttpNfcLeasePullFromUrls_TaskResponse xmlns="urn:vim25"><returnval type="Task">${task}</returnval></HttpNfcLeasePullFromUrls_TaskResponse>${ENVELOPE_TAIL}`,
        { status: 200, headers: { "content-type": "text/xml; charset=utf-8" } },
      );
    }
    const forwarded = await fetch(
      upstream + new URL(request.url).pathname + new URL(request.url).search,
      {
        method: request.method,
        headers: request.headers,
        body: request.method === "GET" || request.method === "HEAD" ? undefined : body,
        client: http,
      },
    );
    const headers = new Headers();
    forwarded.headers.forEach((v, k) => k !== "set-cookie" && headers.set(k, v));
    for (const c of forwarded.headers.getSetCookie()) headers.append("set-cookie", c);
    headers.delete("content-length");
    headers.delete("transfer-encoding");
    return new Response(await forwarded.arrayBuffer(), { status: forwarded.status, headers });
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    pulled,
    keepAlives,
    close: async () => {
      await Promise.allSettled([...background]);
      await server.shutdown();
      http.close();
    },
  };
}

function fault(type: string, message: string): Response {
  return new Response(
    `${ENVELOPE_HEAD}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${
      escapeXml(message)
    }</faultstring><detail><${type}Fault xmlns="urn:vim25" xsi:type="${type}"></${type}Fault></detail></soapenv:Fault>${ENVELOPE_TAIL}`,
    { status: 500, headers: { "content-type": "text/xml; charset=utf-8" } },
  );
}

/** As ESXi: an https source must present the certificate `expected` names; http needs `0000`. */
async function checkThumbprint(url: string, expected: string | undefined, ca?: string) {
  const parsed = new URL(url);
  if (parsed.protocol === "http:") {
    if (expected !== "0000") {
      throw {
        type: "SSLVerifyFault",
        message: `http source without the 0000 thumbprint: ${expected}`,
      };
    }
    return;
  }
  const der = await new Promise<Uint8Array>((resolve, reject) => {
    const socket = connect({
      host: parsed.hostname,
      port: Number(parsed.port || 443),
      ca,
      rejectUnauthorized: false,
    }, () => {
      resolve(new Uint8Array(socket.getPeerCertificate().raw));
      socket.destroy();
    });
    socket.on("error", reject);
  });
  const actual = createHash("sha1").update(der).digest("hex").toUpperCase().match(/../g)!.join(":");
  if (actual !== expected) {
    throw {
      type: "SSLVerifyFault",
      message: `source certificate ${actual} does not match ${expected}`,
    };
  }
}

/** Downloads the OVA and returns one member's bytes. */
async function extract(
  url: string,
  memberName: string,
  ca?: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
  try {
    const response = await fetch(url, { client });
    if (!response.ok) throw { type: "SystemError", message: `source answered ${response.status}` };
    const parts: Uint8Array[] = [];
    let found = false;
    let current = false;
    const tar = new TarReader({
      entry: (e) => {
        current = e.name.replace(/^(\.\/)+/, "") === memberName;
        found ||= current;
      },
      data: (c) => current && parts.push(c.slice()),
      entryEnd: () => (current = false),
    }, url);
    for await (const chunk of response.body!) tar.push(chunk);
    if (!found) throw { type: "SystemError", message: `no member ${memberName} in the OVA` };
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  } finally {
    client?.close();
  }
}
