"""Database roles: the request path and the platform path never connect as the table owner."""

APP_ROLE = "gongzhi_app"
"""Role of the request path: reads and writes tenant rows under row-level security."""

PLATFORM_ROLE = "gongzhi_platform"
"""Read-only role of the platform path: a platform operator's cross-district statistics."""

DISTRICT_SETTING = "app.district_id"
"""Per-transaction setting the row-level-security policies compare `district_id` with."""
