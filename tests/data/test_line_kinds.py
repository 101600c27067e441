"""Issue 23 D: an input of the wrong kind is named for what it is (a fifo or a device is not "a directory"),
and refused before it is opened (reading a fifo blocks, /dev/zero never ends)."""

from __future__ import annotations

import os

import pytest

from xalign.cli.main import main
from xalign.data.lines import LineFile
from xalign.errors import DataError, MissingFileError


def test_each_kind_is_named(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, found in [(fifo, "found a fifo"), ("/dev/zero", "found a character device"),
                        (tmp_path, "found a directory")]:
        with pytest.raises(DataError, match=f"expected a source file at {path}, {found}"):
            LineFile(path, what="source file")
    with pytest.raises(MissingFileError, match="not found"):
        LineFile(tmp_path / "nope.txt")


def test_cli_names_a_fifo_src_file_in_one_line(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("a\n")
    code = main(["embed", "--src-file", str(fifo), "--tgt-file", str(tgt), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == (f"xalign embed: error: expected a source file at {fifo}, found a fifo (named pipe); "
                                 f"xalign reads regular files only")
