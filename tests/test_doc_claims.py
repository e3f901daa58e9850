"""Every claim of a test in the documentation resolves: each ``tests/...py`` (and
``::test_name``) a document cites exists, and each paragraph that says something is "tested" or
"checked" cites the test that does it, unless the word means something else there (listed below
with why)."""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = sorted(
    {
        *glob.glob(os.path.join(ROOT, "*.md")),
        *glob.glob(os.path.join(ROOT, "docs", "*.md")),
        *glob.glob(os.path.join(ROOT, "projects", "**", "*.md"), recursive=True),
    }
)
REFERENCE = re.compile(r"tests/[\w/]+\.py(?:::\w+)?")
CLAIM = re.compile(r"\b(tested|checked)\b", re.IGNORECASE)

# (document, words of the paragraph): uses of the words that claim no test of this project.
NOT_CLAIMS = {
    ("README.md", "different objective from the one tested"): "the objective a model is tested on",
    ("projects/multigrid/RESULTS.md", "one tested (which direction)"): "the same, in the results",
    ("projects/multigrid/RESULTS.md", "model is tested at"): "the resolution of evaluation",
    ("projects/multigrid/README.md", "the resolution it is tested at"): "likewise",
    ("docs/DATASETS.md", "could not\nbe tested here"): "says what is not tested, and why",
    ("docs/MODELS.md", "every input is first checked"): "a check the converter makes at run time",
    ("docs/TRAINING.md", "preemption flag) and checked"): "a check the trainer makes every step",
}


def _paragraphs(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return re.split(r"\n\s*\n", f.read())


def _rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def test_documents_are_found():
    names = {_rel(p) for p in DOCUMENTS}
    assert {
        "README.md",
        "BENCHMARKS.md",
        "docs/TRAINING.md",
        "projects/multigrid/RESULTS.md",
    } <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=_rel)
def test_every_cited_test_exists(path):
    missing = []
    for paragraph in _paragraphs(path):
        for ref in REFERENCE.findall(paragraph):
            file, _, name = ref.partition("::")
            full = os.path.join(ROOT, file)
            if not os.path.isfile(full):
                missing.append(ref)
                continue
            if name:
                with open(full, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
                if name not in defined:
                    missing.append(ref)
    assert missing == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=_rel)
def test_every_claim_of_a_test_cites_one(path):
    rel = _rel(path)
    exempt = [words for (doc, words) in NOT_CLAIMS if doc == rel]
    uncited = [
        " ".join(p.split())[:160]
        for p in _paragraphs(path)
        if CLAIM.search(p) and not REFERENCE.search(p) and not any(words in p for words in exempt)
    ]
    assert uncited == []


def test_every_exemption_is_still_in_its_document():
    stale = []
    for doc, words in NOT_CLAIMS:
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            if words not in f.read():
                stale.append((doc, words))
    assert stale == []
