import types

from pyVmomi import vim

from reconciler.events import Event, ObjectRef
from reconciler.events.vcenter import VCenterMirror, build_event, format_message

EVENT = Event("Normal", "DriftRemediated", ObjectRef("VirtualMachine", "vm-7", "web-01", "lab"),
              "isolation.tools.copy.disable: FALSE -> TRUE", path=("advancedSettings", "isolation.tools.copy.disable"))


def test_format_and_build():
    assert format_message(EVENT) == ("[vsr] Normal DriftRemediated advancedSettings.isolation.tools.copy.disable: "
                                     "isolation.tools.copy.disable: FALSE -> TRUE")
    vm = vim.VirtualMachine("vm-7")
    posted = build_event(EVENT, vm, "svc-vsr")
    assert posted.vm.vm is vm and posted.entity.name == "web-01" and posted.userName == "svc-vsr"
    assert posted.createdTime is not None and posted.host is None


class FakeConn:
    username = "svc"

    def __init__(self, fail):
        self.posted = []
        self.fail = fail
        self.content = types.SimpleNamespace(eventManager=types.SimpleNamespace(PostEvent=self._post))

    def _post(self, eventToPost):  # noqa: N803
        self.posted.append(eventToPost)

    def call(self, fn, *a, **k):
        if self.fail:
            raise vim.fault.NoPermission(privilegeId="Global.LogEvent")
        return fn(*a, **k)


def test_mirror_posts_and_never_raises():
    ok = FakeConn(fail=False)
    assert VCenterMirror(ok).post(EVENT, vim.VirtualMachine("vm-7"))
    assert ok.posted[0].message.startswith("[vsr] Normal DriftRemediated")
    bad = VCenterMirror(FakeConn(fail=True))
    assert bad.post(EVENT, vim.VirtualMachine("vm-7")) is False and bad.failures == 1
