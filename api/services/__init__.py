"""Domain services of the API: keyword-only functions over a session, tested without HTTP.

:mod:`~api.services.crud` (communities, houses, residents, staff, users),
:mod:`~api.services.privacy` (masking, grid scope, access requests, audit),
:mod:`~api.services.divisions` (validate and load a division), :mod:`~api.services.geojson`.
"""
