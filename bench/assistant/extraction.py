"""``python -m bench.assistant.extraction --data DIR``: main-text extraction on a public benchmark.

The benchmark is trafilatura's own evaluation set (``tests/evaldata.json`` of adbar/trafilatura:
about a thousand real pages in many languages, each with up to six passages that belong to the
main text and up to six that do not, e.g. navigation, comments, footers). The usual metric of
that set: a passage of ``with`` found in the output (whitespace-normalized substring) is a true
positive, one of ``without`` found is a false positive; precision, recall and F1 are summed
over all pages. Get the data with ``bench/assistant/extraction_data.sh DIR``.

Flightdeck's extractor (``flightdeck.assistant.extract.extract_html``: the page nested by an
HTML5 parser, hidden-text removal, trafilatura's balanced mode, the article's lead put back)
runs beside its peers on the same pages in the same process: trafilatura as the benchmark
configures it, trafilatura's precision and recall modes, readability-lxml and jusText.
rs-trafilatura (the Rust port, on PyPI as a CPython 3.12 wheel only) runs in a Python 3.12
process of its own (``RsTrafilatura``; a venv in ``bench/.peers/`` made once with the
``python3.12`` on PATH; its pages/s count the extraction alone, not the pipe). Pages are split
deterministically by a hash of their URL into ``tune`` and ``test`` halves: tune on one, report
the other. The hidden-text set of the injection suite must keep passing (exit status 1 if not).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
import trafilatura
from rich.console import Console
from rich.table import Table
from tests.assistant.injection_pages import INJECTION_PAGES
from trafilatura.utils import decode_file

from flightdeck.assistant.extract import extract_html

console = Console()
RESULTS = Path(__file__).parents[1] / "results"
DEFAULT_DATA = Path("/work/shared/data/extraction/trafilatura-eval")
_SPACE = re.compile(r"\s+")


@dataclass
class Score:
    """Summed counts over pages and the time spent extracting (seconds)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    pages: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, item: dict[str, Any], output: str) -> None:
        text = norm(output)
        tp = sum(1 for s in item["with"] if norm(s) in text)
        self.tp += tp
        self.fn += len(item["with"]) - tp
        self.fp += sum(1 for s in item["without"] if norm(s) in text)

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def split_of(url: str) -> str:
    """``tune`` or ``test``: a fixed half of the pages, by a hash of the URL."""
    return "tune" if hashlib.sha256(url.encode()).digest()[0] % 2 == 0 else "test"


