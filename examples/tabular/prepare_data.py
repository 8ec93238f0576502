"""Write scikit-learn's breast-cancer data set to ``data/cancer.csv``.

The data ships with scikit-learn, so nothing is downloaded. Version it with
``conveyor data add cancer data/cancer.csv``.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_breast_cancer


def main(folder: Path = Path(__file__).parent / "data") -> Path:
    """Write the CSV (features plus a ``target`` column) and return its path."""
    frame = load_breast_cancer(as_frame=True).frame
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cancer.csv"
    frame.to_csv(path, index=False)
    return path


if __name__ == "__main__":
    written = main()
    print(f"wrote {written} ({sum(1 for _ in written.open()) - 1} rows)")
