"""pydantic v2 models of the spec kinds (apiVersion `vsr.dev/v1alpha1`). Pure data plus validators.

Strict everywhere: unknown fields are errors and no value is coerced (`"false"` is not a boolean, `1` is not a
string). Python attributes are snake_case, the YAML names (aliases) camelCase. An omitted field is `None`:
unmanaged, never "reset to default".
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from reconciler.hostport import split_host_port
from reconciler.thumbprint import normalize_thumbprint

API_VERSION = "vsr.dev/v1alpha1"
NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class StrictModel(BaseModel):
    """Base of every spec model: strict types, unknown fields forbidden, camelCase names in YAML."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=False,
                              validate_default=False, field_title_generator=lambda name, info: info.alias or to_camel(name),
                              defer_build=True)  # schemas are built at first use: `vsr validate` starts faster


# ---------------------------------------------------------------- markers

class Parameter:
    """Marks a field (`Annotated[T, PARAMETER]`) that parameterises controllers instead of being a setting:
    never claimed, compared, waived or reported as a result (see `reconciler.api.fields`)."""

    def __repr__(self) -> str:
        return "PARAMETER"


PARAMETER = Parameter()


# ---------------------------------------------------------------- scalar types

def _check_glob(value: str) -> str:
    if not value.strip():
        raise ValueError("a pattern must not be empty")
    if value.count("[") != value.count("]"):
        raise ValueError(f"pattern {value!r} has an unbalanced '[' ... ']'")
    return value


Glob = Annotated[str, AfterValidator(_check_glob), Field(description="shell-style glob (*, ?, [abc])")]
GlobList = list[Glob]
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=253)]


def _check_address(value: str) -> str:
    """An IPv4/IPv6 address or network; host bits set in a network are an error with a hint."""
    text = value.strip()
    if "/" in text:
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP network (write a.b.c.d/len or an IPv6 prefix)") from exc
            raise ValueError(f"{value!r} has host bits set; did you mean {str(loose)!r}?") from exc
    else:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network (host names are not allowed)") from None
    if text != value:
        raise ValueError(f"{value!r} has surrounding spaces")
    return value


IPAddressOrNetwork = Annotated[str, AfterValidator(_check_address),
                               Field(description="IPv4/IPv6 address or CIDR network, e.g. 192.168.10.0/24")]


def _allowed_ips_tag(value: Any) -> str | None:
    if value == "all" and isinstance(value, str):
        return "all"
    if isinstance(value, list):
        return "list"
    return None


AllowedIPs = Annotated[
    Union[Annotated[Literal["all"], Tag("all")], Annotated[list[IPAddressOrNetwork], Tag("list")]],
    Discriminator(_allowed_ips_tag, custom_error_type="allowed_ips",
                  custom_error_message='must be "all" or a list of IP addresses / CIDR networks'),
]


def _parse_date(value: Any) -> Any:
    """`expires` accepts a YAML date (2027-03-31) or the same date quoted; a date-time is refused."""
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2027-03-31") from None
    return value


Date = Annotated[dt.date, BeforeValidator(_parse_date)]

# ---------------------------------------------------------------- metadata

class Metadata(StrictModel):
    """`metadata`: the document's name (unique per kind) and free-form labels/annotations."""

    name: Name = Field(description="unique per kind; letters, digits, '.', '-', '_'")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# ---------------------------------------------------------------- VCenter

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


def split_server(server: str) -> tuple[str, int]:
    """`host[:port]` -> (host, port); IPv6 as `[addr]:port` or a bare address. Raises ValueError."""
    text = server
    if "://" in text:
        raise ValueError(f"{server!r}: write host[:port] without a scheme such as https://")
    if "/" in text:
        raise ValueError(f"{server!r}: write host[:port] without a path (vsr adds /sdk itself)")
    host, port = split_host_port(text, 443)
    if ":" not in host and not _HOST.match(host):
        raise ValueError(f"{server!r}: {host!r} is not a valid host name or IPv4 address")
    return host, port


class Credentials(StrictModel):
    """Where the user name and the password come from. Never the password itself."""

    username: str | None = Field(None, min_length=1, description="user name, inline (it is not a secret)")
    username_env: str | None = Field(None, pattern=ENV_PATTERN, description="environment variable holding the user name")
    username_file: str | None = Field(None, min_length=1, description="file holding the user name")
    password_env: str | None = Field(None, pattern=ENV_PATTERN, description="environment variable holding the password")
    password_file: str | None = Field(None, min_length=1, description="file holding the password")

    @model_validator(mode="after")
    def _exactly_one(self) -> Credentials:
        users = [f for f in ("username", "usernameEnv", "usernameFile") if getattr(self, _snake(f)) is not None]
        pwds = [f for f in ("passwordEnv", "passwordFile") if getattr(self, _snake(f)) is not None]
        if len(users) != 1:
            raise ValueError("give exactly one of username, usernameEnv, usernameFile"
                             + (f" (found {', '.join(users)})" if users else ""))
        if len(pwds) != 1:
            raise ValueError("give exactly one of passwordEnv, passwordFile" + (f" (found {', '.join(pwds)})" if pwds else ""))
        return self


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


