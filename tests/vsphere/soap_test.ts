/**
 * The SOAP layer against the live samples captured from vcsim (`../shared/docs/
 * vsphere-soap-samples/`, inlined below): envelopes are
 * escaped, answers parsed namespace-aware, faults mapped to classes, and a NotAuthenticated
 * answer (fault or vcsim's 200 with `missingSet`) logs in again once.
 */
import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import type { HttpClient, HttpRequest, HttpResponse } from "../../providers/_http/mod.ts";
import { ProviderUnavailableError } from "../../providers/types.ts";
import { SoapClient } from "../../providers/vsphere/soap/client.ts";
import {
  DuplicateNameFault,
  faultFromLocalized,
  faultFromSoap,
  NotAuthenticatedFault,
} from "../../providers/vsphere/soap/faults.ts";
import { child, el, envelope, parseXml, serialize } from "../../providers/vsphere/soap/xml.ts";
import { withHost } from "../../providers/vsphere/nfc.ts";
import { classify } from "../../providers/vsphere/inventory.ts";
import { pickHost } from "../../providers/vsphere/locations.ts";
import { ANNOTATION_MARKER } from "../../providers/vsphere/names.ts";
import { withAnnotation } from "../../providers/vsphere/import_spec.ts";
import { FakeClock } from "../support/fake_clock.ts";

const ENV =
  `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`;
const END = `</soapenv:Body></soapenv:Envelope>`;

// From curl/04-InvalidLogin.res.xml, curl/03-NotAuthenticated.res.xml, curl/09-PullFromUrls.res.xml.
const INVALID_LOGIN =
  `${ENV}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault>${END}`;
const MISSING_SET =
  `${ENV}<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="Folder">group-d1</obj><missingSet><path>name</path><fault><fault xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="NotAuthenticated"><object type="Folder">group-d1</object><privilegeId>System.Read</privilegeId></fault></fault></missingSet></objects></returnval></RetrievePropertiesExResponse>${END}`;
const METHOD_NOT_FOUND =
  `${ENV}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>HttpNfcLease:lease-1 does not implement: HttpNfcLeasePullFromUrls_Task</faultstring><detail><MethodNotFoundFault xmlns="urn:vim25" xsi:type="MethodNotFound"><receiver type="HttpNfcLease">lease-1</receiver><method>HttpNfcLeasePullFromUrls_Task</method></MethodNotFoundFault></detail></soapenv:Fault>${END}`;
const CONTENT =
  `${ENV}<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval><rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector><about><apiVersion>6.5</apiVersion><apiType>VirtualCenter</apiType></about><sessionManager type="SessionManager">SessionManager</sessionManager><taskManager type="TaskManager">TaskManager</taskManager><searchIndex type="SearchIndex">SearchIndex</searchIndex><ovfManager type="OvfManager">OvfManager</ovfManager></returnval></RetrieveServiceContentResponse>${END}`;
const LOGIN =
  `${ENV}<LoginResponse xmlns="urn:vim25"><returnval><key>k</key><userName>user</userName></returnval></LoginResponse>${END}`;
const FOLDER_NAME =
  `${ENV}<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="Folder">group-d1</obj><propSet><name>name</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="xsd:string">Datacenters</val></propSet></objects></returnval></RetrievePropertiesExResponse>${END}`;

/** Scripted vCenter: answers by method, records requests. */
function scripted(answer: (method: string, n: number) => { status: number; body: string }) {
  const requests: HttpRequest[] = [];
  let logins = 0;
  const http: HttpClient = {
    request: (req: HttpRequest): Promise<HttpResponse> => {
      requests.push(req);
      const method = /<Body><(\w+) xmlns/.exec(String(req.body))![1];
      const headers = new Headers();
      if (method === "Login") {
        headers.append("set-cookie", `vmware_soap_session=s${++logins}; HttpOnly`);
      }
      const { status, body } = answer(method, requests.length);
      return Promise.resolve({ status, statusText: "", headers, body });
    },
    close: () => Promise.resolve(),
  };
  return { http, requests };
}

Deno.test("envelopes escape every value, so a password cannot change the document", () => {
  const xml = envelope(
    "Login",
    { type: "SessionManager", value: "SessionManager" },
    el("password", `a<b>&"c'`),
  );
  assert.ok(xml.includes("<password>a&lt;b&gt;&amp;&quot;c&apos;</password>"));
  assert.equal(child(child(child(parseXml(xml), "Body"), "Login"), "password")?.text, `a<b>&"c'`);
});

