"""Migration scripts, one chain: ``0001_spatial_base`` → ``0002_registry`` → ..."""