Thumbprint = Annotated[str, AfterValidator(normalize_thumbprint),
                       Field(json_schema_extra={"pattern": r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$"},
                             description="SHA-256 certificate fingerprint, hex, colons optional")]


class TLS(StrictModel):
    """TLS settings: verification is on unless `verify: false`."""

    verify: bool = Field(True, description="verify the server certificate (default true)")
    ca_file: str | None = Field(None, min_length=1, description="PEM bundle of trusted CAs")
    thumbprint: Thumbprint | None = None


class VCenterSpec(StrictModel):
    """How to reach a vCenter or a standalone ESXi host."""

    server: str = Field(description="host[:port] of the vCenter or ESXi host (port 443 by default)")
    credentials: Credentials
    tls: TLS = Field(default_factory=TLS)
    request_timeout_seconds: int = Field(120, ge=10, le=3600, alias="requestTimeoutSeconds", description=(
        "how long one SOAP request may go without an answer (the first property-watch answer of a large "
        "inventory included)"))
    shard: int | None = Field(default=None, ge=0, description=(
        "pin this vCenter to shard I of `vsr run --shard I/N` (modulo N); omitted: placed by rendezvous hashing "
        "of the document name"))

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        split_server(value)
        return value

    @property
    def host(self) -> str:
        return split_server(self.server)[0]

    @property
    def port(self) -> int:
        return split_server(self.server)[1]


# ---------------------------------------------------------------- selectors

class HostSelector(StrictModel):
    """Hosts to manage: every given list must match (omitted or [] = any); `exclude` removes by host name."""

    datacenters: GlobList | None = None
    clusters: GlobList | None = None
    hosts: GlobList | None = None
    exclude: GlobList | None = None

    def is_empty(self) -> bool:
        """True when no inclusion pattern is given: such a selector matches nothing."""
        return not any(getattr(self, f) for f in INCLUDE_FIELDS[type(self)])


class VMSelector(StrictModel):
    """VMs to manage: every given list must match (omitted or [] = any); templates only with `templates: true`."""

    datacenters: GlobList | None = None
    clusters: GlobList | None = None
    hosts: GlobList | None = None
    folders: GlobList | None = None
    vms: GlobList | None = None
    exclude: GlobList | None = None
    templates: bool = Field(False, description="also select VM templates")

    is_empty = HostSelector.is_empty


class WaiverSelector(StrictModel):
    """Objects a waiver applies to: the host and VM selector fields together."""

    datacenters: GlobList | None = None
    clusters: GlobList | None = None
    hosts: GlobList | None = None
    folders: GlobList | None = None
    vms: GlobList | None = None
    exclude: GlobList | None = None
    templates: bool | None = None

    is_empty = HostSelector.is_empty


class VCenterSelector(StrictModel):
    """What a VCenterSecurityPolicy manages besides the vCenter-wide sections: distributed switches named in
    `switches` and DV portgroups named in `portgroups` (globs; omitted or [] = none), within `datacenters`
    (omitted = any); `exclude` removes switches and portgroups by name. A non-empty `switches` also narrows
    portgroups to those of the matching switches."""

    datacenters: GlobList | None = None
    switches: GlobList | None = None
    portgroups: GlobList | None = None
    exclude: GlobList | None = None

    def is_empty(self) -> bool:
        """Never: the vCenter-wide sections (advancedSettings, keyProvider) need no selector."""
        return False


INCLUDE_FIELDS: dict[type, tuple[str, ...]] = {
    VCenterSelector: ("datacenters", "switches", "portgroups"),
    HostSelector: ("datacenters", "clusters", "hosts"),
    VMSelector: ("datacenters", "clusters", "hosts", "folders", "vms"),
    WaiverSelector: ("datacenters", "clusters", "hosts", "folders", "vms"),
}

# ---------------------------------------------------------------- policy common

Enforcement = Literal["Enforce", "Audit"]


class PolicySpecBase(StrictModel):
    """Fields every policy has."""

    vcenter: Name | None = Field(None, description="name of a VCenter document; required when there are several")
    enforcement: Enforcement = Field("Enforce", description="Enforce: change drifted settings; Audit: report only")
    suspend: bool = Field(False, description="true: skip this policy entirely")
    priority: int = Field(0, description="the higher wins a field claimed by two policies; equal = conflict")


# ---------------------------------------------------------------- HostSecurityPolicy

class ServiceSpec(StrictModel):
    """A host service (e.g. TSM-SSH): whether it runs and its startup policy."""

    running: bool | None = None
    policy: Literal["on", "off", "automatic"] | None = Field(None, description='startup policy; quote "on"/"off"')


class FirewallRulesetSpec(StrictModel):
    """A host firewall ruleset: enabled, and which source addresses may connect."""

    enabled: bool | None = None
    allowed_ips: AllowedIPs | None = Field(None, alias="allowedIPs",
                                           description='"all" or a list of addresses/CIDR networks')


class LockdownSpec(StrictModel):
    """Host lockdown mode and its exception users."""

    mode: Literal["disabled", "normal", "strict"] | None = None
    exception_users: list[Annotated[str, Field(min_length=1)]] | None = None


class NetworkSecuritySpec(StrictModel):
    """Security policy of standard vSwitch port groups (and, when listed, distributed port groups)."""

    allow_promiscuous: bool | None = None
    mac_changes: bool | None = None
    forged_transmits: bool | None = None
    exclude_portgroups: Annotated[GlobList | None, PARAMETER] = Field(None, description="port groups left alone (globs)")
    distributed_portgroups: Annotated[GlobList | None, PARAMETER] = Field(
        None, description="distributed port groups (in the selected datacenters) to manage; omitted/[] = none")


class LocalAccountSpec(StrictModel):
    """A host-local account (HostLocalAccountManager) and its permission on the host's root (AuthorizationManager).
    Only the accounts a policy lists are managed; others are never touched."""

    present: bool = Field(True, description="false: the account must not exist (vsr removes it and its permission)")
    description: str | None = Field(None, description="the account's description (full name)")
    shell_access: bool | None = Field(None, description="shell (SSH, ESXi Shell) access of the account")
    role: Annotated[str, Field(min_length=1, pattern=r"^\S+$")] | None = Field(
        None, description='role on the host\'s root folder (Admin, ReadOnly, NoAccess, a custom role); "none": no permission')
    password_file: Annotated[str | None, PARAMETER] = Field(
        None, min_length=1, description="file holding the password set when vsr creates the account (never read back)")


#: ESXi local account names: POSIX user names (letters, digits, '.', '_', '-'; not starting with '-')
LocalAccountName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")]


VmkList = list[Annotated[str, Field(pattern=r"^vmk[0-9]+$")]]


class VmkServicesSpec(StrictModel):
    """VMkernel NIC services (HostVirtualNicManager): for each service listed, exactly the vmks that carry it.
    Management must not share a vmk with another listed service, nor vMotion with IP storage."""

    management: Annotated[VmkList, Field(min_length=1)] | None = None
    vmotion: VmkList | None = None
    v_sphere_provisioning: VmkList | None = None
    fault_tolerance_logging: VmkList | None = None
    v_sphere_replication: VmkList | None = None
    v_sphere_replication_nfc: VmkList | None = Field(None, alias="vSphereReplicationNFC")
    v_sphere_backup_nfc: VmkList | None = Field(None, alias="vSphereBackupNFC")
    vsan: VmkList | None = None
    vsan_witness: VmkList | None = None
    nvme_tcp: VmkList | None = None
    nvme_rdma: VmkList | None = None

    @model_validator(mode="after")
    def _isolated(self) -> "VmkServicesSpec":
        lists = {info.alias or name: getattr(self, name) for name, info in type(self).model_fields.items()}
        storage = ("vsan", "nvmeTcp", "nvmeRdma")
        pairs = [("management", other) for other in lists if other != "management"]
        pairs += [("vmotion", other) for other in storage]
        for a, b in pairs:
            shared = sorted(set(lists[a] or ()) & set(lists[b] or ()))
            if shared:
                raise ValueError(f"{', '.join(shared)} would carry both {a} and {b}: {a} must have its own vmk")
        return self


class IscsiSpec(StrictModel):
    """CHAP of the host's software iSCSI adapter(s) (HostStorageSystem); hosts without one are left alone."""

    mutual_chap: bool | None = Field(None, description="true: CHAP and mutual (bidirectional) CHAP required")
    chap_name: Annotated[str, Field(min_length=1)] | None = Field(None, description="the initiator's CHAP name")
    mutual_chap_name: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="the name the target answers mutual CHAP with")
    chap_secret_file: Annotated[str | None, PARAMETER] = Field(
        None, min_length=1, description="file holding the CHAP secret (written with every CHAP change, never read back)")
    mutual_chap_secret_file: Annotated[str | None, PARAMETER] = Field(
        None, min_length=1, description="file holding the mutual CHAP secret (written with every CHAP change)")


