"""wangge service: persistence, domain services, HTTP API and CLI."""
