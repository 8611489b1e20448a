/**
 * Fixture builders for image files: a small valid OVA (uncompressed tar with `flatcar.ovf`,
 * `flatcar.mf`, `flatcar-disk1.vmdk`), a qcow2 header, and corrupted variants.
 *
 * @example
 * ```ts
 * const good = ova().build();
 * const tampered = ova().withCorruptedMember("flatcar-disk1.vmdk").build();
 * const late = ova().withManifestLast().withAlgorithm("sha1").build();
 * const disk = qcow2().build();
 * ```
 */
import { createHash } from "node:crypto";

const encoder = new TextEncoder();
const BLOCK = 512;

/** A member of a tar archive. */
export interface TarMember {
  name: string;
  data: Uint8Array;
  /** Type flag, "0" (regular file) by default. */
  type?: string;
}

export interface TarOptions {
  /** Write a pax `path` record before members whose name exceeds 100 bytes (default true). */
  pax?: boolean;
  /** Use GNU `L` long-name records instead of pax. */
  gnuLongNames?: boolean;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, type: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (text: string, at: number) => block.set(encoder.encode(text), at);
  put(name.slice(0, 100), 0);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(size, 12), 124);
  put(octal(1_700_000_000, 12), 136);
  put("        ", 148);
  put(type, 156);
  put("ustar\0" + "00", 257);
  put("root", 265);
  put("root", 297);
  let sum = 0;
  for (const b of block) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return block;
}

function padded(data: Uint8Array): Uint8Array[] {
  const pad = (BLOCK - (data.byteLength % BLOCK)) % BLOCK;
  return pad ? [data, new Uint8Array(pad)] : [data];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (String(length).length + body.length !== length) {
    length = String(length).length + body.length;
  }
  return `${length}${body}`;
}

