"""bench/RESULTS.md is shared by several runs: each writes its own sections and keeps the rest."""

from __future__ import annotations

from bench.machine import keep_other_sections, replace_section

OLD = (
    "# Benchmark results\n\n## Ratios\n\nold ratios\n\n## Whole commands\n\nold commands\n\n"
    "## Problems\n\n- none\n\n## PostGIS at city scale\n\nby hand\n"
)


def test_the_main_run_keeps_the_sections_it_does_not_write(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(OLD)
    new = "# Benchmark results\n\n## Ratios\n\nnew ratios\n\n## Problems\n\n- none\n"
    text = keep_other_sections(results, new)
    assert "new ratios" in text and "old ratios" not in text
    assert "old commands" in text and "by hand" in text
    assert text.count("## Problems") == 1 and text.count("## Ratios") == 1


def test_a_separate_run_replaces_only_its_own_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(OLD)
    replace_section(results, "Whole commands", ["## Whole commands", "", "new commands"])
    text = results.read_text()
    assert "new commands" in text and "old commands" not in text
    assert "old ratios" in text and "by hand" in text
    assert text.index("## Whole commands") < text.index("## Problems")
    replace_section(results, "Dask assignment", ["## Dask assignment", "", "dask"])
    text = results.read_text()
    assert text.index("## Dask assignment") < text.index("## Problems")
    assert text.count("## Whole commands") == 1
