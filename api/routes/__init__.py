"""One router per resource (mounted by :func:`api.app.create_app`)."""