SshPublicKey = Annotated[str, Field(pattern=(
    r"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/]+={0,2}( [^\r\n]*)?$"))]


class SshAuthorizedKeysSpec(StrictModel):
    """SSH public keys allowed to log in (authorized_keys), compared as a set of keys; plans show fingerprints."""

    root: list[SshPublicKey] | None = Field(None, description='root\'s authorized keys: "TYPE BASE64 [comment]" lines')


HostAdvancedValue = Union[bool, int, float, str]

# ---------------------------------------------------------------- host public-API sections (issue 16)

_NTP_SERVER = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:\-]*[A-Za-z0-9])?$")


def _check_ntp_server(value: str) -> str:
    if not _NTP_SERVER.match(value):
        raise ValueError(f"{value!r} is not a host name or IP address (no scheme, port or spaces)")
    return value


def _unique(values: list[Any]) -> list[Any]:
    seen: set[str] = set()
    for v in values:
        key = str(v).lower()
        if key in seen:
            raise ValueError(f"{v!r} is listed twice")
        seen.add(key)
    return values


NtpServer = Annotated[str, AfterValidator(_check_ntp_server), Field(description="NTP server: host name or IP address")]


class NtpSpec(StrictModel):
    """NTP servers of the host (HostDateTimeSystem); the ntpd service itself is `services.ntpd`."""

    servers: Annotated[list[NtpServer], AfterValidator(_unique)] | None = Field(
        None, description="NTP servers (compared as a set; SCG: at least 4)")