/** Builds an uncompressed tar archive, as `tar --format=ustar` (or pax for long names) would. */
export function tarArchive(members: TarMember[], options: TarOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const member of members) {
    const nameBytes = encoder.encode(member.name);
    if (nameBytes.byteLength > 100 && options.gnuLongNames) {
      const long = encoder.encode(member.name + "\0");
      parts.push(header("././@LongLink", long.byteLength, "L"), ...padded(long));
    } else if (nameBytes.byteLength > 100 && options.pax !== false) {
      const record = encoder.encode(paxRecord("path", member.name));
      parts.push(header("PaxHeaders/x", record.byteLength, "x"), ...padded(record));
    }
    parts.push(header(member.name, member.data.byteLength, member.type ?? "0"));
    parts.push(...padded(member.data));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  return concatBytes(parts);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Lower-case hex digest of `data`. */
export function digestHex(algorithm: "sha1" | "sha256" | "sha512", data: Uint8Array): string {
  return createHash(algorithm).update(data).digest("hex");
}

/** A small OVF descriptor: network `nic0`, hardware `vmx-09`, one streamOptimized disk. */
export function ovfDescriptor(diskFile: string, diskSize: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href="${diskFile}" ovf:id="file1" ovf:size="${diskSize}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="nic0">
      <Description>The nic0 network</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="flatcar">
    <Info>A virtual machine</Info>
    <Name>flatcar</Name>
    <OperatingSystemSection ovf:id="100" vmw:osType="other3xLinux64Guest">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>flatcar</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-09</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>2048MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>2048</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>SCSI Controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard Disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>nic0</rasd:Connection>
        <rasd:ElementName>Ethernet 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

/** Deterministic bytes that start like a streamOptimized VMDK (`KDMV` magic). */
export function fakeVmdk(size = 4096, seed = 1): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  data.set(encoder.encode("KDMV"), 0);
  return data;
}

type ManifestPlace = "after-ovf" | "last" | "none";

/** Builds an OVA; every `with…` returns the same builder. */
export class OvaBuilder {
  #base = "flatcar";
  #disk: Uint8Array = fakeVmdk();
  #algorithm: "sha1" | "sha256" | "sha512" = "sha256";
  #manifest: ManifestPlace = "after-ovf";
  #corrupt?: string;
  #wrongDigestFor?: string;
  #extra: TarMember[] = [];
  #extraManifestLines: string[] = [];
  #tarOptions: TarOptions = {};
  #prefix = "";

  /** Base name of the members (`<base>.ovf`, `<base>.mf`, `<base>-disk1.vmdk`). */
  withBaseName(base: string): this {
    this.#base = base;
    return this;
  }

  withDisk(data: Uint8Array): this {
    this.#disk = data;
    return this;
  }

  withAlgorithm(algorithm: "sha1" | "sha256" | "sha512"): this {
    this.#algorithm = algorithm;
    return this;
  }

  /** Puts the manifest after the disk instead of right after the OVF. */
  withManifestLast(): this {
    this.#manifest = "last";
    return this;
  }

  withoutManifest(): this {
    this.#manifest = "none";
    return this;
  }

  /** Flips a byte of the member after the manifest was computed (a tampered file). */
  withCorruptedMember(name: string): this {
    this.#corrupt = name;
    return this;
  }

  /** Writes a wrong digest for the member into the manifest. */
  withWrongDigestFor(name: string): this {
    this.#wrongDigestFor = name;
    return this;
  }

  /** Adds a member after the disk (not listed in the manifest unless `listed`). */
  withExtraMember(member: TarMember, listed = false): this {
    this.#extra.push(member);
    if (listed) {
      this.#extraManifestLines.push(
        `${this.#algorithm.toUpperCase()}(${member.name})= ${
          digestHex(this.#algorithm, member.data)
        }`,
      );
    }
    return this;
  }

  /** Adds a manifest line for a file the OVA does not contain. */
  withManifestLine(line: string): this {
    this.#extraManifestLines.push(line);
    return this;
  }

  /** Stores every member under `prefix` (e.g. `./`). */
  withPathPrefix(prefix: string): this {
    this.#prefix = prefix;
    return this;
  }

  withTarOptions(options: TarOptions): this {
    this.#tarOptions = options;
    return this;
  }

  /** Member names in archive order (without any prefix). */
  memberNames(): string[] {
    return this.#members().map((m) => m.name);
  }

  build(): Uint8Array {
    const members = this.#members().map((m) => ({ ...m, name: this.#prefix + m.name }));
    return tarArchive(members, this.#tarOptions);
  }

  #members(): TarMember[] {
    const diskName = `${this.#base}-disk1.vmdk`;
    const ovf = {
      name: `${this.#base}.ovf`,
      data: encoder.encode(ovfDescriptor(diskName, this.#disk.byteLength)),
    };
    const disk = { name: diskName, data: this.#disk };
    const files = [ovf, disk];
    const lines = files.map((f) => {
      let hex = digestHex(this.#algorithm, f.data);
      if (f.name === this.#wrongDigestFor) hex = hex.replace(/^./, (c) => (c === "0" ? "1" : "0"));
      return `${this.#algorithm.toUpperCase()}(${f.name})= ${hex}`;
    });
    const manifest = {
      name: `${this.#base}.mf`,
      data: encoder.encode([...lines, ...this.#extraManifestLines].join("\n") + "\n"),
    };
    const stored = files.map((f) => {
      if (f.name !== this.#corrupt) return f;
      const data = f.data.slice();
      data[data.byteLength >> 1] ^= 0xff;
      return { ...f, data };
    });
    switch (this.#manifest) {
      case "after-ovf":
        return [stored[0], manifest, stored[1], ...this.#extra];
      case "last":
        return [stored[0], stored[1], ...this.#extra, manifest];
      case "none":
        return [...stored, ...this.#extra];
    }
  }
}

/** Starts an OVA builder with the defaults (SHA256 manifest right after the OVF). */
export function ova(): OvaBuilder {
  return new OvaBuilder();
}

/** Builds a 512-byte qcow2 header (magic `QFI\xfb`, version 3 by default). */
export class Qcow2Builder {
  #version = 3;
  #magic: Uint8Array = new Uint8Array([0x51, 0x46, 0x49, 0xfb]);
  #virtualSize = 8n << 30n;

  withVersion(version: number): this {
    this.#version = version;
    return this;
  }

  /** Replaces the magic (a corrupted or foreign file). */
  withMagic(bytes: Uint8Array): this {
    this.#magic = bytes;
    return this;
  }

  build(): Uint8Array {
    const data = new Uint8Array(512);
    const view = new DataView(data.buffer);
    data.set(this.#magic.subarray(0, 4), 0);
    view.setUint32(4, this.#version);
    view.setUint32(20, 16); // cluster_bits: 64 KiB clusters
    view.setBigUint64(24, this.#virtualSize);
    if (this.#version >= 3) view.setUint32(100, 104); // header_length
    return data;
  }
}

export function qcow2(): Qcow2Builder {
  return new Qcow2Builder();
}

/** A stream of `data` in chunks of `chunkSize` bytes (to exercise boundaries). */
export function streamOf(data: Uint8Array, chunkSize = 65536): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(data.slice(at, at + chunkSize));
      at += chunkSize;
    },
  });
}

/** Reads a stream to the end and returns its bytes. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
