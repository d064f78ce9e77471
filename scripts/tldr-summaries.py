#!/usr/bin/env python3
"""Derives src/explain/tldr-summaries.tsv from a tldr-pages snapshot: one line per page
of `common` and `linux`, the program's name and the first sentence of its description.

    scripts/tldr-summaries.py ../shared/data/tldr/tldr-pages-08e345f-en.tar.gz

tldr-pages is © the tldr-pages contributors, CC BY 4.0
(https://github.com/tldr-pages/tldr); the derived file carries the same licence.
"""
import re
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/explain/tldr-summaries.tsv"


def summary(text):
    lines = [l[2:].strip() for l in text.splitlines() if l.startswith("> ")]
    lines = [l for l in lines if not l.startswith(("More information", "See also", "Note:"))]
    if not lines:
        return None
    s = lines[0]
    s = re.sub(r"`([^`]*)`", r"\1", s)
    return s.replace("\t", " ").strip()


def main(archive):
    pages = {}
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if len(parts) < 3 or parts[-2] not in ("common", "linux") or not m.name.endswith(".md"):
                continue
            name = Path(m.name).stem
            text = tar.extractfile(m).read().decode("utf-8", "replace")
            s = summary(text)
            if s is None:
                continue
            # Linux pages describe the tool a Linux user has; they win over common ones.
            if parts[-2] == "linux" or name not in pages:
                pages[name] = s
    with open(OUT, "w") as f:
        f.write("# program\tsummary: derived from tldr-pages (CC BY 4.0) by scripts/tldr-summaries.py\n")
        for name in sorted(pages):
            f.write(f"{name}\t{pages[name]}\n")
    print(f"{len(pages)} pages -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tldr/tldr-pages-08e345f-en.tar.gz")
