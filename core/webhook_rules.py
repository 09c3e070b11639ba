"""The rules webhook endpoints are managed by, from the settings: which URLs are accepted
and how long a rotated secret keeps signing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebhookRules:
    # Loopback, private, link-local and metadata addresses are refused unless this is set
    # (development and tests: `GONGZHI_WEBHOOK_ALLOW_PRIVATE_URLS=true`).
    allow_private_urls: bool = False
    # Production accepts https:// URLs only.
    https_only: bool = False
    # After `rotateWebhookSecret`, the previous secret signs beside the new one this long.
    secret_overlap_seconds: float = 24 * 3600
    # A re-enabled endpoint's held deliveries get this long again before they expire.
    retry_horizon_seconds: float = 24 * 3600
