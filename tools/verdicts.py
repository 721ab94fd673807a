"""Do two builds reach the same verdicts? Every declared claim, and every seed comparison.

Two full builds of the same code are different runs when anything about the arithmetic
differs (the CPU thread count changes the order of float additions, so the weights drift
apart after a few steps). The book's conclusions must not depend on that: run two builds,
e.g. with ``MNIST_TORCH_THREADS=1`` and ``=2``, then::

    python -m tools.verdicts _build/threads1 _build/threads2

It prints each claim (holds in A / in B) and each seed comparison (its verdict in A / in B)
and exits 1 if a claim fails in either build or any verdict differs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from mnist_utils.results import load_all_claims, load_all_comparisons


def claim_rows(a: Path, b: Path) -> list[tuple[str, str, str]]:
    """(chapter/claim id, holds in a, holds in b) for every claim judged in either build."""
    judged = [{f"{ch}/{v['id']}": v["holds"] for ch, vs in load_all_claims(x).items() for v in vs}
              for x in (a, b)]
    keys = sorted(set(judged[0]) | set(judged[1]))
    return [(k, _yes(judged[0].get(k)), _yes(judged[1].get(k))) for k in keys]


def comparison_rows(a: Path, b: Path) -> list[tuple[str, str, str]]:
    """(chapter: b vs a, verdict in build a, verdict in build b) for every saved comparison."""
    saved = [{f"{ch}: {r['b']} vs {r['a']}": r["verdict"] for ch, rs in load_all_comparisons(x).items()
              for r in rs} for x in (a, b)]
    keys = sorted(set(saved[0]) | set(saved[1]))
    return [(k, saved[0].get(k, "(missing)"), saved[1].get(k, "(missing)")) for k in keys]


def _yes(holds: bool | None) -> str:
    return "(missing)" if holds is None else ("holds" if holds else "FAILS")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_a", type=Path)
    parser.add_argument("build_b", type=Path)
    args = parser.parse_args(argv)
    for folder in (args.build_a, args.build_b):
        if not folder.is_dir():
            parser.error(f"build folder {folder} does not exist")
    claims = claim_rows(args.build_a, args.build_b)
    comparisons = comparison_rows(args.build_a, args.build_b)
    bad = [r for r in claims if r[1] != "holds" or r[2] != "holds"]
    bad += [r for r in comparisons if r[1] != r[2]]
    for title, rows in (("claims", claims), ("seed comparisons", comparisons)):
        print(f"{title} ({len(rows)}): {args.build_a} | {args.build_b}")
        for key, in_a, in_b in rows:
            mark = " " if (in_a == in_b and in_a != "FAILS") else "!"
            print(f" {mark} {key}: {in_a} | {in_b}")
    print(f"{len(claims)} claims, {len(comparisons)} comparisons; {len(bad)} differ or fail")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