class FirewallDefaultPolicySpec(StrictModel):
    """The host firewall's default action for traffic no enabled ruleset admits (HostFirewallSystem)."""

    incoming_blocked: bool | None = None
    outgoing_blocked: bool | None = None


AcceptanceLevel = Literal["VMwareCertified", "VMwareAccepted", "PartnerSupported", "CommunitySupported"]


class AcceptanceLevelSpec(StrictModel):
    """The host image acceptance level (HostImageConfigManager), ordered VMwareCertified > VMwareAccepted >
    PartnerSupported > CommunitySupported."""

    minimum: AcceptanceLevel | None = Field(None, description="lowest acceptable level; a lower one is raised to it")


class SnmpSpec(StrictModel):
    """The host's SNMP v1/v2c agent (HostSnmpSystem)."""

    enabled: bool | None = None
    communities_file: str | None = Field(
        None, min_length=1, description="file holding the read-only communities, one per line (a secret)")


class ActiveDirectorySpec(StrictModel):
    """Active Directory membership of the host: joined with an account from files, else audit only."""

    domain: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$",
                               description="the domain the host must be joined to")
    join_username_file: Annotated[str | None, PARAMETER] = Field(
        None, min_length=1, description="file holding the domain account that joins hosts (DOMAIN\\user or user@domain)")
    join_password_file: Annotated[str | None, PARAMETER] = Field(
        None, min_length=1, description="file holding that account's password (a secret)")

    @model_validator(mode="after")
    def _both_files(self) -> ActiveDirectorySpec:
        if (self.join_username_file is None) != (self.join_password_file is None):
            raise ValueError("give both joinUsernameFile and joinPasswordFile, or neither (audit only)")
        return self


def _check_issuer(value: str) -> str:
    for part in re.split(r"(?<!\\),", value):
        name, eq, attr = part.partition("=")
        if not eq or not name.strip() or not attr.strip():
            raise ValueError(f"{value!r}: write distinguished-name attributes as NAME=value, e.g. \"O=Example, CN=CA\"")
    return value


class CertificateSpec(StrictModel):
    """The host's TLS certificate (HostCertificateManager; audit only)."""

    allowed_issuers: list[Annotated[str, AfterValidator(_check_issuer)]] | None = Field(
        None, min_length=1, description="issuers allowed: each entry's attributes (\"O=Example, CN=CA\") must all "
                                        "be in the issuer's distinguished name")


class HardwareSpec(StrictModel):
    """Firmware security the host reports in `capability` (audit only: set in the server's firmware)."""

    tpm2: bool | None = Field(None, description="true: a TPM 2.0 is installed and enabled (capability.tpmSupported, "
                                                "tpmVersion 2.x)")
    uefi_secure_boot: bool | None = Field(None, description="true: the host booted with UEFI Secure Boot "
                                                            "(capability.uefiSecureBoot)")
    txt: bool | None = Field(None, description="true: Intel TXT is enabled where the CPU has it (capability.txtEnabled; "
                                               "hosts with a non-Intel CPU are compliant)")


class VgtSpec(StrictModel):
    """Virtual Guest Tagging (VLAN 4095) on standard port groups."""

    allowed: bool | None = Field(None, description="false: no standard port group may use VLAN 4095")
    except_portgroups: Annotated[GlobList | None, PARAMETER] = Field(None, description="port groups allowed VGT (globs)")
    replacement_vlan: Annotated[int | None, PARAMETER] = Field(
        None, ge=0, le=4094, description="VLAN ID written to a VGT port group; omitted: reported, not changed")
