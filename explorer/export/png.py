"""A PNG of an HTML export through headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from explorer.export.files import ExportError

CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)


def find_chromium(chromium: str | None = None) -> str:
    for name in [chromium] if chromium else CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    looked = chromium or ", ".join(CHROMIUM_CANDIDATES)
    raise ExportError(
        f"PNG export needs Chromium and none was found (looked for: {looked}). "
        "Install chromium, pass its path, or open the HTML export in a browser "
        "and save the picture from there"
    )


def export_png(
    html_path: str | Path,
    png_path: str | Path,
    width: int = 1200,
    height: int = 1100,
    chromium: str | None = None,
    timeout: float = 120,
) -> Path:
    """Screenshot of an HTML page (e.g. ``export_html``'s) with headless Chromium."""
    exe = find_chromium(chromium)
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    if not html_path.is_file():
        raise ExportError(f"{html_path}: no such HTML file to render")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={int(width)},{int(height)}",
            "--virtual-time-budget=5000",
            f"--screenshot={png_path}",
            html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportError(f"Chromium did not finish the screenshot in {timeout}s") from None
    if not png_path.is_file() or png_path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise ExportError(
            f"Chromium wrote no PNG (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return png_path
