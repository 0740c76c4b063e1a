"""Hostile output: every path a kernel's messages take is bounded, and student text stays text.

Issue 10 found holes in what the grader keeps of a kernel's messages and in what it writes:

- display updates bypassed the per-cell output limit (a 1 MiB limit gave a 209 MB
  ``executed.ipynb`` and 2.4 GB of grader memory), comm messages were unbounded, and a
  malformed ``jupyter.widget`` comm crashed nbclient, leaving the submission ungraded;
- a cell that ignores SIGINT added the grader's own 300 s cell limit to any ``--timeout``;
- error values, layer names and LMS names reached ``report.md``, ``gradebook.csv`` and
  ``canvas.csv`` raw.

Issue 23 found that a kernel could make the grader hold whatever it sent through its own IOPub
session, however the output limits counted it: one message of many parts is received whole.

The first tests feed :class:`~grader.execute.run.BoundedClient` crafted messages, as a hostile
kernel can send them (a notebook can reach its kernel's session and sockets); the ``notebook``
tests grade real notebooks through the command line, and an honest notebook graded beside them
keeps its golden score.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from nbformat.v4 import new_code_cell, new_notebook
from rich.console import Console

from grader.cli import main
from grader.execute.client import BoundedClient
from grader.report.terminal import print_report
from grader.results import GradeResult
from tests.conftest import EXAMPLES, ROOT

GOLDENS = ROOT / "tests" / "goldens" / "cifar10_transfer"
AFTER = "print('after')"  # a harmless cell after each attack: the kernel must still run it

# --- crafted messages, no kernel -----------------------------------------------------------------


def client(cells: int = 3, *, cell_kb: int = 64, notebook_kb: int = 1024) -> BoundedClient:
    nb = new_notebook(cells=[new_code_cell(f"cell {i}") for i in range(cells)])
    for cell in nb.cells:
        cell.outputs = []
    c = BoundedClient(
        nb,
        max_output_bytes=cell_kb * 1024,
        max_notebook_bytes=notebook_kb * 1024,
        record_timing=False,
    )
    c.clear_before_next_output = False  # as nbclient's execute_cell sets it
    return c


def message(msg_type: str, content: object) -> dict[str, object]:
    return {
        "msg_type": msg_type,
        "content": content,
        "header": {"msg_type": msg_type},
        "parent_header": {"msg_id": "m"},
        "metadata": {},
        "buffers": [],
    }


def display(text: str, display_id: str, kind: str = "display_data") -> dict[str, object]:
    content = {"data": {"text/html": text}, "metadata": {}, "transient": {"display_id": display_id}}
    return message(kind, content)


def send(c: BoundedClient, cell: int, msg: dict[str, object]) -> None:
    c.process_message(msg, c.nb.cells[cell], cell)


def notebook_size(c: BoundedClient) -> int:
    return len(nbformat.writes(c.nb))


def test_display_updates_count_against_the_running_cell_and_are_cut() -> None:
    """Updates rewrite earlier outputs, of any cell, once per output shown under the id."""
    c = client()
    for _ in range(100):
        send(c, 0, display(".", "same"))  # 100 tiny outputs under one id, in cell 0
    assert c.truncated == {}
    for n in range(1, 40):
        send(c, 1, display("y" * (n * 10_000), "same", "update_display_data"))
    # The first update alone would have written 100 x 10 kB into cell 0's outputs.
    assert set(c.truncated) == {1} and "64 KiB" in c.truncated[1]
    assert notebook_size(c) < 100_000
    assert c.nb.cells[0].outputs[0]["data"]["text/html"] == "."
    assert "[grader] output cut" in c.nb.cells[1].outputs[-1]["text"]


def test_many_display_ids_and_cells_stop_at_the_notebook_limit() -> None:
    c = client(cells=40, cell_kb=64, notebook_kb=512)
    for cell in range(40):
        for i in range(10):
            send(c, cell, display("z" * 5_000, f"d{cell}-{i}"))  # 50 kB per cell: under 64 KiB
        send(c, cell, display("w" * 5_000, f"d{cell}-0", "update_display_data"))
    assert min(c.truncated) > 0
    assert all("notebook's output passed 512 KiB" in why for why in c.truncated.values())
    assert notebook_size(c) < 600 * 1024


def test_comms_are_dropped_and_malformed_messages_never_end_a_grade() -> None:
    c = client()
    huge_state = {"_model_name": "X", "_model_module": "m", "value": "v" * 1_000_000}
    for msg in [
        message("comm_open", {"comm_id": "1", "target_name": "jupyter.widget", "data": {}}),
        message("comm_open", {"comm_id": "2", "target_name": "jupyter.widget", "data": 5}),
        message("comm_open", {"comm_id": "3", "target_name": "nope", "data": {"state": 7}}),
        message("comm_msg", {"comm_id": "4", "data": {"state": huge_state}}),
        message("comm_close", {}),
        message("status", {}),  # no execution_state
        message("status", []),
        message("stream", {"name": "stdout", "text": ["not", "a", "string"]}),
        message("error", {"ename": "E", "evalue": "v", "traceback": [1, 2]}),
        message("display_data", {"data": [], "metadata": {}}),
        message("display_data", {"data": {}, "transient": {"display_id": ["unhashable"]}}),
        message("execute_input", {"code": "", "execution_count": "x" * 1_000_000}),
        message("update_display_data", {"data": {}, "transient": {"display_id": {}}}),
        message("clear_output", {"wait": "yes"}),
    ]:
        send(c, 0, msg)
    assert c.dropped["comm"] == 5 and c.dropped["malformed"] >= 8
    assert c.widget_state == {} and c.widget_buffers == {} and c.comm_objects == {}
    send(c, 0, message("stream", {"name": "stdout", "text": "still here\n"}))
    assert c.nb.cells[0].outputs[-1]["text"] == "still here\n"
    assert c.nb.cells[0].get("execution_count") is None
    nbformat.validate(c.nb)


# --- real kernels ------------------------------------------------------------------------------

DISPLAY_FLOOD = [
    # 200 displays, then each replaced by 1 MB: 200 MB kept, and written, if updates are free.
    "from IPython.display import HTML, display, update_display\n"
    "for i in range(200):\n"
    "    display(HTML('<b>.</b>'), display_id=f'd{i}')\n"
    "big = HTML('<i>' + 'x' * 1_000_000 + '</i>')\n"
    "for i in range(200):\n"
    "    update_display(big, display_id=f'd{i}')",
    # 100 outputs under one id, each rewritten by every growing update (the 209 MB).
    "for i in range(100):\n"
    "    display(HTML('<p>.</p>'), display_id='same')\n"
    "for n in range(1, 21):\n"
    "    update_display(HTML('y' * (n * 50_000)), display_id='same')",
    AFTER,
]

# The grader's own high-water mark, VmHWM: that of the memory map exec gave it. Not ru_maxrss,
# which Linux carries over from the process that forked it (a pytest worker that built large
# arrays reads as the grader's peak: 3 GB for a one-cell notebook).
PEAK_RSS = """\
import re, sys
from pathlib import Path
from grader.cli import main
try:
    main(sys.argv[1:])
