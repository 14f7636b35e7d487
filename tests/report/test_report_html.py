"""report.html: self-contained, complete, escaped, well-formed; and the end-of-run hook never costs the run."""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser

import pytest

from glassgpt.cli import main
from glassgpt.models.from_run import load
from glassgpt.report import finish_run, write_report

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Collects images, links, scripts and checks that every element is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
        self.images, self.links, self.scripts, self.ids = [], [], 0, []
        self.text = []
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.images.append(a)
        elif tag == "link":
            self.links.append(a)
        elif tag == "script":
            self.scripts += 1
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._cell or []))
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert not page.errors, page.errors[:5]
    assert not page.stack, f"unclosed: {page.stack}"
    return page


@pytest.fixture(scope="module")
def report(full_report):
    return full_report.read_text(encoding="utf-8")


def test_report_is_valid_and_self_contained(report):
    assert report.startswith("<!DOCTYPE html>")
    page = parse(report)
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]", report.replace("data:image/png;base64,", "")), (
        "the report must not reference the network"
    )
    assert page.scripts == 0
    assert '<meta name="viewport"' in report and "max-width: 100%" in report
    assert len(page.images) >= 10
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,"), img["src"][:40]
        assert img.get("alt")
    for link in page.links:
        assert link["href"].startswith("data:")
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"


def test_report_holds_config_params_samples_evaluation_and_explain(report, report_run):
    page = parse(report)
    text = "".join(page.text)
    cfg = json.loads((report_run / "config.json").read_text())
    rows = {r[0]: r[1:] for r in page.rows if r}
    # configuration: every key with its value
    assert ["32"] == rows["n_embd"] and ["2"] == rows["n_layer"] and ["char"] == rows["tokenizer"]
    assert all(key in rows for key in cfg["train"])
    # parameters: the total row equals the model's own count
    model, _ = load(report_run)
    assert rows["total"][1] == f"{model.num_params():,}"
    # samples with their step
    for s in (json.loads(line) for line in (report_run / "samples.jsonl").read_text().splitlines()):
        assert s["text"].strip()[:30] in text
        assert f"step {s['step']}" in text
    # the final evaluation
    final = json.loads((report_run / "summary.json").read_text())["final"]
    assert f"{final['val_loss']:.4f}" in text
    # the explain strip: one span per token, each prediction with its numbers in a title
    tokens = re.findall(r'<span class="tok( ctx)?"[^>]*>', report)
    assert len(tokens) == min(60, model.config.block_size) + 1
    titled = re.findall(
        r'<span class="tok" style="background:#[0-9a-f]{6}" title="target [^"]*P = [0-9.]+ · '
        r"loss [0-9.]+ nats · rank \d+",
        report,
    )
    assert len(titled) == len(tokens) - 1
    assert "mean loss" in text and "hardest predictions" in text


def test_everything_from_the_run_is_escaped(run_copy):
    evil = "<script>alert('x')</script> & <b>bold</b>"
    with open(run_copy / "samples.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": 999, "text": evil}) + "\n")
    cfg = json.loads((run_copy / "config.json").read_text())
    cfg["preset"] = "<img src=x onerror=alert(1)>"
    (run_copy / "config.json").write_text(json.dumps(cfg))
    html = write_report(run_copy, figures=False).path.read_text(encoding="utf-8")
    assert "<script" not in html and "<b>bold" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    parse(html)


def test_report_without_matplotlib_or_summary_still_writes(run_copy, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    (run_copy / "summary.json").unlink()
    (run_copy / "report.html").unlink()
    result = finish_run(run_copy)
    html = result.path.read_text(encoding="utf-8")
    assert "<img" not in html and "not installed" in html
    assert "has not finished yet" in html
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib" in err
    parse(html)


def test_report_cli(run_copy, capsys):
    (run_copy / "report.html").unlink()
    assert main(["report", str(run_copy), "--no-plots"]) == 0
    assert (run_copy / "report.html").is_file()
    assert "wrote" in capsys.readouterr().out


def test_a_failing_report_does_not_lose_the_run(tmp_path, monkeypatch, capsys, make_config, report_text):
    import glassgpt.report
    from glassgpt.api import train

    def broken(run_dir, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(glassgpt.report, "finish_run", broken)
    monkeypatch.setenv("GLASSGPT_REPORT", "1")
    result = train(
        tmp_path / "run", config=make_config(max_steps=3, diagnostics_every=0, eval_every=0), text=report_text
    )
    assert result.steps == 3 and (tmp_path / "run" / "summary.json").is_file()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("note: the run is saved") and "disk on fire" in err[-1]

    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    train(tmp_path / "quiet", config=make_config(max_steps=2, diagnostics_every=0, eval_every=0), text=report_text)
    assert not (tmp_path / "quiet" / "report.html").exists()


def test_a_broken_section_becomes_a_note_not_a_crash(run_copy):
    (run_copy / "summary.json").write_text(json.dumps({"steps": 3, "final": "garbage"}))
    html = write_report(run_copy, figures=False).path.read_text(encoding="utf-8")
    assert "could not be built" in html and "Configuration" in html
    parse(html)
