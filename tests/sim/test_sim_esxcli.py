"""esxcli over the vSphere API in the simulator: raw SOAP envelopes (as the esxcli reference gives them) posted
over verified TLS with the session cookie of a pyVmomi login, through vCenter and to a direct ESXi (-esx)."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pytest
from pyVmomi import vim

from simulator import PropertyWatch, start_simulator

pytestmark = pytest.mark.integration

NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/", "v": "urn:vim25",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass
class Reply:
    """One ExecuteSoap answer: HTTP status, the SOAP fault (if any), and the SoapResult parts."""

    status: int
    soap_fault: ET.Element | None
    response: ET.Element | None  # the parsed `response` text (root <obj>)
    fault_msg: str | None
    fault_detail: ET.Element | None

    def rows(self) -> list[dict[str, str]]:
        assert self.response is not None and self.response.get(XSI_TYPE) == "ArrayOfDataObject"
        return [{c.tag.split("}")[1]: c.text or "" for c in row} for row in self.response]

    def struct(self) -> dict[str, str]:
        assert self.response is not None
        return {c.tag.split("}")[1]: c.text or "" for c in self.response}

    def err_msgs(self) -> list[str]:
        assert self.fault_detail is not None, self
        return [e.text or "" for e in self.fault_detail.iter("{urn:vim25}errMsg")]


class Soap:
    """Posts envelopes to /sdk with the pyVmomi session's cookie (the route of reference §2.4)."""

    def __init__(self, handle, si):
        self.handle, self.si = handle, si
        self.stub = si._stub

    def post(self, body: str) -> tuple[int, ET.Element]:
        env = ('<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">'
               f"<Body>{body}</Body></Envelope>")
        conn = http.client.HTTPSConnection(self.handle.host, self.handle.port, context=self.handle.ssl_context())
        try:
            conn.request("POST", "/sdk", env.encode(), {"Content-Type": "text/xml; charset=utf-8",
                                                        "Cookie": self.stub.cookie,
                                                        "SOAPAction": f'"{self.stub.versionId}"'})
            resp = conn.getresponse()
            return resp.status, ET.fromstring(resp.read())
        finally:
            conn.close()

    def retrieve(self, method: str, host_moid: str) -> tuple[str, str]:
        status, root = self.post(f'<{method} xmlns="urn:vim25"><_this type="HostSystem">{host_moid}</_this></{method}>')
        assert status == 200, ET.tostring(root)
        rv = root.find(f".//v:{method}Response/v:returnval", NS)
        assert rv is not None
        return rv.get("type") or "", rv.text or ""

    def execute(self, mme: str, moid: str, method: str, args: dict[str, str | list[str]] | None = None,
                version: str = "urn:vim25/5.0", mme_type: str = "ReflectManagedMethodExecuter") -> Reply:
        parts = []
        for name, val in (args or {}).items():
            vals = val if isinstance(val, list) else [val]
            inner = "".join(f"<{name}>{escape(v)}</{name}>" for v in vals)
            parts.append(f"<argument><name>{name}</name><val>{escape(inner)}</val></argument>")
        status, root = self.post(
            f'<ExecuteSoap xmlns="urn:vim25"><_this type="{mme_type}">{mme}</_this><moid>{moid}</moid>'
            f"<version>{version}</version><method>{method}</method>{''.join(parts)}</ExecuteSoap>")
        fault = root.find(".//s:Fault", NS)
        if fault is not None:
            return Reply(status, fault, None, None, None)
        rv = root.find(".//v:ExecuteSoapResponse/v:returnval", NS)
        assert rv is not None, ET.tostring(root)
        text = rv.findtext("v:response", None, NS)
        fmsg = rv.findtext("v:fault/v:faultMsg", None, NS)
        fdet = rv.findtext("v:fault/v:faultDetail", None, NS)
        return Reply(status, None, ET.fromstring(text) if text else None, fmsg,
                     ET.fromstring(fdet) if fdet else None)


