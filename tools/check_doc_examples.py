#!/usr/bin/env python3
"""Every code example in the documentation is real code: output is TAP (meson suite 'docs').

- A ```cpp block that appears verbatim in a source file the build compiles (apps/, examples/)
  is checked by that build; it passes if it is still there, word for word.
- Any other ```cpp block must be a complete translation unit: it is compiled on its own against
  the tree's headers (g++ -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror).
- Every line of a ```meson block (blank and comment-only lines aside) must appear in
  examples/consumer/meson.build, which tools/consumer_check.py builds both ways.

Usage: check_doc_examples.py REPO_ROOT
"""
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
sys.path.insert(0, str(ROOT / "tests" / "support"))
from tap import Tap  # noqa: E402

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "examples" / "README.md",
        *sorted((ROOT / "docs").glob("*.md"))]
COMPILED_SOURCES = [*sorted((ROOT / "apps").glob("*.cpp")), *sorted((ROOT / "examples").rglob("*.cpp"))]
BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```$", re.S | re.M)


def blocks():
    for doc in DOCS:
        if not doc.exists():
            continue
        text = doc.read_text()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield doc.relative_to(ROOT), line, m.group(1), m.group(2)


def compiled_elsewhere(code: str):
    for source in COMPILED_SOURCES:
        if code in source.read_text():
            return source.relative_to(ROOT)
    return None


def compile_check(code: str):
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as tu:
        tu.write(code)
        tu.flush()
        r = subprocess.run(["g++", "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic",
                            "-Werror", "-I", str(ROOT / "include"), tu.name],
                           capture_output=True, text=True, timeout=300)
    return r.returncode, r.stderr


def meson_check(code: str):
    consumer = (ROOT / "examples" / "consumer" / "meson.build").read_text().splitlines()
    consumer = {line.strip() for line in consumer}
    missing = [line for line in code.splitlines()
               if line.strip() and not line.strip().startswith("#") and line.strip() not in consumer]
    assert not missing, f"not in examples/consumer/meson.build: {missing}"


def main() -> int:
    tap = Tap()
    to_compile = []
    for doc, line, lang, code in blocks():
        name = f"{doc}:{line} ({lang})"
        if lang == "cpp":
            source = compiled_elsewhere(code)
            if source:
                tap.check(f"{name} is verbatim in {source}, which the build or the consumer check compiles", lambda: None)
            else:
                to_compile.append((name, code))
        elif lang == "meson":
            tap.check(f"{name}: each line is in examples/consumer/meson.build (built by the "
                      "consumer check)", lambda code=code: meson_check(code))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda item: compile_check(item[1]), to_compile))
    for (name, _), (rc, err) in zip(to_compile, results):
        def check(rc=rc, err=err):
            assert rc == 0, err[-3000:]
        tap.check(f"{name} compiles on its own", check)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
