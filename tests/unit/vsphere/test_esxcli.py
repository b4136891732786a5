"""The esxcli client on recorded envelopes (reference/esxcli-over-vim.md §1.3): requests exactly as govmomi encodes
them, responses parsed as plain XML, faults turned into one line or `unsupported`."""

from __future__ import annotations

import http.client
from typing import Any
from xml.sax.saxutils import escape

import pytest
from pyVmomi import vim, vmodl

from reconciler.vsphere import esxcli
from reconciler.vsphere.esxcli import Command

SSH = Command("system ssh server config", "list")
SSH_SET = Command("system ssh server config", "set")

RETRIEVE_RESPONSE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<RetrieveManagedMethodExecuterResponse xmlns="urn:vim25">
 <returnval type="ReflectManagedMethodExecuter">ManagedMethodExecuter-21</returnval>
</RetrieveManagedMethodExecuterResponse></soapenv:Body></soapenv:Envelope>"""

OBJ = ('<obj xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
       'xmlns="urn:vim25" versionId="5.0" xsi:type="{type}">{body}</obj>')

SSH_ROWS = OBJ.format(type="ArrayOfDataObject", body=(
    '<DataObject xsi:type="VimEsxCLIsystemsshserverconfiglistConfig"><Key>ciphers</Key>'
    '<Value>aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr</Value></DataObject>'
    '<DataObject xsi:type="VimEsxCLIsystemsshserverconfiglistConfig"><Key>banner</Key><Value>/etc/issue</Value>'
    '</DataObject>'))


def execute_response(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
            f'envelope/"><soapenv:Body><ExecuteSoapResponse xmlns="urn:vim25"><returnval>{inner}</returnval>'
            f'</ExecuteSoapResponse></soapenv:Body></soapenv:Envelope>').encode()


def response(doc: str) -> bytes:
    return execute_response(f"<response>{escape(doc)}</response>")


CLI_FAULT = execute_response(
    "<fault><faultMsg>EsxCLI.CLIFault.summary</faultMsg><faultDetail>" + escape(
        '<obj xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:vim25" versionId="5.0" '
        'xsi:type="LocalizedMethodFault"><fault xsi:type="VimEsxCLICLIFault"><errMsg>Invalid value for '
        'keyword: bogus</errMsg></fault><localizedMessage>EsxCLI.CLIFault.summary</localizedMessage></obj>')
    + "</faultDetail></fault>")

INVALID_METHOD = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>
<faultcode>ServerFaultCode</faultcode><faultstring>A specified parameter was not correct: method</faultstring>
<detail><InvalidArgumentFault xmlns="urn:vim25" xsi:type="InvalidArgument"><invalidProperty>method</invalidProperty>
</InvalidArgumentFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""

NOT_AUTHENTICATED = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>
<faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring>
<detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="Folder">group-d1</object>
<privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault></soapenv:Body>
</soapenv:Envelope>"""