def cli(soap: Soap, mme: str, command: str, args=None, **kw) -> Reply:
    """Runs `system ssh server config list`-style commands: moid and method from the words (reference §1.2)."""
    words = command.split()
    return soap.execute(mme, "ha-cli-handler-" + "-".join(words[:-1]), "vim.EsxCLI." + ".".join(words), args, **kw)


def hosts_by_name(si) -> dict[str, vim.HostSystem]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    try:
        return {h.name: h for h in view.view}
    finally:
        view.DestroyView()


@pytest.fixture(scope="module")
def vc():
    handle = start_simulator("-no-tpm", "DC0_H0")
    si = handle.connect()
    yield handle, si, Soap(handle, si), hosts_by_name(si)
    handle.stop()


def mme_of(soap: Soap, host) -> str:
    kind, value = soap.retrieve("RetrieveManagedMethodExecuter", host._moId)
    assert kind == "ReflectManagedMethodExecuter"
    return value


# ---------------------------------------------------------------- executer, type manager, discovery


def test_executer_and_type_manager_morefs_are_per_host_as_vcenter_names_them(vc):
    _, _, soap, hosts = vc
    h = hosts["DC0_C0_H0"]
    number = h._moId.removeprefix("host-")
    assert soap.retrieve("RetrieveManagedMethodExecuter", h._moId) == (
        "ReflectManagedMethodExecuter", f"ManagedMethodExecuter-{number}")
    assert soap.retrieve("RetrieveDynamicTypeManager", h._moId) == (
        "InternalDynamicTypeManager", f"DynamicTypeManager-{number}")
    assert mme_of(soap, hosts["DC0_C0_H1"]) != mme_of(soap, h)


def test_search_index_still_works_with_executers_registered(vc):
    _, si, soap, hosts = vc
    for h in hosts.values():
        mme_of(soap, h)
    content = si.RetrieveContent()
    h = hosts["DC0_C0_H1"]
    assert content.searchIndex.FindByUuid(uuid=h.summary.hardware.uuid, vmSearch=False) == h
    assert content.searchIndex.FindByInventoryPath("DC0/host/DC0_C0/DC0_C0_H1") is not None
    assert content.searchIndex.FindByDnsName(dnsName="no-such-host.example", vmSearch=False) is None


def test_query_mo_instances_and_fetch_cli_info(vc):
    _, _, soap, hosts = vc
    h = hosts["DC0_C0_H0"]
    _, dtm = soap.retrieve("RetrieveDynamicTypeManager", h._moId)
    status, root = soap.post(f'<DynamicTypeMgrQueryMoInstances xmlns="urn:vim25"><_this type="InternalDynamicTypeManager">'
                             f"{dtm}</_this></DynamicTypeMgrQueryMoInstances>")
    assert status == 200
    inst = {r.findtext("v:id", None, NS): r.findtext("v:moType", None, NS) for r in root.iter("{urn:vim25}returnval")}
    assert inst["ha-cli-handler-system-ssh-server-config"] == "vim.EsxCLI.system.ssh.server.config"
    assert inst["ha-dynamic-type-manager-local-cli-cliinfo"] == "vim.CLIInfo"
    r = soap.execute(mme_of(soap, h), "ha-dynamic-type-manager-local-cli-cliinfo", "vim.CLIInfo.FetchCLIInfo",
                     {"typeName": "vim.EsxCLI.network.firewall"})
    assert r.response is not None and r.response.get(XSI_TYPE) == "VimCLIInfoInfo"
    methods = {m.findtext("v:name", None, NS): m for m in r.response.findall("v:method", NS)}
    assert set(methods) == {"get", "set"}
    params = {p.findtext("v:name", None, NS): [a.text for a in p.findall("v:aliases", NS)]
              for p in methods["set"].findall("v:param", NS)}
    assert params == {"defaultaction": ["-d", "--default-action"], "enabled": ["-e", "--enabled"]}


# ---------------------------------------------------------------- result shapes and ESXi 8 defaults