finally:
    hwm = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]
    print("peak-rss-kb", hwm, file=sys.stderr)
"""


def stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb: nbformat.NotebookNode = new_notebook(cells=[new_code_cell(c) for c in cells])
    return nb


def grade_measured(folder: Path, out: Path, *options: str) -> int:
    """``grader grade FOLDER`` in a fresh process (``-j 1``); returns its peak RSS in bytes."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "grade", str(folder), "-a", "cifar10_transfer",
         "--out", str(out), "--budget", "smoke", "-j", "1", "--force", *options],
        capture_output=True, text=True, env=os.environ, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("peak-rss-kb"))
    return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
def plain_rss(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The grader's peak RSS grading a one-cell notebook: the baseline each flood is measured
    against, measured once (a grader process and a kernel) for the module's floods. The first
    grader run of the module, so any calibration falls there."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "in").mkdir()
    nbformat.write(notebook(AFTER), folder / "in" / "plain.ipynb")
    # The smallest output limit the floods are graded with: a plain notebook's output is one
    # line, so the limit changes nothing of its grade but its context.
    return grade_measured(folder / "in", folder / "out", "--output-limit", "64")


@pytest.mark.notebook
def test_display_update_flood_is_cut_and_the_grader_memory_stays_flat(
    tmp_path: Path, plain_rss: int
) -> None:
    (tmp_path / "flood").mkdir()
    nbformat.write(notebook(*DISPLAY_FLOOD), tmp_path / "flood" / "flood.ipynb")
    # The same grader run as for the plain notebook, on the flood.
    plain = plain_rss
    flood = grade_measured(tmp_path / "flood", tmp_path / "out", "--output-limit", "64")
    result = GradeResult.from_json((tmp_path / "out" / "flood" / "result.json").read_text())
    assert result.outcome == "output_truncated"
    assert [(i.outcome, i.cell) for i in result.incidents] == [
        ("output_truncated", 0),
        ("output_truncated", 1),
    ]
    assert [c.status for c in result.cells] == ["ok", "ok", "ok"]  # each cell ran to its end
    executed = tmp_path / "out" / "flood" / "executed.ipynb"
    assert executed.stat().st_size < 3 * 64 * 1024 + 50_000, executed.stat().st_size
    nb = nbformat.read(executed, as_version=4)
    assert "[grader] output cut" in nb.cells[0].outputs[-1]["text"]
    assert nb.cells[2].outputs[0]["text"] == "after\n"
    print(f"grader peak RSS: plain {plain / 2**20:.0f} MiB, flood {flood / 2**20:.0f} MiB")
    # What remains is messages in flight (ZeroMQ queues them while the grader is busy): at
    # most the flood's 200 MB, against +1.1 GB when display updates were not counted.
    assert flood - plain < 300 * 2**20, (plain, flood)


IOPUB_FLOOD = (
    # Issue 23: pre-packed 128 MiB messages through the kernel's own IOPub session; the grader
    # received and decoded each whole before its output limit could count it.
    "k = get_ipython().kernel\n"
    "packed = k.session.pack({'name': 'stdout', 'text': 'x' * (128 << 20)})\n"
    "for _ in range(8):\n"
    "    msg = k.session.msg('stream', packed, parent=k.get_parent())\n"
    "    k.iopub_socket.send_multipart(k.session.serialize(msg))\n"
    "print('sent')"
)
MULTIPART_FLOOD = (
    # Issue 23's last gap: messages of many parts, each far below the 8 MiB part bound. libzmq
    # hands a message over only whole, so whichever process receives one holds all of it.
    "k = get_ipython().kernel\n"
    "part = b'x' * (4 << 20)\n"
    "msg = k.session.msg('stream', {'name': 'stdout', 'text': 'x'}, parent=k.get_parent())\n"
    "for _ in range(2):  # 2 x 1 GiB, zero copies in the kernel\n"
    "    k.iopub_socket.send_multipart(k.session.serialize(msg) + [part] * 256, copy=False)\n"
    "print('sent')"
)
RELAY_WAIT = (
    # The flood is sent asynchronously: on a busy machine the kernel's relay can still be
    # reading its first message when the flood's cell ends. Long enough for the relay to end
    # during this cell rather than after the last one; stopped with the kernel, it costs nothing.
    "import time\ntime.sleep(120)\nprint('after')"
)


@dataclass(frozen=True)
class Floods:
    """One ``-j 1`` batch of both IOPub floods and an honest notebook, graded after them."""

    out: Path
    plain: int
    """The grader's peak RSS grading a one-cell notebook (:func:`plain_rss`)."""
    peak: int
    """The grader's peak RSS over the whole batch."""

    def result(self, stem: str) -> GradeResult:
        return GradeResult.from_json((self.out / stem / "result.json").read_text())


@pytest.fixture(scope="module")
def floods(tmp_path_factory: pytest.TempPathFactory, plain_rss: int) -> Floods:
    """The two floods through the kernel's own IOPub session share one grader process: each
    runs in a kernel of its own, and the honest notebook after both must score as alone. One
    batch instead of one per flood spares a full-marks notebook run and a grader start; the
    grader's peak bounds both floods at once (either, received whole, takes it past 1.3 GB)."""
    folder = tmp_path_factory.mktemp("floods")
    (folder / "batch").mkdir()
    nbformat.write(notebook(IOPUB_FLOOD, AFTER), folder / "batch" / "flood_iopub.ipynb")
    nbformat.write(notebook(MULTIPART_FLOOD, RELAY_WAIT), folder / "batch" / "flood_parts.ipynb")
    shutil.copy(EXAMPLES / "full_marks.ipynb", folder / "batch" / "honest.ipynb")
    peak = grade_measured(folder / "batch", folder / "out")
    print(f"grader peak RSS: plain {plain_rss / 2**20:.0f} MiB, honest beside both floods "
          f"{peak / 2**20:.0f} MiB")  # fmt: skip
    return Floods(folder / "out", plain_rss, peak)


def honest_scores_as_alone(floods: Floods) -> None:
    """The honest notebook, graded in the same grader process as the floods, scores as alone."""
    honest = floods.result("honest")
    golden = json.loads((GOLDENS / "full_marks.json").read_text())
    assert {c.id: c.status for c in honest.checks} == golden["checks"]
    assert honest.score == golden["score"] and honest.incidents == []


@pytest.mark.notebook
def test_an_iopub_flood_is_refused_unread_beside_an_honest_notebook(floods: Floods) -> None:
    # 1 GiB was sent; the grader never held a message of it (+1.5 GB per GiB when it did).
    assert floods.peak - floods.plain < 256 * 2**20, (floods.plain, floods.peak)
    flood = floods.result("flood_iopub")
    assert flood.outcome == "output_truncated", flood.incidents
    assert [c.status for c in flood.cells] == ["ok", "ok"]
    assert "more than 8 MiB, dropped unread" in flood.incidents[0].detail
    executed = nbformat.read(floods.out / "flood_iopub" / "executed.ipynb", as_version=4)
    assert stdout(executed.cells[1]) == "after\n"  # the reconnected kernel runs on
    honest_scores_as_alone(floods)


@pytest.mark.notebook
def test_a_flood_of_many_part_messages_stops_its_kernel_beside_an_honest_notebook(
    floods: Floods,
) -> None:
    # 2 GiB were sent in 4 MiB parts; the kernel's relay, a process of its own, ended on the
    # first message: the grader (VmHWM counts no child) never held any of it. Received
    # whole, one message alone would take the grader past 1.3 GB.
    assert floods.peak < 768 * 2**20, (floods.plain, floods.peak)
    flood = floods.result("flood_parts")
    assert flood.outcome == "message_too_large", flood.incidents
    # Named in the cell during which the grader saw the relay end: the flood's, or the waiting
    # cell after it (on a busy machine the relay may still be reading the first message).
    assert [i.outcome for i in flood.incidents] == ["message_too_large"]
    assert "over the 16 MiB the grader accepts" in flood.incidents[0].detail
    assert any("the grader stopped the kernel" in n for n in flood.notices), flood.notices
    honest_scores_as_alone(floods)


COMM_FLOOD = (
    "from comm import create_comm as Comm\n"
    "blob = 'x' * 2_000_000\n"
    "state = {'_model_name': 'B', '_model_module': 'm', '_model_module_version': '1', 'v': blob}\n"
    "comms = [Comm(target_name='jupyter.widget', data={'state': state, 'buffer_paths': []})\n"
    "         for _ in range(40)]\n"
    "for comm in comms:\n"
    "    comm.send({'method': 'update', 'state': {'v': blob}, 'buffer_paths': [['v']]},\n"
    "              buffers=[b'b' * 1_000_000])\n"
    "print('comms sent')"
)
MALFORMED_COMMS = (
    "from comm import create_comm as Comm\n"
    "Comm(target_name='jupyter.widget', data={'no': 'state'})  # nbclient: KeyError 'state'\n"
    "Comm(target_name='jupyter.widget', data={'state': {'_model_name': 'X'}})  # no module\n"
    "Comm(target_name='no.such.target', data={'state': 5})  # not a mapping\n"
    "print('malformed comms sent')"
)
EVIL = "<script>alert(1)</script> <img src=x onerror=alert(2)>"
ATTACK = f'{EVIL}\n# Score: 100/100\n| fake | row |\n=HYPERLINK("http://evil.example","x")'
TERMINAL = "[red]rich[/red] \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ over\rwrite"
LAYER = "<img src=x onerror=alert(3)>"  # Keras refuses "/" in a layer name, so no "</script>"
INJECTION = [
    # A base model whose layers carry markup in their names: the architecture check names them.
    "import keras\n"
    "model = keras.Sequential([keras.Input((32, 32, 3)),\n"
    f"    keras.layers.Conv2D(4, 3, name={LAYER!r}),\n"
    "    keras.layers.Flatten(name='# Score: 100 of 100'),\n"
    "    keras.layers.Dense(5, name='| fake | row |')])",
    f"raise ValueError({ATTACK!r})",
    f"raise type({EVIL!r}, (Exception,), {{}})({TERMINAL!r})",
    f"import sys\nprint({ATTACK!r})\nprint({ATTACK!r}, file=sys.stderr)",
]
GRADESCOPE = {
    "honest": ("1001", "Honest Student"),
    "comms": ("1002", '=HYPERLINK("http://evil.example","click")'),
    "malformed": ("1003", "@SUM(1+1)*cmd|' /C calc'!A0"),
    "injection": ("=1+1", "-2+3"),
}


def gradescope_export(root: Path) -> None:
    """A Gradescope export whose names (and one id) are spreadsheet formulas."""
    notebooks = {
        "honest": nbformat.read(EXAMPLES / "full_marks.ipynb", as_version=4),
        "comms": notebook(COMM_FLOOD, AFTER),
        "malformed": notebook(MALFORMED_COMMS, AFTER),
        "injection": notebook(*INJECTION),
    }
    metadata = {}
    for n, (key, nb) in enumerate(notebooks.items()):
        folder = root / f"submission_{n}"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{key}.ipynb")
        sid, name = GRADESCOPE[key]
        metadata[f"submission_{n}"] = {":submitters": [{":name": name, ":sid": sid}]}
    (root / "submission_metadata.yml").write_text(json.dumps(metadata))  # JSON is YAML


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.headings: list[str] = []
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        self._heading = self._heading and tag not in ("h1", "h2", "h3", "h4", "h5", "h6")

    def handle_data(self, data: str) -> None:
        if self._heading:
            self.headings[-1] += data


def rendered_tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


@pytest.mark.notebook
def test_comm_floods_malformed_widgets_and_injection_beside_an_honest_notebook(
    tmp_path: Path,
) -> None:
    hand_in = tmp_path / "export"
    gradescope_export(hand_in)
    out = tmp_path / "out"
    run = CliRunner().invoke(
        main,
        ["grade", str(hand_in), "-a", "cifar10_transfer", "--out", str(out), "--budget", "smoke",
         "-j", "1", "--force"],  # --force: executed here, never served from the result cache
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    batch = {
        e["student_id"]: e for e in json.loads((out / "batch.json").read_text())["submissions"]
    }
    assert {sid: e["status"] for sid, e in batch.items()} == dict.fromkeys(
        ("1001", "1002", "1003", "1_1"), "graded"
    )
    results = {sid: GradeResult.from_json((out / sid / "result.json").read_text()) for sid in batch}

    # Widgets are dropped, malformed or not: the cells after them run, nothing is kept.
    for sid, said in (("1002", "comms sent\n"), ("1003", "malformed comms sent\n")):
        assert results[sid].outcome == "ok", results[sid].incidents
        assert [c.status for c in results[sid].cells] == ["ok", "ok"]
        executed = nbformat.read(out / sid / "executed.ipynb", as_version=4)
        assert [stdout(cell) for cell in executed.cells] == [said, "after\n"]
        assert "widgets" not in executed.metadata
        assert (out / sid / "executed.ipynb").stat().st_size < 50_000

    # Student text in every report and export stays text.
    injected = results["1_1"]
    assert [c.status for c in injected.cells] == ["ok", "error", "error", "ok"]
    assert injected.cells[1].error_value == ATTACK and injected.cells[2].error_name == EVIL
    assert any(LAYER in c.message for c in injected.checks)  # the layer name, quoted
    md = (out / "1_1" / "report.md").read_text()
    html_of_md = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    tags = rendered_tags(html_of_md)
    assert not {"script", "img", "a"} & set(tags.tags), set(tags.tags)
    assert tags.tags.count("h1") == 1 and not any(h.startswith("Score") for h in tags.headings)
    assert "\x1b" not in md
    report = rendered_tags((out / "1_1" / "report.html").read_text())
    assert not {"script", "img", "a"} & set(report.tags)
    index = rendered_tags((out / "index.html").read_text())
    assert "script" not in index.tags and "img" not in index.tags
    terminal = io.StringIO()
    print_report(injected, "instructor", Console(file=terminal, force_terminal=True, width=120))
    printed = terminal.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", printed).count("\x1b") == 0  # rich's colours only
    assert "[red]rich[/red]" in printed and "\r" not in printed

    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as fh:
        book = {row["student_id"]: row for row in csv.DictReader(fh)}
    with (out / "canvas.csv").open(newline="", encoding="utf-8") as fh:
        canvas = list(csv.reader(fh))
    for sid, name in [("1002", GRADESCOPE["comms"][1]), ("1003", GRADESCOPE["malformed"][1]),
                      ("1_1", GRADESCOPE["injection"][1])]:  # fmt: skip
        assert book[sid]["name"] == "'" + name
        assert ["'" + name, sid] in [row[:2] for row in canvas]
    assert book["1001"]["name"] == "Honest Student"

    # The honest notebook, graded in the same process beside all of that, scores as alone.
    honest = results["1001"]
    golden = json.loads((GOLDENS / "full_marks.json").read_text())
    assert {c.id: c.status for c in honest.checks} == golden["checks"]
    assert honest.score == golden["score"] and honest.outcome == "ok"
    assert honest.incidents == [] and float(book["1001"]["total"]) == golden["score"]


IGNORES_SIGINT = (
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
)


@pytest.mark.notebook
def test_a_kernel_that_ignores_sigint_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    """Issue 10: such a cell added the grader's own 300 s cell limit to any --timeout."""
    folder = tmp_path / "in"
    folder.mkdir()
    nbformat.write(notebook(IGNORES_SIGINT, AFTER), folder / "deaf.ipynb")
    began = time.monotonic()
    run = CliRunner().invoke(
        main,
        ["grade", str(folder), "-a", "cifar10_transfer", "--out", str(tmp_path / "out"),
         "--budget", "smoke", "-j", "1", "--force", "--cell-timeout", "5", "--timeout", "20"],
    )  # fmt: skip
    wall = time.monotonic() - began
    assert run.exit_code == 0, run.output
    result = GradeResult.from_json((tmp_path / "out" / "deaf" / "result.json").read_text())
    assert result.outcome == "timeout"
    assert [c.status for c in result.cells] == ["timeout", "skipped"]
    assert "so the kernel was killed" in result.cells[0].error_value
    assert any("the grader stopped the kernel" in n for n in result.notices)
    # Kernel start and the grader's set-up (importing Keras), the cell's 5 s, a 5 s grace:
    # far below the timeout plus the grader's own 300 s cell limit it used to take.
    assert result.timings["execute"] < 20 + 40, result.timings
    assert wall < 20 + 120, wall