def load(data: Path, split: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(url, html, annotation) of each page of the split whose file is present."""
    evaldata = json.loads((data / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url in sorted(evaldata):
        if split != "all" and split_of(url) != split:
            continue
        item = evaldata[url]
        path = next(
            (
                data / d / item["file"]
                for d in ("cache", "eval")
                if (data / d / item["file"]).is_file()
            ),
            None,
        )
        if path is None:
            continue
        pages.append((url, decode_file(path.read_bytes()), item))
    return pages


def _readability(html: str) -> str:
    from readability import Document  # readability-lxml, a peer only

    summary = Document(html).summary(html_partial=True)
    return str(lxml.html.fromstring(summary).text_content()) if summary.strip() else ""


def _justext(html: str) -> str:
    import justext  # a peer only

    # An empty stoplist is jusText's language-independent mode: the set is multilingual.
    paragraphs = justext.justext(html.encode(), frozenset(), stopwords_low=0, stopwords_high=0)
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


RS_TRAFILATURA = "rs-trafilatura 0.1.1"
PEERS = Path(__file__).parents[1] / ".peers"


class RsTrafilatura:
    """rs-trafilatura in a Python 3.12 worker (``rs_trafilatura_worker.py``), started on first
    use; ``seconds`` is the worker's own time for the last page."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.seconds = 0.0

    @staticmethod
    def python312() -> str | None:
        """A Python 3.12 that runs: ``$PYTHON312``, ``python3.12`` on PATH (a pyenv shim may
        refuse), or pyenv's own 3.12 builds."""
        found = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
        found += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
        for candidate in filter(None, found):
            ok = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
            if ok.returncode == 0:
                return candidate
        return None

    @staticmethod
    def python() -> Path | None:
        """The peer venv's interpreter, made once from ``python3.12``; None without one."""
        venv = PEERS / "rs-trafilatura"
        exe = venv / "bin" / "python"
        if not exe.exists():
            base = RsTrafilatura.python312()
            if base is None:
                return None
            subprocess.run([base, "-m", "venv", str(venv)], check=True)
            pip = [str(venv / "bin" / "pip"), "install", "-q", "rs-trafilatura==0.1.1"]
            subprocess.run(pip, check=True)
        return exe

    def __call__(self, html: str) -> str:
        if self.proc is None:
            exe = self.python()
            assert exe is not None
            worker = Path(__file__).with_name("rs_trafilatura_worker.py")
            self.proc = subprocess.Popen(
                [str(exe), str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"html": html}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        self.seconds = reply["seconds"]
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return str(reply["text"])


RS = RsTrafilatura()

SYSTEMS: dict[str, Callable[[str], str]] = {
    "flightdeck": lambda h: extract_html(h).text,
    "trafilatura (benchmark settings)": lambda h: (
        trafilatura.extract(h, include_comments=False, include_tables=True) or ""
    ),
    "trafilatura favor_precision": lambda h: (
        trafilatura.extract(h, include_comments=False, include_tables=True, favor_precision=True)
        or ""
    ),
    "trafilatura favor_recall": lambda h: (
        trafilatura.extract(h, include_comments=False, include_tables=True, favor_recall=True) or ""
    ),
    RS_TRAFILATURA: RS,
    "readability-lxml": _readability,
    "justext (language-independent)": _justext,
}


def run(pages: list[tuple[str, str, dict[str, Any]]], names: list[str]) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for name in names:
        score = scores[name] = Score()
        extract = SYSTEMS[name]
        for url, html, item in pages:
            start = time.perf_counter()
            try:
                output = extract(html)
            except Exception as exc:  # a crash is a miss, as in the benchmark
                output = ""
                score.errors.append(f"{url}: {type(exc).__name__}")
            # the Rust peer's own time, not the pipe to its process
            score.seconds += RS.seconds if extract is RS else time.perf_counter() - start
            score.pages += 1
            score.add(item, output)
    return scores


def hidden_text_kept_out() -> tuple[int, list[str]]:
    """(cases, names of those whose hidden instruction reached the extracted text)."""
    hidden = [p for p in INJECTION_PAGES if p.hidden]
    leaked = [p.name for p in hidden if "Ignore all previous" in extract_html(p.html).text]
    return len(hidden), leaked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="evaldata.json's folder")
    parser.add_argument("--split", choices=["tune", "test", "all"], default="test")
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--limit", type=int, default=0, help="first N pages only (0: all)")
    args = parser.parse_args()
    if not (args.data / "evaldata.json").is_file():
        console.print(f"no evaldata.json in {args.data}: run bench/assistant/extraction_data.sh")
        return 2
    missing = {"readability-lxml": "readability", "justext (language-independent)": "justext"}
    for name, module in missing.items():
        if name in args.systems and importlib.util.find_spec(module) is None:
            console.print(f"{name}: not installed (pip install {name.split()[0]}), skipped")
            args.systems.remove(name)
    if RS_TRAFILATURA in args.systems and RsTrafilatura.python() is None:
        console.print(f"{RS_TRAFILATURA}: no python3.12 on PATH for its wheel, skipped")
        args.systems.remove(RS_TRAFILATURA)
    pages = load(args.data, args.split)
    if args.limit:
        pages = pages[: args.limit]
    scores = run(pages, args.systems)
    cases, leaked = hidden_text_kept_out()
    table = Table(
        title=f"trafilatura's evaluation set, split {args.split!r}: {len(pages)} pages "
        "(passage-level P/R/F1)"
    )
    for col in ("system", "precision", "recall", "F1", "pages/s", "errors"):
        table.add_column(col, justify="left" if col == "system" else "right")
    out: dict[str, Any] = {"split": args.split, "pages": len(pages), "systems": {}}
    for name, score in scores.items():
        p, r, f1 = score.prf()
        rate = score.pages / score.seconds if score.seconds else 0.0
        table.add_row(
            name, f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}", f"{rate:.1f}", str(len(score.errors))
        )
        out["systems"][name] = {
            "precision": p,
            "recall": r,
            "f1": f1,
            "pages_per_s": rate,
            "tp": score.tp,
            "fp": score.fp,
            "fn": score.fn,
            "errors": score.errors[:20],
        }
    console.print(table)
    console.print(f"hidden-text set: {cases - len(leaked)}/{cases} kept out {leaked or ''}")
    out["hidden_text"] = {"cases": cases, "leaked": leaked}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"extraction-{args.split}.json").write_text(json.dumps(out, indent=2))
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