# ---- settings read and written with esxcli over the VIM API (reference/esxcli-over-vim.md §3)

YesNo = Literal["yes", "no"]
SSH_CIPHERS = ("aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr",
               "chacha20-poly1305@openssh.com", "aes256-cbc", "aes192-cbc", "aes128-cbc", "3des-cbc")


def _check_ciphers(value: str) -> str:
    names = value.split(",")
    unknown = [n for n in names if n not in SSH_CIPHERS]
    if unknown:
        raise ValueError(f"unknown cipher {unknown[0]!r} (write them comma-separated without spaces, as esxcli does: "
                         f"{', '.join(SSH_CIPHERS[:5])} ...)")
    return value


class SshServerSpec(StrictModel):
    """The host's sshd settings (`esxcli system ssh server config`), keys and values as esxcli writes them."""

    ciphers: Annotated[str, AfterValidator(_check_ciphers)] | None = Field(
        None, description="comma-separated, e.g. aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr")
    banner: Annotated[str, Field(min_length=1)] | None = Field(None, description="banner file, e.g. /etc/issue")
    ignorerhosts: YesNo | None = None
    hostbasedauthentication: YesNo | None = None
    permituserenvironment: YesNo | None = None
    gatewayports: YesNo | None = None
    permittunnel: YesNo | None = None
    allowtcpforwarding: YesNo | None = None
    allowstreamlocalforwarding: YesNo | None = None
    clientalivecountmax: int | None = Field(None, ge=0, le=1000)
    clientaliveinterval: int | None = Field(None, ge=0, le=86400, description="seconds")


class Fips140Spec(StrictModel):
    """FIPS 140 mode of host services (`esxcli system security fips140`)."""

    ssh: bool | None = None
    rhttpproxy: bool | None = None


class TlsSpec(StrictModel):
    """The host's TLS server profile (`esxcli system tls server`); takes effect at the next reboot."""

    profile: Literal["COMPATIBLE", "NIST_2024", "NIST_2024_TLS_13_ONLY", "MANUAL"] | None = None


class HostEncryptionSpec(StrictModel):
    """Configuration encryption of the host (`esxcli system settings encryption`). TPM mode cannot be undone."""

    mode: Literal["TPM", "NONE"] | None = None
    require_secure_boot: bool | None = None
    require_exec_installed_only: bool | None = None


class KernelSpec(StrictModel):
    """Kernel entropy settings (`esxcli system settings kernel`); take effect at the next reboot."""

    disable_hwrng: bool | None = Field(None, alias="disableHwrng")
    entropy_sources: int | None = Field(None, ge=0, le=255, alias="entropySources")


class HostRemediationSpec(StrictModel):
    """How disruptive host changes are handled."""

    reboot: Literal["Never", "Allowed"] = Field(
        "Never", description="Allowed: write changes that take effect at a reboot; with maintenanceMode Allowed, "
                             "`vsr apply` also reboots the host in a rolling window")
    maintenance_mode: Literal["Never", "Allowed"] = Field(
        "Never", alias="maintenanceMode",
        description="Allowed: `vsr apply` may put the host in maintenance mode (rolling window per cluster)")
    max_hosts_in_parallel: int = Field(1, ge=1, alias="maxHostsInParallel",
                                       description="hosts of one cluster in maintenance mode at once")


class HostSecurityPolicySpec(PolicySpecBase):
    """What a HostSecurityPolicy manages on every selected ESXi host."""

    selector: HostSelector = Field(default_factory=HostSelector)
    services: dict[str, ServiceSpec] | None = None
    firewall: dict[str, FirewallRulesetSpec] | None = None
    advanced_settings: dict[str, HostAdvancedValue] | None = Field(
        None, description="advanced option key -> value, typed as written (2, true, \"text\")")
    lockdown: LockdownSpec | None = None
    network_security: NetworkSecuritySpec | None = None
    ntp: NtpSpec | None = None
    firewall_default_policy: FirewallDefaultPolicySpec | None = None
    acceptance_level: AcceptanceLevelSpec | None = None
    snmp: SnmpSpec | None = None
    active_directory: ActiveDirectorySpec | None = None
    certificate: CertificateSpec | None = None
    hardware: HardwareSpec | None = None
    vgt: VgtSpec | None = None
    vmk_services: VmkServicesSpec | None = None
    iscsi: IscsiSpec | None = None
    ssh_authorized_keys: SshAuthorizedKeysSpec | None = None
    local_accounts: dict[LocalAccountName, LocalAccountSpec] | None = Field(
        None, description="host-local accounts by name (only these are managed)")
    ssh_server: SshServerSpec | None = None
    fips140: Fips140Spec | None = None
    tls: TlsSpec | None = None
    encryption: HostEncryptionSpec | None = None
    kernel: KernelSpec | None = None
    key_persistence: bool | None = Field(None, description="esxcli system security keypersistence")
    log_filtering: bool | None = Field(None, description="esxcli system syslog config logfilter")
    shell_access: dict[Annotated[str, Field(min_length=1)], bool] | None = Field(
        None, description="account -> may it use the ESXi shell (esxcli system account), e.g. dcui: false")
    remediation: Annotated[HostRemediationSpec | None, PARAMETER] = None


