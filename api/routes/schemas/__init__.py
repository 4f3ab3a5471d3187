"""Pydantic models of the API, separate from the tables: Base/Create/Update/Public per resource,
one module per domain (users, divisions, registry, access, incidents, opinion, assessment,
patrol, planner, ogc, geocode, tiles, health) over the shared shapes of :mod:`.common`.

Non-spatial lists are ``{"data": [...], "count": n}`` (:class:`.common.ListOf`); spatial lists
are GeoJSON FeatureCollections built by the routes. Registry values (codes, dates, phones, ID
numbers) are checked by :mod:`api.services.registry.validators` in the services, which answer a
422 naming the field; the models here only fix the shape. Import a model from its module; this
package re-exports nothing.
"""
