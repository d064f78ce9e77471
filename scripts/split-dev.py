#!/usr/bin/env python3
"""Split each development set once into a tuning half and a held-back half.

The order is the SHA-256 of "caro-split-v1:" + case id, so the split is fixed, needs
no random generator, and a case keeps its half if others are added or removed.
Writes docs/eval/splits/<set>-{tune,held}.ids (one id per line); the sets themselves
stay in ../shared/data (they are not shipped).

    scripts/split-dev.py [SHARED_DATA_DIR]
"""
import hashlib
import json
import pathlib
import sys

SEED = "caro-split-v1:"
data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
out = pathlib.Path(__file__).resolve().parent.parent / "docs" / "eval" / "splits"
out.mkdir(parents=True, exist_ok=True)

for name, path in [("nl2bash", data / "dev-nl2bash.jsonl"), ("alfa", data / "alfa-dev" / "cases.jsonl")]:
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]
    ranked = sorted(ids, key=lambda i: hashlib.sha256((SEED + i).encode()).hexdigest())
    half = len(ranked) // 2
    for part, chosen in [("tune", ranked[:half]), ("held", ranked[half:])]:
        keep = set(chosen)
        (out / f"{name}-{part}.ids").write_text("".join(i + "\n" for i in ids if i in keep))
    print(f"{name}: {len(ids)} cases -> tune {half}, held {len(ids) - half}")