# ---------------------------------------------------------------- VMSecurityPolicy

Absent = Literal["absent"]


class DevicesSpec(StrictModel):
    """Virtual devices that must be absent (or, for cdrom, disconnected)."""

    floppy: Absent | None = None
    serial: Absent | None = None
    parallel: Absent | None = None
    usb: Absent | None = None
    cdrom: Literal["absent", "disconnected"] | None = None
    sound: Absent | None = Field(None, description="sound cards: HD Audio, Ensoniq 1371, Sound Blaster 16")
    pci_passthrough: Absent | None = Field(None, description="PCI passthrough devices (VirtualPCIPassthrough)")
    sata: Absent | None = Field(None, description="SATA (AHCI) controllers; the devices on them must go too")
    nonpersistent_disks: Absent | None = Field(
        None, description="no disk in independent_nonpersistent mode (changed to persistent)")
    nonpersistent_allowed: Annotated[GlobList | None, PARAMETER] = Field(
        None, description='disk labels (globs, e.g. "Hard disk 2") that may stay independent_nonpersistent')


class EncryptionSpec(StrictModel):
    """VM encryption requirement."""

    required: bool
    key_provider: Annotated[str | None, PARAMETER] = Field(None, min_length=1)


class VMAdvancedCondition(StrictModel):
    """An extraConfig setting stated as a condition: `{absent: true}` (the key must not exist; a key with
    wildcards, `ethernet*.filter*.name`, covers every key it matches) or `{value: V, undefinedIsCompliant: true}`
    (V, or no key at all: SCG's "TRUE or Undefined"; remediation writes V)."""

    absent: Literal[True] | None = Field(None, description="true: the key (or every key the pattern matches) must not exist")
    value: Union[bool, int, str] | None = Field(None, description="the value to require (written as vSphere stores it)")
    undefined_is_compliant: bool = Field(False, description="true: a VM without the key is compliant too")

    @model_validator(mode="after")
    def _one_condition(self) -> VMAdvancedCondition:
        if (self.absent is None) == (self.value is None):
            raise ValueError('write either {absent: true} or {value: ..., undefinedIsCompliant: true}')
        if self.absent and self.undefined_is_compliant:
            raise ValueError("undefinedIsCompliant goes with value: an absent key is always compliant with absent")
        return self


def _vm_advanced_tag(value: Any) -> str | None:
    if isinstance(value, (dict, VMAdvancedCondition)):  # a mapping when validating, the model when serialising
        return "condition"
    if isinstance(value, (bool, int, str)):
        return "value"
    return None


VMAdvancedValue = Annotated[
    Union[Annotated[Union[bool, int, str], Tag("value")], Annotated[VMAdvancedCondition, Tag("condition")]],
    Discriminator(_vm_advanced_tag, custom_error_type="vm_advanced_value",
                  custom_error_message='must be a value ("TRUE", 1) or a condition ({absent: true}, '
                                       '{value: "TRUE", undefinedIsCompliant: true})'),
]


class GuestToolsSpec(StrictModel):
    """VMware Tools settings in the guest's tools.conf, read and written through the Guest Operations API with the
    guest account named by `credentials` (files or environment only)."""

    credentials: Annotated[Credentials | None, PARAMETER] = Field(
        None, description="guest account: username | usernameEnv | usernameFile, and passwordEnv | passwordFile")
    enforcement: Annotated[Enforcement, PARAMETER] = Field(
        "Audit", description="guest settings are only reported unless this (and the policy) says Enforce")
    accept_losing_access: Annotated[bool, PARAMETER] = Field(
        False, description="allow guestOperationsDisabled: true, which ends vsr's own access to the guest")
    allow_add_feature: bool | None = Field(None, description="[autoupgrade] allow-add-feature")
    allow_remove_feature: bool | None = Field(None, description="[autoupgrade] allow-remove-feature")
    allow_upgrade: bool | None = Field(None, description="[autoupgrade] allow-upgrade")
    allow_msi_transforms: bool | None = Field(None, description="[autoupgrade] allow-msi-transforms")
    appinfo_disabled: bool | None = Field(None, description="[appinfo] disabled")
    containerinfo_poll_interval: int | None = Field(None, ge=0, description="[containerinfo] poll-interval (s; 0 = off)")
    guest_operations_disabled: bool | None = Field(None, description="[guestoperations] disabled")
    guest_store_upgrade_policy: Literal["off", "manual", "powercycle"] | None = Field(
        None, description='[gueststoreupgrade] policy; quote "off"')
    service_discovery_disabled: bool | None = Field(None, description="[servicediscovery] disabled")
    logging: bool | None = Field(None, description="[logging] log")
    log_handler: Literal["syslog", "file", "file+", "vmx", "std"] | None = Field(
        None, description="[logging] vmtoolsd/vmsvc/toolboxcmd/vgauthsvc.handler (syslog: syslog or the Windows event log)")
    global_conf_enabled: bool | None = Field(None, description="[globalconf] enabled")
    customization_enabled: bool | None = Field(None, description="[deployPkg] enable-customization")


