// Package ovf reads and writes the parts of the OVF 1.0 appliance format
// labctl and its VirtualBox stand-ins need: the descriptor (a VirtualBox-style
// subset), the OVA tar that carries it, and the manifest (.mf) of digests.
// It knows nothing of VirtualBox itself.
package ovf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Descriptor is one appliance with one virtual system.
type Descriptor struct {
	Name        string // ovf:id of the virtual system (and vbox:Machine name)
	OSType      string // VirtualBox OS type id, e.g. "RedHat_64", "Oracle9_arm64"
	Arch        string // "x86" or "ARM" (vbox:Machine Platform); "" = x86
	CPUs        int
	MemoryMB    int
	NICs        []NIC
	Disks       []Disk
	License     string // a EULA the importer must accept; "" = none
	Description string
	VBoxMachine bool // written by VirtualBox (has a vbox:Machine section)
}

// NIC is one network adapter.
type NIC struct {
	Mode string // "NAT", "Bridged", ...
	MAC  string // 12 hex digits; "" = none recorded (exported with nomacs)
}

// Disk is one hard disk image of the appliance.
type Disk struct {
	ID       string // "vmdisk1"
	Href     string // file name in the package
	Format   string // format URI
	Capacity int64  // bytes
}

// FormatStreamVMDK is the disk format VirtualBox exports.
const FormatStreamVMDK = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}

// Marshal writes the descriptor as VirtualBox lays an OVF 1.0 file out
// (only the elements this package reads back).
func (d *Descriptor) Marshal() []byte {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("<?xml version=\"1.0\"?>\n")
	w("<Envelope ovf:version=\"1.0\" xml:lang=\"en-US\" xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\" xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\">\n")
	w("  <References>\n")
	for i, dk := range d.Disks {
		w("    <File ovf:id=\"file%d\" ovf:href=\"%s\"/>\n", i+1, esc(dk.Href))
	}
	w("  </References>\n  <DiskSection>\n    <Info>List of the virtual disks used in the package</Info>\n")
	for i, dk := range d.Disks {
		w("    <Disk ovf:capacity=\"%d\" ovf:diskId=\"%s\" ovf:fileRef=\"file%d\" ovf:format=\"%s\"/>\n", dk.Capacity, esc(dk.ID), i+1, esc(dk.Format))
	}
	w("  </DiskSection>\n  <NetworkSection>\n    <Info>Logical networks used in the package</Info>\n")
	w("    <Network ovf:name=\"NAT\">\n      <Description>Logical network used by this appliance.</Description>\n    </Network>\n  </NetworkSection>\n")
	w("  <VirtualSystem ovf:id=\"%s\">\n    <Info>A virtual machine</Info>\n", esc(d.Name))
	if d.License != "" {
		w("    <EulaSection>\n      <Info>License agreement for the virtual system</Info>\n      <License>%s</License>\n    </EulaSection>\n", esc(d.License))
	}
	if d.Description != "" {
		w("    <AnnotationSection>\n      <Info>A human-readable annotation</Info>\n      <Annotation>%s</Annotation>\n    </AnnotationSection>\n", esc(d.Description))
	}
	w("    <OperatingSystemSection ovf:id=\"%d\">\n      <Info>The kind of installed guest operating system</Info>\n      <Description>%s</Description>\n      <vbox:OSType ovf:required=\"false\">%s</vbox:OSType>\n    </OperatingSystemSection>\n", cimOS(d.OSType), esc(d.OSType), esc(d.OSType))
	w("    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements for a virtual machine</Info>\n")
	w("      <System>\n        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n        <vssd:InstanceID>0</vssd:InstanceID>\n        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>\n        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>\n      </System>\n", esc(d.Name))
	id := 1
	item := func(typ int, name, extra string) {
		w("      <Item>\n        <rasd:ElementName>%s</rasd:ElementName>\n        <rasd:InstanceID>%d</rasd:InstanceID>\n        <rasd:ResourceType>%d</rasd:ResourceType>\n%s      </Item>\n", esc(name), id, typ, extra)
		id++
	}
	item(3, fmt.Sprintf("%d virtual CPU", d.CPUs), fmt.Sprintf("        <rasd:VirtualQuantity>%d</rasd:VirtualQuantity>\n", d.CPUs))
	item(4, fmt.Sprintf("%d MB of memory", d.MemoryMB), fmt.Sprintf("        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>\n        <rasd:VirtualQuantity>%d</rasd:VirtualQuantity>\n", d.MemoryMB))
	sata := id
	item(20, "sataController0", "        <rasd:ResourceSubType>AHCI</rasd:ResourceSubType>\n")
	for i, dk := range d.Disks {
		item(17, fmt.Sprintf("disk%d", i+1), fmt.Sprintf("        <rasd:AddressOnParent>%d</rasd:AddressOnParent>\n        <rasd:HostResource>/disk/%s</rasd:HostResource>\n        <rasd:Parent>%d</rasd:Parent>\n", i, esc(dk.ID), sata))
	}
	for i, n := range d.NICs {
		item(10, fmt.Sprintf("Ethernet adapter on '%s'", n.Mode), fmt.Sprintf("        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n        <rasd:Caption>Ethernet adapter on '%s'</rasd:Caption>\n        <rasd:Connection>%s</rasd:Connection>\n        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>\n        <rasd:AddressOnParent>%d</rasd:AddressOnParent>\n", esc(n.Mode), esc(n.Mode), i))
	}
	w("    </VirtualHardwareSection>\n")
	if d.VBoxMachine {
		w("    <vbox:Machine ovf:required=\"false\" version=\"1.19-linux\" name=\"%s\" OSType=\"%s\">\n      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>\n      <Hardware>\n", esc(d.Name), esc(d.OSType))
		if d.Arch != "" && d.Arch != "x86" {
			w("        <Platform architecture=\"%s\"/>\n", esc(d.Arch))
		}
		w("        <CPU count=\"%d\"/>\n        <Memory RAMSize=\"%d\"/>\n        <Network>\n", d.CPUs, d.MemoryMB)
		for i, n := range d.NICs {
			mac := ""
			if n.MAC != "" {
				mac = fmt.Sprintf(" MACAddress=\"%s\"", esc(n.MAC))
			}
			w("          <Adapter slot=\"%d\" enabled=\"true\"%s type=\"82540EM\">\n            <%s/>\n          </Adapter>\n", i, mac, esc(n.Mode))
		}
		w("        </Network>\n      </Hardware>\n    </vbox:Machine>\n")
	}
	w("  </VirtualSystem>\n</Envelope>\n")
	return []byte(b.String())
}

