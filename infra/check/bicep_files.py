#!/usr/bin/env python3
"""Every .bicep file under infra/ parses (pycep-parser), and every file it
loads with loadTextContent()/loadJsonContent() exists.

pycep is a syntax check only: it does not resolve types, API versions or
property names the way `bicep build` does (the Bicep CLI cannot be installed
on this machine). The GitHub workflow runs `az bicep build` for that.
"""
import re
import sys
from pathlib import Path

from pycep import BicepParser

INFRA = Path(__file__).resolve().parent.parent
LOAD = re.compile(r"load(?:Text|Json)Content\(\s*'([^']+)'")


def main() -> int:
    files = sorted(INFRA.rglob("*.bicep"))
    if not files:
        print("bicep: no .bicep files under infra/", file=sys.stderr)
        return 1
    parser = BicepParser()
    failures = []
    failed_files = set()
    for path in files:
        rel = path.relative_to(INFRA.parent)
        try:
            parser.parse(file_path=path)
        except Exception as exc:  # pycep raises lark errors of several kinds
            failures.append(f"{rel}: does not parse: {str(exc).splitlines()[0]}")
            failed_files.add(rel)
            continue
        for loaded in LOAD.findall(path.read_text()):
            if not (path.parent / loaded).is_file():
                failures.append(f"{rel}: loads {loaded}, which does not exist")
                failed_files.add(rel)
    for failure in failures:
        print(f"bicep: FAIL {failure}", file=sys.stderr)
    print(f"bicep: {len(files) - len(failed_files)} of {len(files)} files parse and load only files that exist")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
