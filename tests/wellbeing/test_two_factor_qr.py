"""The two-factor setup page shows the key as a QR code an authenticator app can scan (issue 15:
"operators can set up TOTP"; the page showed only the key and the otpauth:// URI as text).

The QR code is an inline SVG made on the server (no image service ever sees the key, no inline
style, so the Content Security Policy holds). The test reads the SVG back independently of the
library that drew it: it rasterises the SVG's path and decodes the picture with OpenCV's QR
decoder, which must give exactly the otpauth:// URI of the member's authenticator key."""

from __future__ import annotations

import html
import io
import re

import cv2
import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import login
from wellbeing.models import StaffMember

SETUP = "/accounts/two-factor/"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# A terminal QR code's half blocks: (upper module light, lower module light).
HALF_BLOCKS = {"\u2588": (1, 1), "\u2580": (1, 0), "\u2584": (0, 1), " ": (0, 0)}


def decode_qr(image: np.ndarray) -> str:
    """The text of the one QR code in ``image`` ('' when none is read). OpenCV's ArUco-based
    QR detector: the plain one missed 1 to 2% of correct codes of random keys (measured: 20
    of 1000 setup-page codes, 9 of 500 terminal codes; a CI run failed on one), the ArUco one
    none of 3000."""
    decoded, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return str(decoded)


def qr_svg_of(page: str) -> str:
    found = re.search(r'<svg\b[^>]*class="totp-qr".*?</svg>', page, re.DOTALL)
    assert found, "the setup page has no inline SVG QR code"
    return found.group(0)


def rasterise(svg: str) -> np.ndarray:
    """The dark modules of a QR SVG drawn as one stroked path of horizontal runs (``M``/``m``
    moves, ``h`` runs, one unit per module), as a white-bordered gray image, 8 px a module."""
    path = re.search(r'<path[^>]*\bstroke="[^"]+"[^>]*\sd="([^"]+)"', svg)
    assert path, "no stroked path in the SVG"
    x = y = 0.0
    runs: list[tuple[float, float, float]] = []
    for command, arguments in re.findall(r"([MmHh])([^MmHh]*)", path.group(1)):
        numbers = [float(n) for n in NUMBER.findall(arguments)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            runs.append((x, y, numbers[0]))
            x += numbers[0]
    side = int(max(start + length for start, _, length in runs)) + 4  # the quiet zone
    image = np.full((side, side), 255, np.uint8)
    for start, row, length in runs:
        image[int(row), int(start) : int(start + length)] = 0
    return cv2.resize(image, (side * 8, side * 8), interpolation=cv2.INTER_NEAREST)


def test_the_setup_page_shows_a_qr_code_of_the_key(counselor: StaffMember) -> None:
    # given a counselor who has not set up two-factor
    client = login(counselor)
    # when they open the setup page
    response = client.get(SETUP)
    assert response.status_code == 200
    page = response.content.decode()
    # then it shows an inline SVG QR code next to the key and the URI as text
    device = TOTPDevice.objects.get(user=counselor.user, confirmed=False)
    assert html.escape(device.config_url) in page
    svg = qr_svg_of(page)
    # and decoding the picture gives exactly that otpauth:// URI
    decoded = decode_qr(rasterise(svg))
    assert decoded == device.config_url
    assert decoded.startswith("otpauth://totp/")


def test_the_qr_code_needs_nothing_the_content_security_policy_refuses(
    counselor: StaffMember,
) -> None:
    # given the setup page
    response = login(counselor).get(SETUP)
    svg = qr_svg_of(response.content.decode())
    # then the QR code loads nothing (no link, no image source, no script) and carries no
    # inline style, and the page's policy still allows no inline style or other image host
    assert not re.search(r"\b(href|src|style|on\w+)=", svg)
    assert "<script" not in svg and "<image" not in svg
    policy = response["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "img-src 'self' data:" in policy
    # and it has an accessible name
    assert re.search(r"<title>[^<]*QR code[^<]*</title>", svg)


def test_the_key_does_not_change_when_the_page_is_opened_again(counselor: StaffMember) -> None:
    # given the setup page opened once, when it is opened again before a code is entered, then
    # the QR code shows the same key (what the person already scanned stays valid)
    client = login(counselor)
    first = qr_svg_of(client.get(SETUP).content.decode())
    second = qr_svg_of(client.get(SETUP).content.decode())
    assert first == second


def read_terminal_qr(lines: list[str]) -> np.ndarray:
    """A QR code printed in half blocks (each character two modules, one above the other,
    a block where the module is light) as a gray image, 8 px a module. A code of an odd number
    of rows leaves the last line's lower half empty; the code is square, so that half is cut."""
    rows = [[HALF_BLOCKS[c] for c in line] for line in lines]
    light = np.array([[half[i] for half in row] for row in rows for i in (0, 1)], np.uint8)
    light = light[: light.shape[1]]
    image = light * 255
    height, width = image.shape
    image = np.pad(image, 4, constant_values=255)
    return cv2.resize(image, ((width + 8) * 8, (height + 8) * 8), interpolation=cv2.INTER_NEAREST)


def test_the_operators_command_prints_a_qr_code_of_the_key(db: object) -> None:
    # given an operator without an authenticator
    User.objects.create_superuser("operator", "op@example.org", "pw-correct-horse")
    # when they run the setup command (without a code yet: it stops there, the key kept)
    out = io.StringIO()
    with pytest.raises(CommandError, match="Run again with --code"):
        call_command("operator_two_factor", "operator", stdout=out)
    # then below the key and the URI it prints a QR code that decodes to exactly that URI
    device = TOTPDevice.objects.get(user__username="operator", confirmed=False)
    lines = out.getvalue().splitlines()
    assert f"  or open: {device.config_url}" in lines
    qr_lines = [line for line in lines if line and set(line) <= set(HALF_BLOCKS)]
    assert len(qr_lines) > 10
    decoded = decode_qr(read_terminal_qr(qr_lines))
    assert decoded == device.config_url
