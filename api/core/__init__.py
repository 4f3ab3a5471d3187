"""The foundation of ``api``, no database: settings (:mod:`~api.core.config`), errors and
their one web renderer (:mod:`~api.core.error_handlers`), crypto (the data key), security
(passwords, tokens), the password policy, TOTP, time formatting, request bounds
(:mod:`~api.core.limits`) and the CLI's file bounds (:mod:`~api.core.local_limits`). Every
other room may import it; it imports only ``gis``.
"""
