"""Benchmarks of wangge against peers measured in the same run (issue 6): ``python -m bench``."""
