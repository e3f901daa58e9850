"""A file written atomically is the old one or the whole new one, never a part."""

import os

import pytest

from slowfast.utils.atomic import atomic_write, atomic_write_text


def test_text_is_written_whole_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "sub" / "RESULTS.md"
    atomic_write_text(str(path), "first\n")
    atomic_write_text(str(path), "é second\n")
    assert path.read_bytes() == "é second\n".encode()
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert os.listdir(path.parent) == ["RESULTS.md"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    path.write_text('{"rows": {}}\n')

    def half_then_fail(f):
        f.write(b'{"rows": {"24')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(path), half_then_fail)
    assert path.read_text() == '{"rows": {}}\n'
    assert os.listdir(tmp_path) == ["record.json"]
