"""The differential test harness: generated divisions, planted defects, counted runs.

:mod:`tests.gis.harness.tilings` draws divisions (Hypothesis strategies) that tile their
boundary exactly in their own CRS; :mod:`tests.gis.harness.defects` plants one defect of a
known kind at a known place; :mod:`tests.gis.harness.counts` counts what ran, for the line
the test session prints at its end.
"""
