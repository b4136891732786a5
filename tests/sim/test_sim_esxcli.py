"""esxcli over the vSphere API in the simulator: raw SOAP envelopes (as the esxcli reference gives them) posted
over verified TLS with the session cookie of a pyVmomi login, through vCenter and to a direct ESXi (-esx)."""

from __future__ import annotations

import http.client
import time
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
    # DC0_C0_H3 answers every ExecuteSoap with an injected fault; DC0_H0 has no TPM
    handle = start_simulator("-host", "4", "-no-tpm", "DC0_H0", "-fail", "ExecuteSoap@DC0_C0_H3:1.0")
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



def test_query_type_info_declares_parameters_in_order_with_optional_annotations(vc):
    _, _, soap, hosts = vc
    _, dtm = soap.retrieve("RetrieveDynamicTypeManager", hosts["DC0_C0_H0"]._moId)
    status, root = soap.post(
        f'<DynamicTypeMgrQueryTypeInfo xmlns="urn:vim25"><_this type="InternalDynamicTypeManager">{dtm}</_this>'
        '<filterSpec xsi:type="DynamicTypeMgrTypeFilterSpec" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<typeSubstr>vim.EsxCLI.system.settings.encryption</typeSubstr></filterSpec></DynamicTypeMgrQueryTypeInfo>")
    assert status == 200
    rv = root.find(".//v:DynamicTypeMgrQueryTypeInfoResponse/v:returnval", NS)
    assert [m.findtext("v:name", None, NS) for m in rv.findall("v:managedTypeInfo", NS)] == [
        "vim.EsxCLI.system.settings.encryption"]
    mt = rv.find("v:managedTypeInfo", NS)
    set_ = next(m for m in mt.findall("v:method", NS) if m.findtext("v:name", None, NS) == "set")
    params = [(p.findtext("v:name", None, NS), p.findtext("v:type", None, NS),
               [a.findtext("v:name", None, NS) for a in p.findall("v:annotation", NS)])
              for p in set_.findall("v:paramTypeInfo", NS)]
    assert params == [("mode", "string", ["optional"]), ("requireexecinstalledonly", "boolean", ["optional"]),
                      ("requiresecureboot", "boolean", ["optional"])]
    assert set_.findtext("v:returnTypeInfo/v:type", None, NS) == "boolean"
    dt = rv.find("v:dataTypeInfo", NS)
    assert dt.findtext("v:wsdlName", None, NS) == "VimEsxCLIsystemsettingsencryptiongetEncryption"
    assert [p.findtext("v:name", None, NS) for p in dt.findall("v:property", NS)] == [
        "Mode", "RequireExecutablesOnlyFromInstalledVIBs", "RequireSecureBoot"]

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


# ---------------------------------------------------------------- faults


def soap_fault(r: Reply) -> tuple[str, str, str]:
    assert r.soap_fault is not None, r
    detail = r.soap_fault.find("detail")
    assert detail is not None
    f = detail[0]
    return (f.get(XSI_TYPE) or "", r.soap_fault.findtext("faultstring") or "",
            f.findtext("v:invalidProperty", "", NS))


def test_unknown_moid_method_version_and_bad_arguments_are_soap_invalid_argument(vc):
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H2"])
    moid = "ha-cli-handler-system-ssh-server-config"
    cases = {
        "moid": soap.execute(mme, "ha-cli-handler-system-nothing", "vim.EsxCLI.system.nothing.list"),
        "method": soap.execute(mme, moid, "vim.EsxCLI.system.ssh.server.config.remove"),
        "version": soap.execute(mme, moid, "vim.EsxCLI.system.ssh.server.config.list", version="5.0"),
    }
    for prop, r in cases.items():
        assert r.status == 500
        assert soap_fault(r) == ("InvalidArgument", f"A specified parameter was not correct: {prop}", prop)
    method_of_other_ns = soap.execute(mme, moid, "vim.EsxCLI.network.firewall.get")
    assert soap_fault(method_of_other_ns)[2] == "method"
    bad_args = [
        {"keyword": "banner"},                            # required "value" missing
        {"value": "3", "keyword": "clientalivecountmax"},  # out of declared order: keyword is not next
        {"keyword": "x", "value": "y", "bogus": "z"},     # unknown parameter
    ]
    for args in bad_args:
        r = cli(soap, mme, "system ssh server config set", args)
        assert soap_fault(r)[2] == "argument", args
    not_bool = cli(soap, mme, "system security fips140 ssh set", {"enable": "maybe"})
    assert soap_fault(not_bool)[2] == "argument"
    # an unknown executer is the library's ManagedObjectNotFound
    r = cli(soap, "ManagedMethodExecuter-999999", "system account list")
    assert soap_fault(r)[0] == "ManagedObjectNotFound"


def test_command_errors_are_cli_faults_inside_the_soap_result(vc):
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H2"])
    cases = [
        ("system ssh server config set", {"keyword": "permittunnel", "value": "maybe"},
         "Invalid value 'maybe' for keyword 'permittunnel': expected yes or no"),
        ("system ssh server config set", {"keyword": "nosuchkey", "value": "1"}, "Invalid keyword: nosuchkey"),
        ("system ssh server config set", {"keyword": "ciphers", "value": "aes256-ctr,3des-cbc"},
         "Invalid value 'aes256-ctr,3des-cbc' for keyword 'ciphers': unsupported cipher '3des-cbc'"),
        ("system account set", {"id": "nobody", "shellaccess": "false"}, "The user or group named 'nobody' does not exist."),
        ("system account set", {"id": "root", "shellaccess": "false"}, "Shell access of the root user cannot be removed."),
        ("system settings encryption set", {"mode": "AES"}, "Invalid encryption mode 'AES'. Valid modes are: NONE, TPM"),
    ]
    for command, args, msg in cases:
        r = cli(soap, mme, command, args)
        assert r.status == 200 and r.soap_fault is None and r.response is None
        assert r.fault_msg == "EsxCLI.CLIFault.summary"
        assert r.fault_detail is not None and r.fault_detail.get(XSI_TYPE) == "LocalizedMethodFault"
        assert r.fault_detail.find("v:fault", NS).get(XSI_TYPE) == "VimEsxCLICLIFault"
        assert r.err_msgs() == [msg], command
    cfg = {row["Key"]: row["Value"] for row in cli(soap, mme, "system ssh server config list").rows()}
    assert (cfg["permittunnel"], cfg["ciphers"]) == ("no", "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,"
                                                             "aes192-ctr,aes128-ctr")


def test_fail_injection_scoped_to_one_hosts_executer(vc):
    _, _, soap, hosts = vc
    r = cli(soap, mme_of(soap, hosts["DC0_C0_H3"]), "system account list")
    assert soap_fault(r)[0] == "HostCommunication"
    assert cli(soap, mme_of(soap, hosts["DC0_C0_H2"]), "system account list").rows()


# ---------------------------------------------------------------- encryption and runtime.stateEncryption


def test_state_encryption_follows_encryption_settings_and_is_published(vc):
    _, si, soap, hosts = vc
    h = hosts["DC0_C0_H0"]
    mme = mme_of(soap, h)
    se = h.runtime.stateEncryption
    assert (se.protectionMode, se.requireSecureBoot, se.requireExecInstalledOnly) == ("none", False, False)
    policy_without_tpm = cli(soap, mme, "system settings encryption set", {"requiresecureboot": "true"})
    assert policy_without_tpm.err_msgs()[0].startswith("Unable to change the encryption mode and policy.")
    with PropertyWatch(si, h, ["runtime.stateEncryption.protectionMode"]) as field:
        assert field.initial == {"runtime.stateEncryption.protectionMode": "none"}
    with PropertyWatch(si, h, ["runtime.stateEncryption"]) as exact, PropertyWatch(si, h, ["runtime"]) as parent:
        assert exact.initial["runtime.stateEncryption"].protectionMode == "none"
        assert parent.initial["runtime"].stateEncryption.protectionMode == "none"
        r = cli(soap, mme, "system settings encryption set", {"mode": "TPM", "requiresecureboot": "true"})
        assert r.response is not None and r.response.text == "true"
        got, _ = exact.wait(1)
        assert got["runtime.stateEncryption"].protectionMode == "tpm"
        assert got["runtime.stateEncryption"].requireSecureBoot is True
        got, _ = parent.wait(1)
        assert got["runtime"].stateEncryption.protectionMode == "tpm"
    assert cli(soap, mme, "system settings encryption get").struct() == {
        "Mode": "TPM", "RequireExecutablesOnlyFromInstalledVIBs": "false", "RequireSecureBoot": "true"}
    assert h.summary.runtime.stateEncryption.requireSecureBoot is True
    pc = si.content.propertyCollector
    spec = vim.PropertyCollector.FilterSpec(
        objectSet=[vim.PropertyCollector.ObjectSpec(obj=h), vim.PropertyCollector.ObjectSpec(obj=hosts["DC0_C0_H1"])],
        propSet=[vim.PropertyCollector.PropertySpec(type=vim.HostSystem, pathSet=[
            "name", "runtime.stateEncryption.protectionMode", "runtime.stateEncryption"])])
    res = pc.RetrieveContents([spec])
    got = {o.obj._moId: {p.name: p.val for p in o.propSet} for o in res}
    assert got[h._moId]["runtime.stateEncryption.protectionMode"] == "tpm"
    assert got[hosts["DC0_C0_H1"]._moId]["runtime.stateEncryption"].protectionMode == "none"
    assert all(not o.missingSet for o in res)
    undo = cli(soap, mme, "system settings encryption set", {"mode": "NONE"})
    assert undo.err_msgs()[1] == "The encryption mode cannot be changed from TPM to NONE"
    no_tpm = cli(soap, mme_of(soap, hosts["DC0_H0"]), "system settings encryption set", {"mode": "TPM"})
    assert no_tpm.err_msgs() == ["Unable to change the encryption mode and policy. Verify that the current host "
                                 "configuration can satisfy the new requirement.",
                                 "A TPM 2.0 device is required for mode TPM"]
    assert hosts["DC0_H0"].runtime.stateEncryption.protectionMode == "none"


def test_lockdown_host_is_reachable_through_vcenter(vc):
    _, _, soap, hosts = vc
    h = hosts["DC0_C0_H1"]
    h.configManager.hostAccessManager.ChangeLockdownMode("lockdownStrict")
    try:
        mme = mme_of(soap, h)
        cli(soap, mme, "system account set", {"id": "vpxuser", "shellaccess": "false"})
        rows = {r["UserID"]: r["Shellaccess"] for r in cli(soap, mme, "system account list").rows()}
        assert rows["vpxuser"] == "false"
    finally:
        h.configManager.hostAccessManager.ChangeLockdownMode("lockdownDisabled")


# ---------------------------------------------------------------- direct ESXi, -drift, esxcli-level -fail


@pytest.fixture(scope="module")
def esx():
    handle = start_simulator("-esx", "-drift", "-fail", "vim.EsxCLI.system.ssh.server.config.set:1.0:HostNotConnected",
                             "-method-delay", "vim.EsxCLI.system.account.list:300")
    si = handle.connect()
    yield handle, si, Soap(handle, si), hosts_by_name(si)["localhost.localdomain"]
    handle.stop()


def test_direct_esxi_names_and_drift_values(esx):
    _, _, soap, h = esx
    assert soap.retrieve("RetrieveManagedMethodExecuter", "ha-host") == (
        "ReflectManagedMethodExecuter", "ha-managed-method-executer")
    assert soap.retrieve("RetrieveDynamicTypeManager", "ha-host") == (
        "InternalDynamicTypeManager", "ha-dynamic-type-manager")
    mme = "ha-managed-method-executer"
    cfg = {row["Key"]: row["Value"] for row in cli(soap, mme, "system ssh server config list").rows()}
    assert (cfg["permittunnel"], cfg["clientaliveinterval"]) == ("yes", "0")
    assert cfg["ciphers"].endswith(",aes128-cbc")
    assert cli(soap, mme, "system security fips140 ssh get").struct() == {"Enabled": "false"}
    assert cli(soap, mme, "system security keypersistence get").struct() == {"Enabled": "true"}
    assert cli(soap, mme, "network firewall get").struct()["Enabled"] == "false"
    kernel = cli(soap, mme, "system settings kernel list", {"option": "disableHwrng"}).rows()
    assert [(k["Configured"], k["Runtime"]) for k in kernel] == [("TRUE", "TRUE")]
    users = {r["UserID"] for r in cli(soap, mme, "system account list").rows()}
    assert users == {"root", "dcui"}  # no vpxuser on an unmanaged host


def test_fail_rule_on_the_esxcli_method_name(esx):
    _, _, soap, _ = esx
    mme = "ha-managed-method-executer"
    r = cli(soap, mme, "system ssh server config set", {"keyword": "permittunnel", "value": "no"})
    assert soap_fault(r)[0] == "HostNotConnected"
    assert cli(soap, mme, "system ssh server config list", {"keyword": "permittunnel"}).rows() == [
        {"Key": "permittunnel", "Value": "yes"}]


def test_pyvmomi_reflect_namespace_arguments_are_accepted(vc):
    """pyVmomi with the reflect types at vmodl.reflect.version.version1 writes the parameters in urn:reflect."""
    _, _, soap, hosts = vc
    mme = mme_of(soap, hosts["DC0_C0_H2"])
    r = 'xmlns="urn:reflect"'
    status, root = soap.post(
        f'<ExecuteSoap xmlns="urn:vim25"><_this type="ReflectManagedMethodExecuter">{mme}</_this>'
        f'<moid versionId="8.0.3.0" {r}>ha-cli-handler-system-ssh-server-config</moid>'
        f'<version versionId="8.0.3.0" {r}>urn:vim25/8.0.3.0</version>'
        f'<method versionId="8.0.3.0" {r}>vim.EsxCLI.system.ssh.server.config.list</method>'
        f'<argument {r}><name>keyword</name><val>{escape("<keyword>banner</keyword>")}</val></argument></ExecuteSoap>')
    assert status == 200
    text = root.findtext(".//v:ExecuteSoapResponse/v:returnval/v:response", None, NS)
    obj = ET.fromstring(text)
    assert obj.get("versionId") == "8.0.3.0"
    assert [(row.findtext("v:Key", None, NS), row.findtext("v:Value", None, NS)) for row in obj] == [
        ("banner", "/etc/issue")]


def test_restricted_host_answers_reads_and_refuses_writes():
    with start_simulator("-esx", "-restricted") as handle:
        si = handle.connect()
        soap = Soap(handle, si)
        mme = "ha-managed-method-executer"
        assert cli(soap, mme, "system security fips140 ssh get").struct() == {"Enabled": "true"}
        r = cli(soap, mme, "system security fips140 ssh set", {"enable": "false"})
        assert soap_fault(r)[0] == "RestrictedVersion"
        assert cli(soap, mme, "system security fips140 ssh get").struct() == {"Enabled": "true"}


def test_method_delay_on_the_esxcli_method_name(esx):
    _, _, soap, _ = esx
    start = time.monotonic()
    rows = cli(soap, "ha-managed-method-executer", "system account list").rows()
    assert time.monotonic() - start >= 0.3 and rows
