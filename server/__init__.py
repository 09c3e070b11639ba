"""The ASGI application, settings, authentication and the `gongzhi` command line."""
