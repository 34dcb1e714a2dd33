"""One-time-password helpers that hold no business rule: code shapes and the QR image."""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg

BACKUP_CODE_COUNT = 10
# Longest code worth looking up: django-otp's static tokens hold at most 16 characters.
MAX_CODE_LENGTH = 16

# Authenticator apps show "123 456"; people paste backup codes with dashes or spaces.
_SEPARATORS = re.compile(r"[\s\-]+")
_BACKUP_SHAPE = re.compile(rf"[a-z0-9]{{1,{MAX_CODE_LENGTH}}}")


def otp_normalize(otp: str) -> str:
    """Drop separators and case so a code typed the way it is shown still matches."""
    return _SEPARATORS.sub("", otp).lower()


def is_totp_shape(code: str, *, digits: int) -> bool:
    """ASCII digits only: ``int()`` would also accept "１２３４５６" or "12_3456"."""
    return len(code) == digits and code.isascii() and code.isdigit()


def is_backup_shape(code: str) -> bool:
    return bool(_BACKUP_SHAPE.fullmatch(code))


def qr_svg(data: str) -> str:
    """Render ``data`` as an SVG QR code (markup, ready to inline or to wrap in a data: URL)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")
