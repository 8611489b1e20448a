/** Response helpers: XML documents, `<Error>` bodies, cloudapi JSON errors. */
import { errorXml, TYPES } from "./render.ts";
import type { Fault } from "./state.ts";

export function xml(status: number, body: string, type?: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": `${type ?? "application/*+xml"};version=37.0` },
  });
}

export function xmlError(status: number, fault: Fault): Response {
  return new Response(errorXml(fault), {
    status,
    headers: { "content-type": `${TYPES.error};version=37.0` },
  });
}

export function jsonError(status: number, fault: Fault): Response {
  return new Response(
    JSON.stringify({
      minorErrorCode: fault.minorErrorCode,
      message: fault.message,
      stackTrace: null,
    }),
    { status, headers: { "content-type": "application/json;version=37.0" } },
  );
}