// cimOS is the CIM OS id VirtualBox writes for a type id (only the ones
// labctl meets; 102 = "Other 64-bit").
func cimOS(t string) int {
	switch {
	case strings.HasPrefix(t, "RedHat"), strings.HasPrefix(t, "Oracle"):
		return 80
	case strings.HasPrefix(t, "Debian"):
		return 96
	case strings.HasPrefix(t, "Ubuntu"):
		return 94
	}
	return 102
}

type xEnvelope struct {
	References []struct {
		ID   string `xml:"id,attr"`
		Href string `xml:"href,attr"`
	} `xml:"References>File"`
	Disks []struct {
		Capacity string `xml:"capacity,attr"`
		DiskID   string `xml:"diskId,attr"`
		FileRef  string `xml:"fileRef,attr"`
		Format   string `xml:"format,attr"`
	} `xml:"DiskSection>Disk"`
	Systems []xSystem `xml:"VirtualSystem"`
}

type xSystem struct {
	ID         string `xml:"id,attr"`
	License    string `xml:"EulaSection>License"`
	Annotation string `xml:"AnnotationSection>Annotation"`
	OS         struct {
		ID          string `xml:"id,attr"`
		Description string `xml:"Description"`
		OSType      string `xml:"OSType"`
	} `xml:"OperatingSystemSection"`
	Items []struct {
		ResourceType    int    `xml:"ResourceType"`
		VirtualQuantity int    `xml:"VirtualQuantity"`
		Connection      string `xml:"Connection"`
	} `xml:"VirtualHardwareSection>Item"`
	Machine *struct {
		Name     string `xml:"name,attr"`
		OSType   string `xml:"OSType,attr"`
		Platform struct {
			Arch string `xml:"architecture,attr"`
		} `xml:"Hardware>Platform"`
		Adapters []struct {
			MAC string `xml:"MACAddress,attr"`
		} `xml:"Hardware>Network>Adapter"`
	} `xml:"Machine"`
}

// Unmarshal reads a descriptor; an appliance with several virtual systems
// gives the first (labctl imports one base VM). Systems counts them.
func Unmarshal(data []byte) (d *Descriptor, systems int, err error) {
	var e xEnvelope
	if err := xml.Unmarshal(data, &e); err != nil {
		return nil, 0, err
	}
	if len(e.Systems) == 0 {
		return nil, 0, fmt.Errorf("no VirtualSystem element")
	}
	s := e.Systems[0]
	d = &Descriptor{Name: s.ID, OSType: s.OS.OSType, License: strings.TrimSpace(s.License), Description: s.Annotation}
	if d.OSType == "" {
		d.OSType = s.OS.Description
	}
	for _, it := range s.Items {
		switch it.ResourceType {
		case 3:
			d.CPUs = it.VirtualQuantity
		case 4:
			d.MemoryMB = it.VirtualQuantity
		case 10:
			d.NICs = append(d.NICs, NIC{Mode: it.Connection})
		}
	}
	if m := s.Machine; m != nil {
		d.VBoxMachine = true
		if m.Name != "" {
			d.Name = m.Name
		}
		if m.OSType != "" {
			d.OSType = m.OSType
		}
		d.Arch = m.Platform.Arch
		for i, a := range m.Adapters {
			if i < len(d.NICs) {
				d.NICs[i].MAC = a.MAC
			}
		}
	}
	files := map[string]string{}
	for _, f := range e.References {
		files[f.ID] = f.Href
	}
	for _, dk := range e.Disks {
		c, _ := strconv.ParseInt(dk.Capacity, 10, 64)
		d.Disks = append(d.Disks, Disk{ID: dk.DiskID, Href: files[dk.FileRef], Format: dk.Format, Capacity: c})
	}
	return d, len(e.Systems), nil
}
