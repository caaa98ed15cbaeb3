"""The application shell: settings, model registry, the Workspace facade and the CLI."""

from __future__ import annotations

__version__ = "0.1.0"