class VMSecurityPolicySpec(PolicySpecBase):
    """What a VMSecurityPolicy manages on every selected VM."""

    selector: VMSelector = Field(default_factory=VMSelector)
    advanced_settings: dict[str, VMAdvancedValue] | None = Field(None, description="extraConfig key -> value")
    secure_boot: bool | None = None
    allow_firmware_change: Annotated[bool, PARAMETER] = Field(False, description="allow switching BIOS to EFI to enable secure boot")
    min_hardware_version: int | None = Field(None, ge=4, le=21, description="lowest virtual hardware version (4..21)")
    devices: DevicesSpec | None = None
    encryption: EncryptionSpec | None = None
    enable_logging: bool | None = Field(None, description="config.flags.enableLogging: the VM writes vmware.log")
    migrate_encryption: Literal["disabled", "opportunistic", "required"] | None = Field(
        None, description="encrypted vMotion mode (config.migrateEncryption)")
    ft_encryption_mode: Literal["ftEncryptionDisabled", "ftEncryptionOpportunistic", "ftEncryptionRequired"] | None = \
        Field(None, description="encryption of Fault Tolerance logging traffic (config.ftEncryptionMode, vSphere 7.0.2+)")
    vtpm: Literal["required", "absent"] | None = Field(
        None, description="virtual TPM: required (needs EFI firmware and a key provider) or absent")
    guest_tools: GuestToolsSpec | None = None
    power_cycle: Annotated[Literal["Never", "IfPoweredOff", "Allowed"], PARAMETER] = Field(
        "IfPoweredOff", description="how changes that need the VM powered off are handled")


# ---------------------------------------------------------------- VCenterSecurityPolicy

LinkDiscoveryOperation = Literal["none", "listen", "advertise", "both"]


def _check_vlan_range(value: str) -> str:
    low, sep, high = value.partition("-")
    try:
        start, end = int(low), int(high if sep else low)
    except ValueError:
        raise ValueError(f"{value!r} is not a VLAN range; write START-END, e.g. 100-200, or one VLAN ID") from None
    if not 0 <= start <= end <= 4094:
        raise ValueError(f"{value!r}: VLAN IDs are 0..4094 and START <= END")
    return value


VlanRange = Annotated[str, AfterValidator(_check_vlan_range), Field(description="VLAN ID or range START-END (0..4094)")]


class DistributedSwitchSpec(StrictModel):
    """Settings of the selected distributed switches (ReconfigureDvs_Task)."""

    link_discovery_operation: LinkDiscoveryOperation | None = Field(
        None, description="CDP/LLDP operation: none unless used intentionally")
    mirror_sessions: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="port mirroring sessions allowed (by name); any other session is removed; [] = none")
    ipfix_collectors: list[IPAddressOrNetwork] | None = Field(
        None, description="NetFlow/IPFIX collectors allowed; a switch exporting elsewhere stops exporting; [] = none")


class DistributedPortgroupSpec(StrictModel):
    """Settings of the selected DV portgroups (ReconfigureDVPortgroup_Task); the security policy itself
    (promiscuous, MAC changes, forged transmits) stays with HostSecurityPolicy `networkSecurity`."""

    mac_learning: bool | None = Field(None, description="MAC learning (macManagementPolicy.macLearningPolicy.enabled)")
    port_config_reset_at_disconnect: bool | None = None
    block_override_allowed: bool | None = None
    shaping_override_allowed: bool | None = None
    vendor_config_override_allowed: bool | None = None
    live_port_moving_allowed: bool | None = None
    network_resource_pool_override_allowed: bool | None = None
    traffic_filter_override_allowed: bool | None = None
    vlan_override_allowed: bool | None = None
    uplink_teaming_override_allowed: bool | None = None
    security_policy_override_allowed: bool | None = None
    ipfix_override_allowed: bool | None = None
    mac_management_override_allowed: bool | None = None
    ipfix_enabled: bool | None = Field(None, description="NetFlow/IPFIX monitoring of the portgroup's ports")
    vlan_trunk_ranges: list[VlanRange] | None = Field(
        None, description="VLAN trunk ranges allowed (VGT); a trunk beyond them is narrowed to them; [] = no trunk")