class FakeTransport:
    """Answers with recorded envelopes in order and keeps what was posted."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.posted: list[bytes] = []

    def post(self, body: bytes) -> tuple[int, bytes]:
        self.posted.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def fault(self, body: bytes) -> BaseException:
        return esxcli.StubTransport(None).fault(body)


class Conn:
    """`call` as the real connection does it for these tests: transient faults retried once, auth re-logged."""

    def __init__(self) -> None:
        self.calls = 0
        self.relogins = 0

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            return fn(*args, **kwargs)
        except vim.fault.NotAuthenticated:
            self.relogins += 1
            return fn(*args, **kwargs)
        except http.client.RemoteDisconnected:
            return fn(*args, **kwargs)


class Host:
    def __init__(self, moid: str = "host-21") -> None:
        self._moId = moid


def client(*answers: Any) -> tuple[esxcli.Client, FakeTransport, Conn]:
    transport, conn = FakeTransport(*answers), Conn()
    return esxcli.Client(conn, transport), transport, conn  # type: ignore[arg-type]


def test_command_names_follow_govmomi():
    assert SSH.moid == "ha-cli-handler-system-ssh-server-config"
    assert SSH.method == "vim.EsxCLI.system.ssh.server.config.list"


def test_set_request_is_the_govmomi_encoding():
    body = esxcli.execute_request(esxcli.Ref("ReflectManagedMethodExecuter", "ManagedMethodExecuter-21"), SSH_SET,
                                  {"value": 3, "keyword": "clientalivecountmax"}).decode()
    assert ('<ExecuteSoap xmlns="urn:vim25"><_this type="ReflectManagedMethodExecuter">ManagedMethodExecuter-21'
            '</_this><moid>ha-cli-handler-system-ssh-server-config</moid><version>urn:vim25/5.0</version>'
            '<method>vim.EsxCLI.system.ssh.server.config.set</method>'
            '<argument><name>keyword</name><val>&lt;keyword&gt;clientalivecountmax&lt;/keyword&gt;</val></argument>'
            '<argument><name>value</name><val>&lt;value&gt;3&lt;/value&gt;</val></argument></ExecuteSoap>') in body


def test_arguments_booleans_lists_and_escaping():
    assert esxcli.encode_argument("enable", True) == \
        "<argument><name>enable</name><val>&lt;enable&gt;true&lt;/enable&gt;</val></argument>"
    assert esxcli.encode_argument("ipaddress", ["a", "b<"]) == ("<argument><name>ipaddress</name><val>&lt;ipaddress&gt;"
                                                              "a&lt;/ipaddress&gt;&lt;ipaddress&gt;b&amp;lt;&lt;"
                                                              "/ipaddress&gt;</val></argument>")


def test_list_rows_become_dicts_and_the_executer_is_retrieved_once():
    c, transport, _ = client((200, RETRIEVE_RESPONSE), (200, response(SSH_ROWS)), (200, response(SSH_ROWS)))
    host = Host()
    rows = c.execute(host, SSH)
    assert rows == [{"Key": "ciphers",
                     "Value": "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"},
                    {"Key": "banner", "Value": "/etc/issue"}]
    assert c.execute(host, SSH) == rows
    assert [b"RetrieveManagedMethodExecuter" in p for p in transport.posted] == [True, False, False]
    assert b'<_this type="ReflectManagedMethodExecuter">ManagedMethodExecuter-21</_this>' in transport.posted[1]


def test_struct_scalars_and_repeated_fields():
    struct = OBJ.format(type="VimEsxCLIsystemsettingsencryptiongetEncryption",
                        body="<Mode>TPM</Mode><RequireExecutablesOnlyFromInstalledVIBs>false"
                             "</RequireExecutablesOnlyFromInstalledVIBs><RequireSecureBoot>true</RequireSecureBoot>")
    assert esxcli.parse_response(struct) == {"Mode": "TPM", "RequireExecutablesOnlyFromInstalledVIBs": "false",
                                             "RequireSecureBoot": "true"}
    assert esxcli.parse_response(OBJ.format(type="xsd:boolean", body="true")) is True
    assert esxcli.parse_response(OBJ.format(type="xsd:long", body="42")) == 42
    assert esxcli.parse_response(OBJ.format(type="xsd:string", body="PartnerSupported")) == "PartnerSupported"
    rows = OBJ.format(type="ArrayOfDataObject", body="<DataObject><Name>vm1</Name><Networks>a</Networks>"
                                                     "<Networks>b</Networks></DataObject>")
    assert esxcli.parse_response(rows) == [{"Name": "vm1", "Networks": ["a", "b"]}]


def test_cli_fault_is_one_line_naming_host_and_command():
    c, _, _ = client((200, RETRIEVE_RESPONSE), (200, CLI_FAULT))
    with pytest.raises(esxcli.EsxcliError) as err:
        c.execute(Host(), SSH_SET, {"keyword": "bogus", "value": "x"}, name="esx-01")
    assert str(err.value) == "esx-01: esxcli system ssh server config set: Invalid value for keyword: bogus"
    assert not isinstance(err.value, esxcli.EsxcliUnsupported)


def test_unknown_method_soap_fault_is_unsupported():
    c, _, _ = client((200, RETRIEVE_RESPONSE), (500, INVALID_METHOD))
    with pytest.raises(esxcli.EsxcliUnsupported) as err:
        c.execute(Host(), Command("system tls server", "get"), name="esx-01")
    assert "esx-01: esxcli system tls server get is not offered by this host (InvalidArgument" in str(err.value)


def test_a_host_without_the_executer_is_unsupported():
    not_implemented = INVALID_METHOD.split(b"<detail>")[0] + (
        b'<detail><MethodNotFoundFault xmlns="urn:vim25" xsi:type="MethodNotFound"><receiver type="HostSystem">'
        b'host-21</receiver><method>RetrieveManagedMethodExecuter</method></MethodNotFoundFault></detail>'
        b'</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
    c, _, _ = client((500, not_implemented))
    values = c.run_many(Host(), [SSH, Command("system security fips140 ssh", "get")], name="esx-01")
    assert all(isinstance(v, esxcli.EsxcliUnsupported) for v in values.values()) and len(values) == 2


def test_lost_session_is_raised_typed_so_the_connection_logs_in_again():
    c, transport, conn = client((200, RETRIEVE_RESPONSE), (500, NOT_AUTHENTICATED), (200, response(SSH_ROWS)))
    assert len(c.execute(Host(), SSH)) == 2
    assert conn.relogins == 1 and len(transport.posted) == 3


def test_transport_errors_are_retried_through_the_connection():
    c, _, _ = client((200, RETRIEVE_RESPONSE), http.client.RemoteDisconnected("gone"), (200, response(SSH_ROWS)))
    assert len(c.execute(Host(), SSH)) == 2


def test_run_many_isolates_one_commands_fault():
    ok = OBJ.format(type="VimEsxCLIsystemsecurityfips140sshgetOutputType", body="<Enabled>true</Enabled>")
    c, _, _ = client((200, RETRIEVE_RESPONSE), (200, CLI_FAULT), (200, response(ok)))
    values = c.run_many(Host(), [SSH, Command("system security fips140 ssh", "get")], name="esx-01")
    assert isinstance(values[SSH], esxcli.EsxcliError)
    assert values[Command("system security fips140 ssh", "get")] == {"Enabled": "true"}


def test_field_conversions():
    assert esxcli.boolean("TRUE") is True and esxcli.boolean("false") is False
    assert esxcli.integer(" 3 ") == 3
    with pytest.raises(esxcli.EsxcliError):
        esxcli.boolean("maybe")


def test_unknown_fault_detail_keeps_the_fault_string():
    fault = esxcli.StubTransport(None).fault(INVALID_METHOD.replace(b"InvalidArgument", b"NoSuchThing"))
    assert isinstance(fault, vmodl.RuntimeFault)
