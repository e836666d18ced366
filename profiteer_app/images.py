"""Product pictures that degrade gracefully: the catalog's image URL over a drawn placeholder.

Pure (no Streamlit). The default catalog's image URLs point at a host that does not exist
offline, so each picture is a box whose CSS backgrounds are the real image on top of an inline
SVG placeholder (the product's initials on its category's colour): when the image loads it
covers the placeholder; when it fails, the browser simply shows the placeholder. No server-side
fetch, no broken-image icon, no `onerror` script (Streamlit strips scripts anyway).
"""

from __future__ import annotations

import hashlib
import html
from urllib.parse import quote, urlsplit

_PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#9D755D")


def category_color(category: str) -> str:
    """A stable colour per category (the same in every chart and card)."""
    digest = hashlib.sha1(category.encode()).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def placeholder_uri(name: str, category: str) -> str:
    """An SVG data URI: the initials of `name` on the category's colour."""
    color = category_color(category)
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='320' height='200' viewBox='0 0 320 200'>"
        f"<rect width='320' height='200' fill='{color}' opacity='0.18'/>"
        f"<text x='160' y='112' font-family='sans-serif' font-size='64' font-weight='700'"
        f" text-anchor='middle' fill='{color}'>{html.escape(initials(name))}</text>"
        f"<text x='160' y='170' font-family='sans-serif' font-size='18' text-anchor='middle'"
        f" fill='{color}'>{html.escape(category)}</text></svg>"
    )
    return "data:image/svg+xml;utf8," + quote(svg, safe="")


def safe_image_url(url: str | None) -> str | None:
    """The URL if it is plain http(s) (no quotes or parentheses that could break the CSS)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(ch in url for ch in "'\"()\\<> \n"):
        return None
    return url


def picture_html(name: str, category: str, image_url: str | None, height: int = 140) -> str:
    """A fixed-height picture box: the image over its placeholder."""
    layers = [f"url('{placeholder_uri(name, category)}')"]
    if real := safe_image_url(image_url):
        layers.insert(0, f"url('{real}')")
    return (
        f'<div role="img" aria-label="{html.escape(name, quote=True)}" '
        f'style="height:{int(height)}px;border-radius:8px;'
        f"background-image:{', '.join(layers)};background-size:cover;"
        'background-position:center;background-repeat:no-repeat;"></div>'
    )
