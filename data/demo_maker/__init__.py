"""The pieces of ``data/make_demo.py``, one job each: settings, files, the OSM clip, blocks,
houses and door plates, grids, planted defects, incidents, people, scaled benchmark data.

Imported by ``make_demo.py``, which puts the repository root and ``data/`` on ``sys.path``
first (``gis`` and the portrait generator ``make_staff_photos`` are imported from there).
"""
