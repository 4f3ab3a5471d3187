"""wangge spatial core: pure functions over GeoDataFrames and shapely arrays.

Nothing here imports from ``api`` or ``maps``; no web, no database.
"""
