"""Static files: WhiteNoise, told that Vite's hashed asset names are immutable too."""

from __future__ import annotations

import re

from whitenoise.middleware import WhiteNoiseMiddleware

# Vite (Rolldown) names each asset after its content: app/assets/DashboardPage-DOY0f65C.js. A new build makes new
# names, so a browser may keep these for a year; index.html, which names them, is never cached (frontend/views.py).
VITE_ASSET = re.compile(r"app/assets/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|svg|png|woff2?|ttf|map)$")


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    def immutable_file_test(self, path: str, url: str) -> bool:
        name = url.removeprefix(self.static_prefix) if url.startswith(self.static_prefix) else None
        if name is not None and VITE_ASSET.fullmatch(name):
            return True
        # Django's own hashed names (admin, the API docs: ManifestStaticFilesStorage), as WhiteNoise tells them.
        return bool(super().immutable_file_test(path, url))