def test_ssh_server_config_list_rows_and_defaults(vc):
    _, _, soap, hosts = vc
    r = cli(soap, mme_of(soap, hosts["DC0_C0_H2"]), "system ssh server config list")
    assert r.status == 200 and r.response is not None
    assert r.response.get("versionId") == "5.0"
    assert {row.get(XSI_TYPE) for row in r.response} == {"VimEsxCLIsystemsshserverconfiglistConfig"}
    cfg = {row["Key"]: row["Value"] for row in r.rows()}
    assert cfg["ciphers"] == "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
    assert (cfg["banner"], cfg["ignorerhosts"], cfg["hostbasedauthentication"], cfg["permituserenvironment"],
            cfg["gatewayports"], cfg["permittunnel"], cfg["clientalivecountmax"], cfg["clientaliveinterval"],
            cfg["allowtcpforwarding"], cfg["allowstreamlocalforwarding"]) == (
        "/etc/issue", "yes", "no", "no", "no", "no", "3", "200", "no", "no")
    one = cli(soap, mme_of(soap, hosts["DC0_C0_H2"]), "system ssh server config list", {"keyword": "banner"})
    assert one.rows() == [{"Key": "banner", "Value": "/etc/issue"}]


def test_get_commands_return_one_structure_with_esxi8_defaults(vc):
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H2"])
    expect = {
        "system security fips140 ssh get": ("VimEsxCLIsystemsecurityfips140sshgetOutputType", {"Enabled": "true"}),
        "system security fips140 rhttpproxy get": ("VimEsxCLIsystemsecurityfips140rhttpproxygetOutputType",
                                                   {"Enabled": "true"}),
        "system settings encryption get": ("VimEsxCLIsystemsettingsencryptiongetEncryption", {
            "Mode": "NONE", "RequireExecutablesOnlyFromInstalledVIBs": "false", "RequireSecureBoot": "false"}),
        "system security keypersistence get": ("VimEsxCLIsystemsecuritykeypersistencegetKeyPersistence",
                                               {"Enabled": "false"}),
        "system syslog config logfilter get": ("VimEsxCLIsystemsyslogconfiglogfiltergetLogFilter",
                                               {"LogFilteringEnabled": "false"}),
        "network firewall get": ("VimEsxCLInetworkfirewallgetFirewall",
                                 {"DefaultAction": "DROP", "Enabled": "true", "Loaded": "true"}),
    }
    for command, (kind, fields) in expect.items():
        r = cli(soap, mme, command)
        assert r.response is not None and r.response.get(XSI_TYPE) == kind, command
        assert r.struct() == fields, command
    tls = cli(soap, mme, "system tls server get").struct()
    assert (tls["Profile"], tls["RebootRequired"]) == ("COMPATIBLE", "false")
    syslog = cli(soap, mme, "system syslog config get").struct()
    assert (syslog["LocalLogOutput"], syslog["LocalLogOutputIsPersistent"], syslog["RemoteHost"],
            syslog["EnforceSSLCertificates"]) == ("/scratch/log", "true", "<none>", "true")
    kernel = {r["Name"]: r for r in cli(soap, mme, "system settings kernel list").rows()}
    assert kernel["disableHwrng"] == {"Name": "disableHwrng", "Configured": "FALSE", "Default": "FALSE",
                                      "Runtime": "FALSE", "Type": "Bool", "Description": kernel["disableHwrng"]["Description"]}
    assert kernel["entropySources"]["Configured"] == "0"
    accounts = {r["UserID"]: r["Shellaccess"] for r in cli(soap, mme, "system account list").rows()}
    assert accounts == {"root": "true", "dcui": "true", "vpxuser": "true"}


