"""The statistical protocol's comparisons, checked against SciPy and statsmodels directly."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from mnist_utils import protocol


def test_compare_matches_scipy_paired_t_and_interval():
    a, b = [0.970, 0.972, 0.969, 0.975], [0.974, 0.973, 0.975, 0.976]
    c = protocol.compare("A", "B", a, b)
    d = np.subtract(b, a)
    assert c.p_value == pytest.approx(sps.ttest_rel(b, a).pvalue)
    low, high = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert (c.diff.low, c.diff.high) == pytest.approx((low, high))
    assert c.wins == 4 and c.n == 4
    # one comparison: the interval excludes zero exactly when p < alpha
    assert c.decided == (c.diff.low > 0 or c.diff.high < 0)


def test_verdict_names_the_winner_only_when_decided():
    clear = protocol.compare("small", "big", [0.90, 0.91, 0.92], [0.95, 0.955, 0.97])
    assert clear.decided and clear.winner == "big"
    assert clear.verdict() == "big is more accurate than small"
    noisy = protocol.compare("x", "y", [0.90, 0.95, 0.92], [0.93, 0.91, 0.94])
    assert not noisy.decided and noisy.winner is None
    assert "within seed-to-seed noise" in noisy.verdict()
    two = protocol.compare("x", "y", [0.1, 0.2], [0.5, 0.6])
    assert not two.decided and "protocol asks for 3" in two.verdict()


def test_identical_differences_are_certain():
    assert protocol.paired_t_p([0.1, 0.2, 0.3], [0.2, 0.3, 0.4]) == 0.0
    assert protocol.paired_t_p([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]) == 1.0
    assert math.isnan(protocol.paired_t_p([0.1], [0.2]))


def test_holm_family_matches_statsmodels_and_can_withdraw_a_verdict():
    rng = np.random.default_rng(0)
    comps = [protocol.compare(f"a{i}", f"b{i}", rng.normal(0, 1, 5), rng.normal(s, 1, 5))
             for i, s in enumerate([0.0, 1.5, 3.0])]
    family = protocol.holm_family(comps)
    expected = multipletests([c.p_value for c in comps], method="holm")[1]
    assert [c.p_holm for c in family] == pytest.approx(list(expected))
    assert all(c.family == 3 for c in family) and all(c.p_holm >= c.p_value for c in family)
    alone = protocol.compare("a", "b", [0.0, 0.1, 0.2], [0.05, 0.2, 0.3])
    with_others = protocol.holm_family([alone] + [protocol.compare("c", "d", [0, 0.1, 0.2],
                                                                   [0.01, 0.09, 0.2])] * 4)
    assert alone.decided and not with_others[0].decided
    assert "Holm-adjusted over 5" in with_others[0].evidence()


def test_compare_rejects_unpaired_input():
    with pytest.raises(ValueError, match="equally many"):
        protocol.compare("a", "b", [0.1, 0.2], [0.3])


def test_tables_render():
    comps = protocol.holm_family([protocol.compare("a", "b", [0.1, 0.2, 0.3], [0.2, 0.25, 0.4])])
    html = protocol.comparison_table(comps).to_html()
    assert "p (Holm)" in html and "+" in html
    html = protocol.tuning_table([("lr", "0.1, 0.3", "0.3", "validation split")]).to_html()
    assert "chosen on" in html


def test_every_chapter_links_the_protocol_page():
    import json
    from pathlib import Path

    book = Path(__file__).resolve().parent.parent / "book"
    for notebook in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert "protocol.md" in text, f"{notebook.name} does not link the protocol page (protocol.md)"


def test_saved_comparisons_come_back(tmp_path, monkeypatch):
    import json

    from mnist_utils import results
    from mnist_utils.build_folder import BuildFolder

    monkeypatch.setenv("MNIST_BUILD_DIR", str(tmp_path))
    family = protocol.holm_family([protocol.compare("a", "b", [0.1, 0.2, 0.3], [0.2, 0.3, 0.45]),
                                   protocol.compare("c", "d", [0.1, 0.2, 0.3], [0.1, 0.2, 0.3])])
    protocol.save("07_lenet", family)
    saved = results.load_all_comparisons(tmp_path)["07_lenet"]
    assert [r["verdict"] for r in saved] == [c.verdict() for c in family]
    assert json.loads(BuildFolder(tmp_path).comparisons("07_lenet").read_text())[0]["family"] == 2
    BuildFolder(tmp_path).clear_results("07_lenet")
    assert results.load_all_comparisons(tmp_path) == {}


def test_verdicts_tool_flags_a_changed_verdict(tmp_path, capsys):
    import json

    from tools import verdicts

    def build(name, holds, winner):
        folder = tmp_path / name
        (folder / "claims").mkdir(parents=True)
        (folder / "comparisons").mkdir()
        (folder / "claims" / "07_lenet.json").write_text(json.dumps(
            [{"id": "c1", "holds": holds, "says": "", "when": "", "values": {}}]))
        (folder / "comparisons" / "07_lenet.json").write_text(json.dumps(
            [{"a": "x", "b": "y", "verdict": winner}]))
        return folder

    same = build("a", True, "y is more accurate than x")
    assert verdicts.main([str(same), str(build("b", True, "y is more accurate than x"))]) == 0
    assert verdicts.main([str(same), str(build("c", True, "x and y are within noise"))]) == 1
    assert verdicts.main([str(same), str(build("d", False, "y is more accurate than x"))]) == 1
    assert "FAILS" in capsys.readouterr().out


def test_every_training_chapter_shows_what_was_tuned_on_what():
    import json
    from pathlib import Path

    book = Path(__file__).resolve().parent.parent / "book"
    for notebook in sorted(book.glob("0[2-9]_*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "tuning_table(" in code, f"{notebook.name} has no 'what was tuned on what' table"
