"""Certificate thumbprints (SHA-256 pins), shared by the spec API and the vSphere connection."""

from __future__ import annotations

import re


def normalize_thumbprint(value: str) -> str:
    """A SHA-256 fingerprint in upper-case colon form (`AA:BB:...`). Accepts colons, spaces or dashes as
    separators and an optional `sha256:`/`SHA256=` prefix; refuses SHA-1 (too weak to pin) and anything that is not
    32 bytes of hex, with a ValueError saying which."""
    text = re.sub(r"^(?i:sha-?256)\s*[:=]\s*", "", value.strip())
    digits = re.sub(r"[\s:\-]", "", text)
    if not re.fullmatch(r"[0-9A-Fa-f]+", digits or "-"):
        raise ValueError("a thumbprint is hex digits, optionally separated by ':'")
    if len(digits) == 40:
        raise ValueError("this is a SHA-1 thumbprint; give the SHA-256 one "
                         "(openssl x509 -noout -fingerprint -sha256 -in cert.pem)")
    if len(digits) != 64:
        raise ValueError(f"a SHA-256 thumbprint has 32 bytes (64 hex digits), this one has {len(digits) / 2:g}")
    digits = digits.upper()
    return ":".join(digits[i:i + 2] for i in range(0, 64, 2))
