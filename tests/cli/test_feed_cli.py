"""``appcase feed``: CloudEvents JSON lines, --after, --limit, --follow; a clean stop on
SIGTERM; ``appcase relay`` refuses bad input and prints its status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from appcase.bootstrap import open_engine
from appcase.clock import FixedClock
from tests.builders import cli_database, local, run_cli


def database(tmp_path: Path) -> Path:
    template, _ = cli_database(tmp_path / "t")
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template, path)
    return path


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_feed_prints_cloudevents_after_a_position(tmp_path: Path) -> None:
    db = database(tmp_path)
    every = lines(run_cli(db, "feed", "--after", "0").output)
    assert len(every) > 10
    ids = [int(str(e["id"])) for e in every]
    assert ids == sorted(ids)
    first = every[0]
    assert first["specversion"] == "1.0"
    assert first["source"] == "urn:appcase:campaign:hunan-2018"
    assert first["type"] == "org.appcase.case.survey"
    assert first["subject"] == first["data"]["case_id"]  # type: ignore[index]
    some = lines(run_cli(db, "feed", "--after", str(ids[2]), "--limit", "3").output)
    assert [int(str(e["id"])) for e in some] == ids[3:6]
    assert run_cli(db, "feed", "--after", str(ids[-1])).output == ""


def test_feed_refuses_a_negative_position(tmp_path: Path) -> None:
    db = database(tmp_path)
    assert run_cli(db, "feed", "--after", "-1").exit_code == 2
    assert run_cli(db, "feed", "--limit", "0").exit_code == 2


def test_follow_prints_events_committed_later(tmp_path: Path) -> None:
    db = database(tmp_path)
    before = len(lines(run_cli(db, "feed").output))

    def later() -> None:
        time.sleep(0.3)
        engine = open_engine(f"sqlite:///{db}", clock=FixedClock(local(4, 30, 12)))
        try:
            engine.survey(
                {"name": "后来的应用", "operator": "后来公司", "uscc": "914403001922038216",
                 "prefecture": "430100"},
                actor="cs-cac", at=local(2, 20, 9),
            )  # fmt: skip
        finally:
            engine.close()

    writer = threading.Thread(target=later)
    writer.start()
    out = run_cli(db, "feed", "--follow", "--interval", "0.05", "--limit", str(before + 1))
    writer.join()
    got = lines(out.output)
    assert len(got) == before + 1
    assert got[-1]["type"] == "org.appcase.case.survey"


def test_follow_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = database(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "appcase", "--db", str(db), "feed", "--follow", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert json.loads(first)["specversion"] == "1.0"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_relay_needs_a_receiver_and_a_good_secret(tmp_path: Path) -> None:
    db = database(tmp_path)
    assert run_cli(db, "relay").exit_code == 2
    secret = tmp_path / "secret"
    secret.write_text("not-a-secret-XYZZY", encoding="utf-8")
    bad = run_cli(db, "relay", "--url", "http://127.0.0.1:9/", "--secret-file", str(secret))
    assert bad.exit_code == 2
    assert "XYZZY" not in bad.output
    missing = run_cli(db, "relay", "--url", "http://127.0.0.1:9/", "--secret-file", "nope")
    assert missing.exit_code == 2


def test_relay_status_before_and_after_a_run(tmp_path: Path) -> None:
    db = database(tmp_path)
    status = json.loads(run_cli(db, "relay", "--receiver", "hotline", "--status",
                                as_json=True).output)  # fmt: skip
    assert status == {"receiver": "hotline", "position": 0, "delivered": 0}
    text = run_cli(db, "relay", "--status").output
    assert "position: 0" in text