def test_set_returns_boolean_scalar_and_changes_only_that_host(vc):
    _, _, soap, hosts = vc
    h0, h1 = mme_of(soap, hosts["DC0_C0_H0"]), mme_of(soap, hosts["DC0_C0_H1"])
    r = cli(soap, h0, "system ssh server config set", {"keyword": "clientalivecountmax", "value": "2"})
    assert r.response is not None and (r.response.get(XSI_TYPE), r.response.text) == ("xsd:boolean", "true")
    get = lambda mme: cli(soap, mme, "system ssh server config list", {"keyword": "clientalivecountmax"}).rows()
    assert get(h0) == [{"Key": "clientalivecountmax", "Value": "2"}]
    assert get(h1) == [{"Key": "clientalivecountmax", "Value": "3"}]

    cli(soap, h0, "system security fips140 ssh set", {"enable": "false"})
    cli(soap, h0, "system security keypersistence enable")
    cli(soap, h0, "system account set", {"id": "dcui", "shellaccess": "false"})
    cli(soap, h0, "system syslog config logfilter set", {"logfilteringenabled": "true"})
    assert cli(soap, h0, "system security fips140 ssh get").struct() == {"Enabled": "false"}
    assert cli(soap, h1, "system security fips140 ssh get").struct() == {"Enabled": "true"}
    assert cli(soap, h0, "system security keypersistence get").struct() == {"Enabled": "true"}
    assert cli(soap, h1, "system security keypersistence get").struct() == {"Enabled": "false"}
    shell = lambda mme: {r["UserID"]: r["Shellaccess"] for r in cli(soap, mme, "system account list").rows()}
    assert shell(h0)["dcui"] == "false" and shell(h1)["dcui"] == "true"
    assert cli(soap, h0, "system syslog config logfilter get").struct() == {"LogFilteringEnabled": "true"}
    # the same setting as the advanced option Syslog.global.logFiltersEnable
    opt = hosts["DC0_C0_H0"].configManager.advancedOption.QueryOptions("Syslog.global.logFiltersEnable")
    assert opt[0].value is True
    assert cli(soap, h1, "system syslog config logfilter get").struct() == {"LogFilteringEnabled": "false"}


def test_tls_profile_change_is_pending_until_reboot(vc):
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H1"])
    assert cli(soap, mme, "system tls server set", {"profile": "NIST_2024"}).response is not None
    now = cli(soap, mme, "system tls server get").struct()
    assert (now["Profile"], now["RebootRequired"], now["ProtocolVersions"]) == ("NIST_2024", "true", "tls1.2,tls1.3")
    boot = cli(soap, mme, "system tls server get", {"showcurrentbootprofile": "true"}).struct()
    assert (boot["Profile"], boot["RebootRequired"]) == ("COMPATIBLE", "true")
    bad = cli(soap, mme, "system tls server set", {"profile": "NIST_2024_TLS_13_ONLY"})  # VCF 9 only
    assert bad.fault_msg == "EsxCLI.CLIFault.summary"
    assert bad.err_msgs() == ["Invalid profile 'NIST_2024_TLS_13_ONLY'. Valid profiles are: COMPATIBLE, MANUAL, NIST_2024"]


def test_kernel_setting_change_is_pending_until_reboot(vc):
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H1"])
    cli(soap, mme, "system settings kernel set", {"setting": "entropySources", "value": "3"})
    row = cli(soap, mme, "system settings kernel list", {"option": "entropySources"}).rows()
    assert [(r["Configured"], r["Runtime"]) for r in row] == [("3", "0")]
    bad = cli(soap, mme, "system settings kernel set", {"setting": "disableHwrng", "value": "maybe"})
    assert bad.err_msgs() == ["Invalid value 'maybe' for setting 'disableHwrng' of type Bool"]


def test_firewall_default_action_is_the_firewall_systems_default_policy(vc):
    _, _, soap, hosts = vc
    h = hosts["DC0_C0_H2"]
    mme = mme_of(soap, h)
    with PropertyWatch(vc[1], h, ["config.firewall.defaultPolicy"]) as w:
        cli(soap, mme, "network firewall set", {"defaultaction": "true", "enabled": "false"})
        changes, _ = w.wait(1)
    assert changes and h.config.firewall.defaultPolicy.incomingBlocked is False
    assert cli(soap, mme, "network firewall get").struct() == {"DefaultAction": "PASS", "Enabled": "false",
                                                              "Loaded": "true"}
    h.configManager.firewallSystem.UpdateDefaultPolicy(vim.host.FirewallInfo.DefaultPolicy(incomingBlocked=True))
    assert cli(soap, mme, "network firewall get").struct()["DefaultAction"] == "DROP"
