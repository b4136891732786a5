"""iscsi: the pure diff of a software iSCSI adapter's CHAP settings."""

from __future__ import annotations

from types import SimpleNamespace as NS

from reconciler.controllers.contract import Skip
from reconciler.controllers.host_iscsi import adapter_diffs

OFF = NS(chapAuthEnabled=False, chapAuthenticationType="chapProhibited", mutualChapAuthenticationType="chapProhibited",
         chapName="", mutualChapName="")
ON = NS(chapAuthEnabled=True, chapAuthenticationType="chapRequired", mutualChapAuthenticationType="chapRequired",
        chapName="ini", mutualChapName="tgt")
FILES = {("iscsi", "chapSecretFile"): "/c", ("iscsi", "mutualChapSecretFile"): "/m"}


def test_mutual_chap_needs_both_types_required_and_the_secret_files():
    (d,) = adapter_diffs("vmhba65", OFF, {("iscsi", "mutualChap"): True, **FILES})
    assert (d.current, d.desired, d.skip, d.subject) == (False, True, None, "adapter vmhba65")
    (bad,) = adapter_diffs("vmhba65", OFF, {("iscsi", "mutualChap"): True, ("iscsi", "chapSecretFile"): "/c"})
    assert bad.skip is Skip.INVALID and "mutualChapSecretFile" in bad.message
    half = NS(**{**vars(ON), "mutualChapAuthenticationType": "chapPreferred"})
    assert [x.current for x in adapter_diffs("vmhba65", half, {("iscsi", "mutualChap"): True, **FILES})] == [False]


def test_secrets_are_never_compared():
    assert adapter_diffs("vmhba65", ON, {("iscsi", "mutualChap"): True, ("iscsi", "chapName"): "ini", **FILES}) == []
    (d,) = adapter_diffs("vmhba65", ON, {("iscsi", "chapName"): "new", **FILES})
    assert (d.path, d.current, d.desired) == (("iscsi", "chapName"), "ini", "new")
