"""The benchmark's stream generator, recorder and replay parser (not a timing test)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from matching.engine import BUY, SELL
from matching.engine.bench import generate, main, parse_stream

REPLAY = """\
# two asks, a market buy sweeping them, cancels
L 1 sell 100 5
L 2 sell 101 5
L 3 buy 99 4

M 4 buy 7
C 1
C 99
L 5 sell 99 6
C 2
"""


def _json(capsys):
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # the JSON line alone on stdout
    return json.loads(lines[0])


def test_parse_stream():
    cmds = parse_stream(REPLAY.splitlines())
    assert cmds == [
        ("L", 1, 1, SELL, 100, 5),
        ("L", 2, 2, SELL, 101, 5),
        ("L", 3, 3, BUY, 99, 4),
        ("M", 4, 4, BUY, 7),
        ("C", 1),
        ("C", 99),
        ("L", 5, 5, SELL, 99, 6),
        ("C", 2),
    ]


@pytest.mark.parametrize("line", ["X 1", "L 1 buy 100", "L 1 up 100 5", "M 1 buy", "C", "C x", "L a buy 1 1"])
def test_parse_stream_rejects_bad_lines(line):
    with pytest.raises(ValueError, match="line 2"):
        parse_stream(["C 1", line])


def test_replay_prints_one_json_line(tmp_path, capsys):
    path = tmp_path / "stream.txt"
    path.write_text(REPLAY)
    assert main(["--replay", str(path), "--quiet"]) == 0
    result = _json(capsys)
    assert set(result) >= {"ops", "trades", "seconds", "ops_per_sec", "fills", "volume"}
    assert result["ops"] == 8
    # M 4 takes 5 @100 and 2 @101; L 5 sells 4 to bid 3 and rests 2; C 2 cancels the rest of 2
    assert result["fills"] == result["trades"] == 3
    assert result["volume"] == 11
    assert result["resting"] == 1


def test_replay_of_a_bad_file_fails_cleanly(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_text("L 1 buy 100 5\nnonsense\n")
    assert main(["--replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "line 2" in captured.err
    assert main(["--replay", str(tmp_path / "missing.txt")]) == 2


def test_record_then_replay(tmp_path, capsys):
    path = tmp_path / "rec.txt"
    assert main(["--ops", "3000", "--seed", "5", "--record", str(path), "--quiet"]) == 0
    generated = _json(capsys)
    assert generated["ops"] == 3000
    assert generated["trades"] > 0
    lines = path.read_text().splitlines()
    assert len(lines) == 3000
    assert {line.split()[0] for line in lines} == {"L", "M", "C"}
    assert main(["--replay", str(path), "--quiet"]) == 0
    replayed = _json(capsys)
    assert replayed["ops"] == 3000
    assert replayed["fills"] > 0


def test_generated_stream_is_seeded_and_has_the_advertised_mix():
    a = generate(20_000, seed=3)
    assert a == generate(20_000, seed=3)
    assert a != generate(20_000, seed=4)
    mix = Counter(c[0] for c in a)
    assert abs(mix["L"] / 20_000 - 0.7) < 0.02
    assert abs(mix["M"] / 20_000 - 0.1) < 0.02
    assert abs(mix["C"] / 20_000 - 0.2) < 0.02
    assert all(1 <= c[-1] <= 100 for c in a if c[0] in "LM")
    assert len({c[2] for c in a if c[0] != "C"}) > 900  # ~1000 owners


def test_resting_option_reports_memory(capsys):
    assert main(["--ops", "500", "--resting", "2000", "--quiet"]) == 0
    result = _json(capsys)
    assert result["preloaded"] == 2000
    assert result["resting"] >= 2000
    assert result["peak_mb"] > 0


def test_stops_mix_has_the_advertised_shares_and_replays(tmp_path, capsys):
    cmds = generate(20_000, seed=3, mix="stops")
    assert cmds == generate(20_000, seed=3, mix="stops")
    mix = Counter(c[0] for c in cmds)
    assert abs(mix["L"] / 20_000 - 0.6) < 0.02
    assert abs(mix["M"] / 20_000 - 0.1) < 0.02
    assert abs(mix["S"] / 20_000 - 0.1) < 0.02
    assert abs(mix["A"] / 20_000 - 0.05) < 0.02  # an amend with nothing resting becomes a no-op cancel
    assert {c[5] is None for c in cmds if c[0] == "S"} == {True, False}  # stop-market and stop-limit
    assert main(["--ops", "5000", "--seed", "2", "--mix", "stops", "--quiet", "--record", str(tmp_path / "s.txt")]) == 0
    result = _json(capsys)
    assert result["mix"] == "stops"
    assert result["triggered"] > 0
    assert result["trades"] > 0
    lines = (tmp_path / "s.txt").read_text().splitlines()
    assert {line.split()[0] for line in lines} == {"L", "M", "C", "S", "A"}
    assert main(["--replay", str(tmp_path / "s.txt"), "--quiet"]) == 0
    replayed = _json(capsys)
    assert replayed["ops"] == 5000
    assert replayed["triggered"] > 0


def test_parse_stop_and_amend_lines():
    assert parse_stream(["S 7 buy 105 106 3", "S 8 sell 95 - 2", "A 7 2 -", "A 8 - 99"]) == [
        ("S", 7, 7, BUY, 105, 106, 3),
        ("S", 8, 8, SELL, 95, None, 2),
        ("A", 7, 2, None),
        ("A", 8, None, 99),
    ]
    for bad in ("S 1 buy 100 5", "A 1 2", "S 1 buy x - 1"):
        with pytest.raises(ValueError, match="line 1"):
            parse_stream([bad])
