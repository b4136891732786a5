"""VM extraConfig, hardware upgrade, KMS key providers and VM encryption, DV portgroup reconfigure."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from simulator import PropertyWatch, objects_by_name as objects, start_simulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def si():
    handle = start_simulator()
    yield handle.connect()
    handle.stop()


def extra(vm):
    return {o.key: o.value for o in vm.config.extraConfig}


def power_off(vm):
    if vm.runtime.powerState != "poweredOff":
        WaitForTask(vm.PowerOffVM_Task())


def ov(key, value):
    return vim.option.OptionValue(key=key, value=value)


# ---------------------------------------------------------------- extraConfig

def test_extra_config_updated_in_place_and_removed_by_empty_value(si):
    vm = objects(si, vim.VirtualMachine)["DC0_C0_H0_VM0"]
    before = extra(vm)
    assert before["isolation.tools.copy.disable"] == "TRUE"
    with PropertyWatch(si, vm, ["config.extraConfig"]) as watch:
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=[
            ov("isolation.tools.copy.disable", "FALSE"), ov("tools.setInfo.sizeLimit", ""), ov("vsr.test", "1")])))
        changes, seconds = watch.wait(1)
        assert "config.extraConfig" in changes and seconds < 1.0
    keys = [o.key for o in vm.config.extraConfig]
    assert len(keys) == len(set(keys))  # no duplicates
    after = extra(vm)
    assert after["isolation.tools.copy.disable"] == "FALSE"
    assert "tools.setInfo.sizeLimit" not in after
    assert after["vsr.test"] == "1"
    assert len(keys) == len(before)  # one removed, one added
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=[ov("vsr.test", ""), ov("not.there", "")])))
    assert "vsr.test" not in extra(vm) and "not.there" not in extra(vm)


def test_extra_config_with_other_changes_and_failed_reconfigure(si):
    vm = objects(si, vim.VirtualMachine)["DC0_C0_H1_VM1"]
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(numCPUs=2, extraConfig=[ov("vsr.cpu", "2")])))
    assert vm.config.hardware.numCPU == 2 and extra(vm)["vsr.cpu"] == "2"
    task = vm.ReconfigVM_Task(vim.vm.ConfigSpec(guestId="no-such-guest", extraConfig=[ov("vsr.cpu", "3")]))
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(task)
    assert extra(vm)["vsr.cpu"] == "2"  # nothing applied from a failed reconfigure


# ---------------------------------------------------------------- hardware upgrade

def test_upgrade_vm(si):
    vm = objects(si, vim.VirtualMachine)["DC0_C0_H2_VM0"]
    assert vm.config.version == "vmx-13"
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(vm.UpgradeVM_Task(version="vmx-15"))
    power_off(vm)
    with PropertyWatch(si, vm, ["config.version"]) as watch:
        WaitForTask(vm.UpgradeVM_Task(version="vmx-15"))
        changes, seconds = watch.wait(1)
        assert changes == {"config.version": "vmx-15"} and seconds < 1.0
    with pytest.raises(vim.fault.AlreadyUpgraded):
        WaitForTask(vm.UpgradeVM_Task(version="vmx-14"))
    with pytest.raises(vmodl.fault.NotSupported):
        WaitForTask(vm.UpgradeVM_Task(version="vmx-99"))
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(vm.UpgradeVM_Task(version="hw19"))
    WaitForTask(vm.UpgradeVM_Task())  # newest for API 7.0.3
    assert vm.config.version == "vmx-19"
    with pytest.raises(vim.fault.AlreadyUpgraded):
        WaitForTask(vm.UpgradeVM_Task())


# ---------------------------------------------------------------- key providers and encryption

def kmip(cluster, name="kms-a", address="10.0.0.10"):
    return vim.encryption.KmipServerSpec(clusterId=vim.encryption.KeyProviderId(id=cluster),
                                         info=vim.encryption.KmipServerInfo(name=name, address=address, port=5696))


def test_key_providers_and_vm_encryption(sim_factory):
    si = sim_factory().connect()
    cm = si.RetrieveContent().cryptoManager
    assert isinstance(cm, vim.encryption.CryptoManagerKmip) and si.content.cryptoManager == cm
    assert cm.enabled is False and cm.GetDefaultKmsCluster() is None
    with pytest.raises(vim.fault.InvalidState):
        cm.GenerateKey()
    with PropertyWatch(si, cm, ["kmipServers"]) as watch:
        cm.RegisterKmipServer(server=kmip("kp-1"))
        changes, seconds = watch.wait(1)
        assert [c.clusterId.id for c in changes["kmipServers"]] == ["kp-1"] and seconds < 1.0
    cm.RegisterKmipServer(server=kmip("kp-1", "kms-b", "10.0.0.11"))
    cm.RegisterKmipServer(server=kmip("kp-2"))
    with pytest.raises(vim.fault.AlreadyExists):
        cm.RegisterKmipServer(server=kmip("kp-1"))
    assert cm.enabled is True
    assert [(c.clusterId.id, len(c.servers), c.useAsDefault) for c in cm.ListKmipServers()] == [
        ("kp-1", 2, True), ("kp-2", 1, False)]
    assert cm.GetDefaultKmsCluster().id == "kp-1"
    assert cm.IsKmsClusterActive(cluster=vim.encryption.KeyProviderId(id="kp-2")) is True

    vms = objects(si, vim.VirtualMachine)
    vm = vms["DC0_C0_H0_VM1"]
    cluster = objects(si, vim.ClusterComputeResource)["DC0_C0"]
    cm.SetDefaultKmsCluster(entity=cluster, clusterId=vim.encryption.KeyProviderId(id="kp-2"))
    assert cm.GetDefaultKmsCluster(entity=vm, defaultsToParent=True).id == "kp-2"
    assert cm.GetDefaultKmsCluster(entity=vm, defaultsToParent=False).id == "kp-1"
    with pytest.raises(vim.fault.NotFound):
        cm.MarkDefault(clusterId=vim.encryption.KeyProviderId(id="nope"))
    cm.MarkDefault(clusterId=vim.encryption.KeyProviderId(id="kp-2"))
    assert cm.GetDefaultKmsCluster().id == "kp-2"

    key = cm.GenerateKey(keyProvider=vim.encryption.KeyProviderId(id="kp-1"))
    assert key.success and key.keyId.providerId.id == "kp-1"
    assert key.keyId.keyId in {k.keyId for k in cm.ListKeys()}

    encrypt = vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecEncrypt(cryptoKeyId=key.keyId))
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(vm.ReconfigVM_Task(encrypt))
    assert vm.config.keyId is None
    power_off(vm)
    bogus = vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecEncrypt(cryptoKeyId=vim.encryption.CryptoKeyId(
        keyId="unknown-key", providerId=vim.encryption.KeyProviderId(id="kp-1"))))
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(vm.ReconfigVM_Task(bogus))
    with pytest.raises(vim.fault.InvalidState):
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecDecrypt())))
    with PropertyWatch(si, vm, ["config.keyId"]) as watch:
        WaitForTask(vm.ReconfigVM_Task(encrypt))
        changes, seconds = watch.wait(1)
        assert changes["config.keyId"].keyId == key.keyId.keyId and seconds < 1.0
    assert vm.config.keyId.providerId.id == "kp-1" and vm.runtime.cryptoState == "unlocked"
    disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert disks and all(d.backing.keyId.keyId == key.keyId.keyId for d in disks)
    with pytest.raises(vim.fault.InvalidState):
        WaitForTask(vm.ReconfigVM_Task(encrypt))
    WaitForTask(vm.PowerOnVM_Task())
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecDecrypt())))
    power_off(vm)
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecDecrypt())))
    assert vm.config.keyId is None
    assert all(d.backing.keyId is None for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    # an empty key id asks for a new key from the given provider
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecEncrypt(
        cryptoKeyId=vim.encryption.CryptoKeyId(keyId="", providerId=vim.encryption.KeyProviderId(id="kp-2"))))))
    assert vm.config.keyId.providerId.id == "kp-2" and vm.config.keyId.keyId
    assert vms["DC0_C0_H1_VM0"].config.keyId is None


def test_esx_has_no_key_provider(sim_factory):
    si = sim_factory("-esx").connect()
    assert not isinstance(si.RetrieveContent().cryptoManager, vim.encryption.CryptoManagerKmip)
    vm = objects(si, vim.VirtualMachine)["ha-host_VM0"]
    power_off(vm)
    spec = vim.vm.ConfigSpec(crypto=vim.encryption.CryptoSpecEncrypt(cryptoKeyId=vim.encryption.CryptoKeyId(
        keyId="k", providerId=vim.encryption.KeyProviderId(id="p"))))
    with pytest.raises(vmodl.fault.NotSupported):
        WaitForTask(vm.ReconfigVM_Task(spec))


# ---------------------------------------------------------------- DV portgroup

def test_dvportgroup_partial_reconfigure_merges_and_bumps_config_version(si):
    pg = objects(si, vim.dvs.DistributedVirtualPortgroup)["DC0_DVPG0"]
    cfg = pg.config
    version = cfg.configVersion
    teaming = cfg.defaultPortConfig.uplinkTeamingPolicy.policy.value
    sec = cfg.defaultPortConfig.securityPolicy
    assert (sec.allowPromiscuous.value, sec.macChanges.value, sec.forgedTransmits.value) == (False, False, False)
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        configVersion=version,
        defaultPortConfig=vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(
            securityPolicy=vim.dvs.VmwareDistributedVirtualSwitch.SecurityPolicy(
                forgedTransmits=vim.BoolPolicy(value=True))))
    with PropertyWatch(si, pg, ["config.defaultPortConfig", "config.configVersion"]) as watch:
        WaitForTask(pg.ReconfigureDVPortgroup_Task(spec))
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and set(changes) == {"config.defaultPortConfig", "config.configVersion"}
    cfg = pg.config
    assert cfg.configVersion == str(int(version) + 1)
    assert cfg.name == "DC0_DVPG0" and pg.name == "DC0_DVPG0"
    assert cfg.defaultPortConfig.uplinkTeamingPolicy.policy.value == teaming
    assert cfg.defaultPortConfig.vlan.vlanId == 0
    sec = cfg.defaultPortConfig.securityPolicy
    assert (sec.allowPromiscuous.value, sec.macChanges.value, sec.forgedTransmits.value) == (False, False, True)

    with pytest.raises(vim.fault.ConcurrentAccess):
        WaitForTask(pg.ReconfigureDVPortgroup_Task(spec))  # stale configVersion
    spec.configVersion = None
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(pg.ReconfigureDVPortgroup_Task(spec))
    assert pg.config.configVersion == cfg.configVersion

    rename = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(configVersion=cfg.configVersion, name="DC0_DVPG0-renamed",
                                                            description="vsr")
    WaitForTask(pg.ReconfigureDVPortgroup_Task(rename))
    assert (pg.name, pg.config.name, pg.config.description) == ("DC0_DVPG0-renamed", "DC0_DVPG0-renamed", "vsr")
    assert pg.config.defaultPortConfig.securityPolicy.forgedTransmits.value is True


def test_runtime_boot_time_follows_power_operations(si):
    vm = objects(si, vim.VirtualMachine)["DC0_H0_VM0"]
    assert vm.runtime.powerState == "poweredOn" and vm.runtime.bootTime is not None
    first = vm.runtime.bootTime
    power_off(vm)
    assert vm.runtime.bootTime is None
    with PropertyWatch(si, vm, ["runtime.bootTime"]) as watch:
        WaitForTask(vm.PowerOnVM_Task())
        changes, seconds = watch.wait(1)
        assert changes["runtime.bootTime"] is not None and seconds < 1.0
    assert vm.runtime.bootTime > first
    assert vm.runtime.bootTime == vm.summary.runtime.bootTime


def test_update_and_remove_kmip_servers(sim_factory):
    si = sim_factory("-vm-per-host", "0").connect()
    cm = si.RetrieveContent().cryptoManager
    cm.RegisterKmipServer(server=kmip("kp", "a"))
    cm.RegisterKmipServer(server=kmip("kp", "b"))
    cm.UpdateKmipServer(server=kmip("kp", "a", "10.9.9.9"))
    assert {s.name: s.address for s in cm.ListKmipServers()[0].servers} == {"a": "10.9.9.9", "b": "10.0.0.10"}
    with pytest.raises(vim.fault.NotFound):
        cm.UpdateKmipServer(server=kmip("kp", "zzz"))
    cm.RemoveKmipServer(clusterId=vim.encryption.KeyProviderId(id="kp"), serverName="a")
    with pytest.raises(vim.fault.NotFound):
        cm.RemoveKmipServer(clusterId=vim.encryption.KeyProviderId(id="kp"), serverName="a")
    cm.RemoveKmipServer(clusterId=vim.encryption.KeyProviderId(id="kp"), serverName="b")
    assert cm.ListKmipServers() == [] and cm.enabled is False
    with pytest.raises(vmodl.fault.InvalidArgument):
        cm.RegisterKmipServer(server=kmip("", "x"))


def test_library_config_changes_are_published_and_partial_specs_merge(si):
    vm = objects(si, vim.VirtualMachine)["DC0_C0_H1_VM0"]
    power_off(vm)
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(bootOptions=vim.vm.BootOptions(bootDelay=5000))))
    with PropertyWatch(si, vm, ["config.bootOptions", "config.firmware"]) as watch:
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(
            firmware="efi", bootOptions=vim.vm.BootOptions(efiSecureBootEnabled=True))))
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and changes["config.firmware"] == "efi"
        assert changes["config.bootOptions"].efiSecureBootEnabled is True
    assert vm.config.bootOptions.bootDelay == 5000  # the partial spec kept it
    logging = vm.config.flags.enableLogging
    with PropertyWatch(si, vm, ["config.flags.enableLogging", "config.migrateEncryption"]) as watch:
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(flags=vim.vm.FlagInfo(enableLogging=not logging),
                                                         migrateEncryption="required")))
        changes, seconds = watch.wait(1)
        assert changes == {"config.flags.enableLogging": (not logging), "config.migrateEncryption": "required"}
    assert vm.config.flags.enableLogging is (not logging)
    with pytest.raises(vmodl.fault.InvalidArgument):
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(migrateEncryption="sometimes")))
    assert vm.config.migrateEncryption == "required"
    assert objects(si, vim.VirtualMachine)["DC0_C0_H1_VM1"].config.migrateEncryption == "opportunistic"