Deno.test("xsi:type is read whatever its prefix and never clashes with a moref's type", () => {
  const node = parseXml(
    `<r xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" xmlns:p="http://www.w3.org/2001/XMLSchema-instance"><v XMLSchema-instance:type="ManagedObjectReference" type="Folder">f</v><w p:type="xsd:string">0000</w></r>`,
  );
  assert.deepEqual([node.children[0].xsiType, node.children[0].attrs.type], [
    "ManagedObjectReference",
    "Folder",
  ]);
  assert.equal(node.children[1].text, "0000");
  assert.equal(serialize(node.children[1]), `<w xsi:type="string">0000</w>`);
});

Deno.test("faults map to classes with the server's message", () => {
  const soap = faultFromSoap(child(child(parseXml(METHOD_NOT_FOUND), "Body"), "Fault")!, "pull");
  assert.equal(soap.type, "MethodNotFound");
  assert.match(soap.message, /does not implement: HttpNfcLeasePullFromUrls_Task/);
  const lease = faultFromLocalized(
    parseXml(
      `<error xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><fault xsi:type="DuplicateName"><name>x</name></fault><localizedMessage>The name 'x' already exists.</localizedMessage></error>`,
    ),
    "import",
  );
  assert.ok(lease instanceof DuplicateNameFault);
  assert.match(lease.message, /The name 'x' already exists/);
});

Deno.test("a wrong password is ProviderUnavailable naming the user, never the password", async () => {
  const { http } = scripted((m) =>
    m === "Login" ? { status: 500, body: INVALID_LOGIN } : { status: 200, body: CONTENT }
  );
  const client = new SoapClient({
    host: "vc",
    username: "user",
    password: new Secret("p@ss<"),
    http,
    keepAliveMs: 0,
  });
  await assert.rejects(client.connect(AbortSignal.timeout(5000)), (error: Error) => {
    assert.ok(error instanceof ProviderUnavailableError);
    assert.match(error.message, /refused the login of "user": Login failure/);
    assert.ok(!error.message.includes("p@ss<"));
    return true;
  });
});

Deno.test("vcsim's 200 with NotAuthenticated in missingSet logs in again once and repeats the call", async () => {
  let reads = 0;
  const { http, requests } = scripted((m) => {
    if (m === "RetrieveServiceContent") return { status: 200, body: CONTENT };
    if (m === "Login") return { status: 200, body: LOGIN };
    return { status: 200, body: ++reads === 1 ? MISSING_SET : FOLDER_NAME };
  });
  const client = new SoapClient({
    host: "vc",
    username: "user",
    password: new Secret("p"),
    http,
    keepAliveMs: 0,
  });
  const result = await client.call(
    "RetrievePropertiesEx",
    { type: "PropertyCollector", value: "propertyCollector" },
    "",
    AbortSignal.timeout(5000),
  );
  assert.ok(JSON.stringify(result).includes("Datacenters"));
  assert.equal(client.logins, 2);
  const cookies = requests.filter((r) => String(r.body).includes("RetrievePropertiesEx")).map((r) =>
    r.headers?.cookie
  );
  assert.deepEqual(cookies, ["vmware_soap_session=s1", "vmware_soap_session=s2"]);
  await client.close();
});

Deno.test("a second NotAuthenticated in a row is an error, not a loop", async () => {
  const { http } = scripted((m) =>
    m === "RetrieveServiceContent"
      ? { status: 200, body: CONTENT }
      : m === "Login"
      ? { status: 200, body: LOGIN }
      : { status: 200, body: MISSING_SET }
  );
  const client = new SoapClient({
    host: "vc",
    username: "u",
    password: new Secret("p"),
    http,
    keepAliveMs: 0,
  });
  await assert.rejects(
    client.call(
      "RetrievePropertiesEx",
      { type: "PropertyCollector", value: "propertyCollector" },
      "",
      AbortSignal.timeout(5000),
    ),
    NotAuthenticatedFault,
  );
  assert.equal(client.logins, 2);
});

Deno.test("device URLs: a * host becomes the vCenter host", () => {
  assert.equal(
    withHost("https://*/nfc/t/disk-0.vmdk", "vc.example:8443"),
    "https://vc.example:8443/nfc/t/disk-0.vmdk",
  );
  assert.equal(
    withHost("https://*:443/nfc/t/disk-0.vmdk", "vc.example:8443"),
    "https://vc.example:443/nfc/t/disk-0.vmdk",
  );
  assert.equal(withHost("https://esx1:443/nfc/t/d", "vc"), "https://esx1:443/nfc/t/d");
});

