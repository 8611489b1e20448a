/**
 * A Flatcar-like OVA: `<base>.ovf` first, `<base>.mf` with a correct SHA256 line per file, then
 * `<base>-disk1.vmdk` (streamOptimized-looking), packed as ustar: the layout VMware's ovftool
 * writes and both the vSphere and VCD providers read.
 */
import { createHash } from "node:crypto";
import { ustar } from "./tar.ts";
import { streamOptimizedVmdk } from "./vmdk.ts";

const encoder = new TextEncoder();
/** ustar headers, the OVF, manifest and padding: roughly what is not disk. */
const NON_DISK_BYTES = 16 * 1024;

export interface OvaOptions {
  /** Member base name (`flatcar-stable-4459.2.4-kube-v1.34.5`). */
  baseName: string;
  /** Approximate size of the whole OVA; the disk takes all but ~16 KiB. */
  totalBytes: number;
  seed?: number;
}

/** The OVA's bytes and its member names in archive order. */
export function ovaImage(options: OvaOptions): { bytes: Uint8Array; members: string[] } {
  const diskName = `${options.baseName}-disk1.vmdk`;
  const disk = streamOptimizedVmdk({
    fileBytes: Math.max(1536, options.totalBytes - NON_DISK_BYTES),
    fileName: diskName,
    seed: options.seed,
  });
  const ovf = encoder.encode(ovfDescriptor(options.baseName, diskName, disk.byteLength));
  const ovfName = `${options.baseName}.ovf`;
  const manifest = encoder.encode(
    [[ovfName, ovf], [diskName, disk] as const].map(([name, data]) =>
      `SHA256(${name})= ${createHash("sha256").update(data).digest("hex")}\n`
    ).join(""),
  );
  const files = [
    { name: ovfName, data: ovf },
    { name: `${options.baseName}.mf`, data: manifest },
    { name: diskName, data: disk },
  ];
  return { bytes: ustar(files), members: files.map((f) => f.name) };
}

/** An OVF 1.0 envelope for one VM with 2 vCPUs, 4 GiB, one SCSI disk and one NIC on `nic0`. */
export function ovfDescriptor(name: string, diskFile: string, diskBytes: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
    xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:id="disk1-file" ovf:href="${diskFile}" ovf:size="${diskBytes}"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:diskId="disk1" ovf:fileRef="disk1-file" ovf:capacity="8"
        ovf:capacityAllocationUnits="byte * 2^30"
        ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks</Info>
    <Network ovf:name="nic0"><Description>Node network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="${name}">
    <Info>A Flatcar Container Linux node</Info>
    <Name>${name}</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="other4xLinux64Guest">
      <Info>Guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>${name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-15</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>2 virtual CPUs</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>4096 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>4096</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/disk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>nic0</rasd:Connection>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}
