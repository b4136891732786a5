package main

import (
	"strings"

	"github.com/vmware/govmomi/vim25/xml"
)

// DynamicTypeMgrQueryTypeInfo for the served namespaces: one managed type per namespace, one data type per
// structured result, in the shape of vcsim's captured dumps (simulator/esx/type_info.go upstream).

// resultFields lists each structured result's fields and types, by method; the encoded results must match
// (esxcli_test.go checks it).
var resultFields = map[string][]string{
	"system.ssh.server.config.list":          {"Key string", "Value string"},
	"system.security.fips140.ssh.get":        {"Enabled boolean"},
	"system.security.fips140.rhttpproxy.get": {"Enabled boolean"},
	"system.tls.server.get": {"CipherList string", "CipherSuite string", "Groups string", "Profile string",
		"ProtocolVersions string", "RebootRequired boolean"},
	"system.settings.encryption.get": {"Mode string", "RequireExecutablesOnlyFromInstalledVIBs boolean",
		"RequireSecureBoot boolean"},
	"system.settings.kernel.list": {"Name string", "Configured string", "Default string", "Runtime string",
		"Type string", "Description string"},
	"system.security.keypersistence.get": {"Enabled boolean"},
	"system.syslog.config.get": {"DefaultNetworkRetryTimeout long", "DroppedLogFileRotationSize long",
		"DroppedLogFileRotations long", "EnforceSSLCertificates boolean", "LocalLogOutput string",
		"LocalLogOutputIsConfigured boolean", "LocalLogOutputIsPersistent boolean",
		"LocalLoggingDefaultRotationSize long", "LocalLoggingDefaultRotations long", "LogLevel string",
		"LogToUniqueSubdirectory boolean", "MessageQueueDropMark long", "RemoteHost string",
		"StrictX509Compliance boolean"},
	"system.syslog.config.logfilter.get": {"LogFilteringEnabled boolean"},
	"system.account.list":                {"UserID string", "Description string", "Shellaccess boolean"},
	"network.firewall.get":               {"DefaultAction string", "Enabled boolean", "Loaded boolean"},
}

type dtmAnnotation struct {
	Name string `xml:"name"`
}

type dtmParamTypeInfo struct {
	Annotation []dtmAnnotation `xml:"annotation,omitempty"`
	Name       string          `xml:"name"`
	Version    string          `xml:"version"`
	Type       string          `xml:"type"`
}

type dtmMethodTypeInfo struct {
	Name           string             `xml:"name"`
	WsdlName       string             `xml:"wsdlName"`
	Version        string             `xml:"version"`
	ParamTypeInfo  []dtmParamTypeInfo `xml:"paramTypeInfo,omitempty"`
	ReturnTypeInfo *dtmParamTypeInfo  `xml:"returnTypeInfo,omitempty"`
	Fault          []string           `xml:"fault,omitempty"`
}

type dtmManagedTypeInfo struct {
	Name     string              `xml:"name"`
	WsdlName string              `xml:"wsdlName"`
	Version  string              `xml:"version"`
	Base     []string            `xml:"base"`
	Method   []dtmMethodTypeInfo `xml:"method,omitempty"`
}

type dtmDataTypeInfo struct {
	Name     string             `xml:"name"`
	WsdlName string             `xml:"wsdlName"`
	Version  string             `xml:"version"`
	Base     []string           `xml:"base"`
	Property []dtmParamTypeInfo `xml:"property,omitempty"`
}

type dtmAllTypeInfo struct {
	XMLName         xml.Name             `xml:"returnval"`
	ManagedTypeInfo []dtmManagedTypeInfo `xml:"managedTypeInfo,omitempty"`
	DataTypeInfo    []dtmDataTypeInfo    `xml:"dataTypeInfo,omitempty"`
}

const cliTypeVersion = "vim.version.version5"

func typeInfo(sub string) *dtmAllTypeInfo {
	all := &dtmAllTypeInfo{}
	for _, ns := range cliNamespaces {
		mt := dtmManagedTypeInfo{Name: ns.typeName(), WsdlName: ns.wsdl(), Version: cliTypeVersion,
			Base: []string{"vmodl.ManagedObject"}}
		for _, c := range ns.cmds {
			m := dtmMethodTypeInfo{Name: c.name, WsdlName: ns.wsdl() + c.name, Version: cliTypeVersion,
				Fault: []string{"vim.EsxCLI.CLIFault"}}
			for _, p := range c.params {
				pt := dtmParamTypeInfo{Name: p.name, Version: cliTypeVersion, Type: p.kind}
				if !p.required {
					pt.Annotation = []dtmAnnotation{{"optional"}}
				}
				m.ParamTypeInfo = append(m.ParamTypeInfo, pt)
			}
			ret := c.ret
			if ret != "boolean" && ret != "string" {
				base := strings.TrimSuffix(ret, "[]")
				name := ns.typeName() + "." + c.name + "." + base
				ret = name + strings.TrimPrefix(ret, base)
				dt := dtmDataTypeInfo{Name: name, WsdlName: ns.wsdl() + c.name + base, Version: cliTypeVersion,
					Base: []string{"vmodl.DynamicData"}}
				for _, f := range resultFields[ns.name+"."+c.name] {
					parts := strings.Fields(f)
					dt.Property = append(dt.Property, dtmParamTypeInfo{Name: parts[0], Version: cliTypeVersion,
						Type: parts[1], Annotation: []dtmAnnotation{{"optional"}}})
				}
				if strings.Contains(dt.Name, sub) {
					all.DataTypeInfo = append(all.DataTypeInfo, dt)
				}
			}
			m.ReturnTypeInfo = &dtmParamTypeInfo{Name: "result", Version: cliTypeVersion, Type: ret}
			mt.Method = append(mt.Method, m)
		}
		if strings.Contains(mt.Name, sub) {
			all.ManagedTypeInfo = append(all.ManagedTypeInfo, mt)
		}
	}
	return all
}