Deno.test("inventory: suffix applied, templates complete, our half-made VMs partial, others left out", () => {
  const vm = (name: string, template: boolean, annotation?: string) => ({
    ref: { type: "VirtualMachine", value: `vm-${name}` },
    name,
    template,
    annotation,
  });
  const inventory = classify([
    vm("a-sfx", true),
    vm("b-sfx", false, `${ANNOTATION_MARKER} for NodeImage x/y`),
    vm("c-sfx", false, "someone's VM"),
    vm("d", true),
  ], "sfx");
  assert.deepEqual([...inventory.items.values()], [
    { name: "a", reference: "vm-a-sfx", complete: true },
    { name: "b", reference: "vm-b-sfx", complete: false },
  ]);
});

Deno.test("host pick: within the cluster, usable hosts only, explicit host validated", () => {
  const host = (name: string, extra: Record<string, unknown> = {}) => ({
    ref: { type: "HostSystem", value: name },
    name,
    connectionState: "connected",
    powerState: "poweredOn",
    inMaintenanceMode: false,
    ...extra,
  });
  const loc = (hostName = "") => ({
    name: "l",
    config: {
      datacenter: "d",
      datastore: "s",
      folder: "f",
      cluster: "c",
      resourcepool: "",
      host: hostName,
      network: "",
      imagesuffix: "",
    },
  });
  const hosts = [
    host("h0", { inMaintenanceMode: true }),
    host("h1", { connectionState: "disconnected" }),
    host("h2"),
  ];
  assert.equal(pickHost(hosts, loc()).name, "h2");
  assert.throws(
    () => pickHost(hosts.slice(0, 2), loc()),
    /no host of cluster "c" can import \(h0: in maintenance mode; h1: disconnected\)/,
  );
  assert.throws(
    () => pickHost(hosts, loc("h0")),
    /host "h0" cannot import \(in maintenance mode\)/,
  );
  assert.throws(() => pickHost(hosts, loc("elsewhere")), /not a host of cluster "c"/);
});

Deno.test("the annotation goes right before files, ahead of one the OVF brought", () => {
  const spec = parseXml(
    `<importSpec><configSpec><name>n</name><guestId>g</guestId><files><vmPathName>x</vmPathName></files></configSpec></importSpec>`,
  );
  const names = child(withAnnotation(spec, "ours"), "configSpec")!.children.map((c) => c.name);
  assert.deepEqual(names, ["name", "guestId", "annotation", "files"]);
  const theirs = parseXml(
    `<importSpec><configSpec><annotation>from OVF</annotation><files/></configSpec></importSpec>`,
  );
  assert.equal(
    child(child(withAnnotation(theirs, "ours"), "configSpec"), "annotation")?.text,
    "ours\nfrom OVF",
  );
});

Deno.test("an idle session is kept alive, and a lost one replaced, by the keep-alive read", async () => {
  const SESSION =
    `${ENV}<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="SessionManager">SessionManager</obj><propSet><name>currentSession</name><val xsi:type="UserSession"><key>k</key></val></propSet></objects></returnval></RetrievePropertiesExResponse>${END}`;
  // vcsim answers an unauthenticated read of the SessionManager with no properties at all.
  const GONE =
    `${ENV}<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="SessionManager">SessionManager</obj></objects></returnval></RetrievePropertiesExResponse>${END}`;
  let reads = 0;
  const { http, requests } = scripted((m) => {
    if (m === "RetrieveServiceContent") return { status: 200, body: CONTENT };
    if (m === "Login") return { status: 200, body: LOGIN };
    return { status: 200, body: ++reads === 1 ? SESSION : GONE };
  });
  const clock = new FakeClock();
  const client = new SoapClient({
    host: "vc",
    username: "u",
    password: new Secret("p"),
    http,
    clock,
    keepAliveMs: 60_000,
  });
  await client.connect(AbortSignal.timeout(5000));
  await clock.advance(30_000);
  assert.equal(reads, 0, "not before the period");
  await clock.advance(30_000);
  await until(() => reads === 1);
  assert.ok(String(requests.at(-1)?.body).includes("<pathSet>currentSession</pathSet>"));
  assert.equal(client.logins, 1);
  await clock.advance(60_000);
  await until(() => client.logins === 2);
  await client.close();
});

async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !probe(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(probe(), "condition reached");
}