class KeyProviderSpec(StrictModel):
    """The key provider (KMIP or Native) VM encryption needs: registered in vCenter and the default."""

    required: bool | None = Field(None, description="true: a default key provider must exist")
    default: str | None = Field(None, min_length=1, description="the key provider (cluster ID) that must be the default")


VCenterAdvancedValue = Union[bool, int, str]


class VCenterSecurityPolicySpec(PolicySpecBase):
    """What a VCenterSecurityPolicy manages: vCenter advanced settings, key providers, distributed switches and
    DV portgroups."""

    selector: VCenterSelector = Field(default_factory=VCenterSelector)
    advanced_settings: dict[str, VCenterAdvancedValue] | None = Field(
        None, description="vCenter advanced setting key -> value, e.g. VirtualCenter.VimPasswordExpirationInDays: 30")
    key_provider: KeyProviderSpec | None = None
    distributed_switch: DistributedSwitchSpec | None = None
    distributed_portgroup: DistributedPortgroupSpec | None = None


# ---------------------------------------------------------------- Waiver

class WaiverSpec(StrictModel):
    """An accepted exception: these fields are not enforced on the selected objects until `expires`."""

    vcenter: Name | None = None
    selector: WaiverSelector = Field(default_factory=WaiverSelector)
    fields: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description='field paths below spec, globs allowed, e.g. "services.TSM-SSH.*"')
    policies: list[Name] | None = Field(None, description="policy names it applies to (default: all)")
    reason: Annotated[str, Field(min_length=1, pattern=r"\S")]
    owner: Annotated[str, Field(min_length=1, pattern=r"\S")]
    expires: Date = Field(description="last day the waiver applies (YYYY-MM-DD)")


# ---------------------------------------------------------------- Attestation

EVIDENCE_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$"


class AttestationSpec(StrictModel):
    """A person's statement that manual or process controls are met on the selected objects until `expires`."""

    vcenter: Name | None = None
    selector: WaiverSelector = Field(default_factory=WaiverSelector)
    controls: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description='control IDs from the catalog (docs/controls.md), e.g. "esx-9.hardware-tpm" or '
                                  '"VCFE-9X-000091"')
    statement: Annotated[str, Field(min_length=1, pattern=r"\S")] = Field(description="what is attested, and how")
    evidence: Annotated[str, Field(pattern=EVIDENCE_PATTERN)] = Field(
        description="a link to the evidence (ticket, document, audit record): scheme://...")
    owner: Annotated[str, Field(min_length=1, pattern=r"\S")]
    expires: Date = Field(description="last day the attestation counts (YYYY-MM-DD)")


# ---------------------------------------------------------------- documents

class _Document(StrictModel):
    api_version: Literal["vsr.dev/v1alpha1"] = Field(alias="apiVersion")
    metadata: Metadata


class VCenter(_Document):
    """A vCenter (or standalone ESXi host) connection. Holds no secrets."""

    kind: Literal["VCenter"]
    spec: VCenterSpec


class HostSecurityPolicy(_Document):
    """Security settings of ESXi hosts."""

    kind: Literal["HostSecurityPolicy"]
    spec: HostSecurityPolicySpec


class VMSecurityPolicy(_Document):
    """Security settings of virtual machines."""

    kind: Literal["VMSecurityPolicy"]
    spec: VMSecurityPolicySpec


class VCenterSecurityPolicy(_Document):
    """vCenter-level security: advanced settings, key providers, distributed switches and portgroups."""

    kind: Literal["VCenterSecurityPolicy"]
    spec: VCenterSecurityPolicySpec


class Waiver(_Document):
    """A time-limited exception from policies."""

    kind: Literal["Waiver"]
    spec: WaiverSpec

    def is_active(self, today: dt.date | None = None) -> bool:
        """True until the end of the `expires` day."""
        return (today or dt.date.today()) <= self.spec.expires


class Attestation(_Document):
    """A person's statement, with evidence and an expiry, that manual or process controls are met."""

    kind: Literal["Attestation"]
    spec: AttestationSpec

    def is_active(self, today: dt.date | None = None) -> bool:
        """True until the end of the `expires` day."""
        return (today or dt.date.today()) <= self.spec.expires


SpecModel = Union[VCenter, HostSecurityPolicy, VMSecurityPolicy, VCenterSecurityPolicy, Waiver, Attestation]
KINDS: dict[str, type[_Document]] = {
    "VCenter": VCenter,
    "HostSecurityPolicy": HostSecurityPolicy,
    "VMSecurityPolicy": VMSecurityPolicy,
    "VCenterSecurityPolicy": VCenterSecurityPolicy,
    "Waiver": Waiver,
    "Attestation": Attestation,
}
POLICY_KINDS = ("HostSecurityPolicy", "VMSecurityPolicy", "VCenterSecurityPolicy")
