"""Domain services of the API: keyword-only functions over a session, tested without HTTP.

One package per domain with more than one module — :mod:`~api.services.incidents`,
:mod:`~api.services.registry`, :mod:`~api.services.assessment`,
:mod:`~api.services.appraisal` (each with its pure rules beside its ``service`` module) — and
one module for each smaller one: :mod:`~api.services.crud` (communities, houses, residents,
staff, users), :mod:`~api.services.privacy` (masking, grid scope, access requests, audit),
:mod:`~api.services.divisions` (validate and load a division), :mod:`~api.services.planner`
(the planners' drawing board), :mod:`~api.services.dashboard`, :mod:`~api.services.backup`,
:mod:`~api.services.database_copy`, :mod:`~api.services.demo`... Services import ``api.db``,
``api.core``, ``maps`` and ``gis``, never ``api.routes`` or ``api.cli`` (see :mod:`api`).
"""
