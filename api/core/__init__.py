"""The foundation of ``api``, no database: settings (:mod:`~api.core.config`), errors,
crypto (the data key), security (passwords, tokens), the password policy, TOTP, time
formatting, request bounds (:mod:`~api.core.limits`) and the CLI's file bounds
(:mod:`~api.core.local_limits`). Every other room may import it; it imports only ``gis``.
"""
