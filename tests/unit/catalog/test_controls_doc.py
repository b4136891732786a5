"""docs/controls.md is generated from the catalog and the baselines; this fails when it is stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_controls_doc", ROOT / "scripts" / "gen_controls_doc.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_controls_doc_is_current():
    generator = load_generator()
    expected = generator.render()
    current = (ROOT / "docs" / "controls.md").read_text(encoding="utf-8")
    assert current == expected, "docs/controls.md is stale: run python scripts/gen_controls_doc.py"
    assert generator.main(["--check"]) == 0


def test_controls_doc_lists_every_control_and_why_unmanaged_ones_are():
    from reconciler import catalog

    text = (ROOT / "docs" / "controls.md").read_text(encoding="utf-8")
    for control in catalog.controls():
        assert f"| `{control.id}` |" in text, control.id
    assert "esxcli-only" in text and "vCenter-level" in text
    assert "guestTools.allowAddFeature" in text  # the guest rows are managed (issue 17)


def test_controls_doc_has_the_scg9_section_with_framework_ids_and_links():
    from reconciler import catalog

    text = (ROOT / "docs" / "controls.md").read_text(encoding="utf-8")
    scg9 = text[text.index("## VCF 9.1 Security Configuration Guide (SCG 9)"):]
    for control in catalog.controls():
        if control.guide == "scg-9":
            assert f"| `{control.id}` |" in scg9, control.id
    ssh = next(line for line in scg9.splitlines() if line.startswith("| `esx-9.ssh` |"))
    assert "VCFE-9X-000096" in ssh and "NIST AC-17(04), CM-07; PCI 2.2.4" in ssh and "`esxi-8.deactivate-ssh`" in ssh
    assert "| Audit |" in ssh and "`services.TSM-SSH.running`" in ssh
    ceip = next(line for line in scg9.splitlines() if line.startswith("| `esx-9.ceip-disable` |"))
    assert "| new |" in ceip and "`advancedSettings.UserVars.HostClientCEIPOptIn`" in ceip
    patching = next(line for line in scg9.splitlines() if "process: keep vCenter patched" in line)
    assert "record it with an Attestation" in patching  # an unmanaged row carries its reason
    dcui = next(line for line in scg9.splitlines() if line.startswith("| `esx-9.disable-accounts-dcui` |"))
    assert "`shellAccess.dcui`" in dcui  # esxcli over the VIM API (issue 15): managed


def test_readme_coverage_figures_are_the_catalogs():
    import re

    from reconciler import catalog

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"(\d+) of the (\d+) SCG 8 / DISA STIG controls in the catalog are managed, and (\d+) of the "
                      r"(\d+) VCF 9.1 SCG rows", " ".join(text.split()))
    assert match, "README: the coverage sentence"
    scg8 = [c for c in catalog.controls() if c.guide != "scg-9"]
    scg9 = [c for c in catalog.controls() if c.guide == "scg-9"]
    assert tuple(int(g) for g in match.groups()) == (sum(1 for c in scg8 if c.fields), len(scg8),
                                                     sum(1 for c in scg9 if c.fields), len(scg9))
