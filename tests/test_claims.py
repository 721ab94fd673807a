"""The claims API: conditions evaluated safely, contradictions fail strictly and warn otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist_utils import claims
from mnist_utils.claims import Claim, ClaimError, check_claims, evaluate, judge


@pytest.mark.parametrize(("when", "expected"), [
    ("a > b", True), ("a < b", False), ("a - b > 0.05 and not c", True), ("abs(b - a) < 0.2", True),
    ("min(a, b) >= 0.5 or c", True), ("0 < b < a", True), ("a * 2 / 4 == 0.45", True), ("-a < 0", True),
])
def test_evaluate(when: str, expected: bool) -> None:
    assert evaluate(when, {"a": 0.9, "b": 0.8, "c": 0}) is expected


@pytest.mark.parametrize("when", ["__import__('os')", "a.real > 0", "[a][0] > 0", "a ** 2 > 0", "open('x')"])
def test_evaluate_refuses_anything_else(when: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        evaluate(when, {"a": 1.0})


def test_a_missing_name_is_an_error_naming_the_claim() -> None:
    claim = Claim("ch", "wins", "A beats B.", "acc_a > acc_b")
    with pytest.raises(KeyError, match=r"ch/wins reads \['acc_b'\]"):
        judge([claim], {"acc_a": 0.9})


def test_every_declared_claim_parses() -> None:
    for chapter, declared in claims.declared_claims().items():
        for claim in declared:
            assert claim.says and claim.names(), f"{chapter}/{claim.id}"
            evaluate(claim.when, dict.fromkeys(claim.names(), 0.5))  # raises outside the language


FORCED_FALSE = [Claim("ch", "ok", "A is positive.", "a > 0"), Claim("ch", "bad", "B beats A.", "b > a")]


def test_a_contradicted_claim_fails_strictly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_BUILD_DIR", str(tmp_path))
    with pytest.raises(ClaimError) as error:
        check_claims("ch", {"a": 0.9, "b": 0.8}, claims=FORCED_FALSE, strict=True)
    message = str(error.value)
    assert "ch/bad" in message and "B beats A." in message and "a = 0.9" in message and "b = 0.8" in message
    assert "ch/ok" not in message
    saved = json.loads((tmp_path / "claims" / "ch.json").read_text())
    assert [(v["id"], v["holds"]) for v in saved] == [("ok", True), ("bad", False)]


def test_a_contradicted_claim_only_warns_outside_the_full_build(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MNIST_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv(claims.PROFILE_ENV, "smoke")
    verdicts = check_claims("ch", {"a": 0.9, "b": 0.8}, claims=FORCED_FALSE)
    assert [v.holds for v in verdicts] == [True, False]
    assert "This run differs from the book" in capsys.readouterr().out
    monkeypatch.setenv(claims.PROFILE_ENV, "full")
    with pytest.raises(ClaimError):
        check_claims("ch", {"a": 0.9, "b": 0.8}, claims=FORCED_FALSE)


def test_the_runner_fails_a_full_build_on_a_contradicted_claim_and_notes_it_in_smoke(
        tmp_path: Path, write_notebook) -> None:
    """Both ways, through the book's runner: a claim forced false fails the full profile,
    naming the claim and its numbers; the smoke profile passes and shows the note."""
    import nbformat
    import yaml

    from tools import run

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/ch"}]}))
    write_notebook(tmp_path / "book" / "ch.ipynb", "a, b = 0.9, 0.8", (
        "from mnist_utils.claims import Claim, check_claims\n"
        "claims = [Claim('ch', 'bad', 'B beats A.', 'b > a')]\n"
        "check_claims('ch', {'a': a, 'b': b}, claims=claims);"))
    for profile, expected in (("full", 1), ("smoke", 0)):
        build = tmp_path / f"_build_{profile}"
        args = ["--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--profile", profile]
        assert run.main(args) == expected, profile
        entry = json.loads((build / "report.json").read_text())["chapters"]["ch"]
        executed = nbformat.read(build / "executed" / "book" / "ch.ipynb", as_version=4)
        outputs = json.dumps([o for c in executed.cells for o in c.get("outputs", [])])
        if profile == "full":
            assert entry["status"] == "failed"
            assert all(s in entry["error"] for s in ("ch/bad", "B beats A.", "b = 0.8"))
        else:
            assert entry["status"] == "ok" and "This run differs from the book" in outputs
