"""read_text: the user's own files, every bad input one clear DataError; describe_text."""

import os

import pytest

from glassgpt.data import describe_text, read_text
from glassgpt.data import text as text_module
from glassgpt.data.text import decode_text
from glassgpt.errors import DataError, GlassError


def _one_sentence(err: DataError, path=None) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.endswith(".")
    assert isinstance(err, GlassError)
    if path is not None:
        assert str(path) in msg
    return msg


# --- good files ---------------------------------------------------------------------------
def test_reads_utf8_text_unchanged(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("héllo wörld\nzweite Zeile\n".encode())
    assert read_text(p) == "héllo wörld\nzweite Zeile\n"
    assert read_text(str(p)) == "héllo wörld\nzweite Zeile\n"


def test_strips_bom_and_normalises_line_ends_without_touching_the_file(tmp_path):
    p = tmp_path / "windows.txt"
    raw = b"\xef\xbb\xbfline one\r\nline two\rline three\r\n"
    p.write_bytes(raw)
    before = os.stat(p)
    assert read_text(p) == "line one\nline two\nline three\n"
    assert p.read_bytes() == raw
    assert os.stat(p).st_mtime_ns == before.st_mtime_ns


def test_any_file_name_is_accepted(tmp_path):
    p = tmp_path / "corpus.md"
    p.write_text("# notes\n", encoding="utf-8")
    assert read_text(p) == "# notes\n"


# --- bad files: one sentence each -------------------------------------------------------------
def test_missing_path(tmp_path):
    p = tmp_path / "nope.txt"
    with pytest.raises(DataError) as e:
        read_text(p)
    assert "does not exist" in _one_sentence(e.value, p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(DataError) as e:
        read_text(p)
    assert "is empty" in _one_sentence(e.value, p)


def test_whitespace_only_file(tmp_path):
    p = tmp_path / "blank.txt"
    p.write_bytes(b" \n\t\r\n\n")
    with pytest.raises(DataError) as e:
        read_text(p)
    assert "only whitespace" in _one_sentence(e.value, p)


def test_bom_only_file_is_empty(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(DataError, match="is empty"):
        read_text(p)


def test_binary_file_names_the_nul_offset(tmp_path):
    p = tmp_path / "model.bin"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
    with pytest.raises(DataError) as e:
        read_text(p)
    msg = _one_sentence(e.value, p)
    assert "binary" in msg and "byte offset 4" in msg


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("café au lait".encode("latin-1"))  # 'é' = 0xe9 at offset 3
    with pytest.raises(DataError) as e:
        read_text(p)
    msg = _one_sentence(e.value, p)
    assert "not valid UTF-8" in msg and "byte offset 3" in msg and "0xe9" in msg


def test_invalid_utf8_offset_counts_the_bom(tmp_path):
    p = tmp_path / "bom_latin1.txt"
    p.write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(DataError, match="byte offset 5"):
        read_text(p)


def test_truncated_utf8_sequence_at_the_end(tmp_path):
    p = tmp_path / "cut.txt"
    p.write_bytes("ok €".encode()[:-1])  # '€' is 3 bytes, cut after 2
    with pytest.raises(DataError, match="byte offset 3"):
        read_text(p)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    p = tmp_path / "secret.txt"
    p.write_text("hidden\n", encoding="utf-8")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(text_module, "open", denied, raising=False)
    with pytest.raises(DataError) as e:
        read_text(p)
    assert "permission denied" in _one_sentence(e.value, p)


def test_other_os_error_is_a_data_error(tmp_path, monkeypatch):
    p = tmp_path / "flaky.txt"
    p.write_text("x\n", encoding="utf-8")

    def io_error(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(text_module, "open", io_error, raising=False)
    with pytest.raises(DataError, match="Input/output error"):
        read_text(p)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX fifos")
def test_not_a_regular_file(tmp_path):
    p = tmp_path / "pipe"
    os.mkfifo(p)
    with pytest.raises(DataError) as e:
        read_text(p)  # must not block reading the fifo
    assert "not a regular file" in _one_sentence(e.value, p)


# --- folders ----------------------------------------------------------------------------------
def test_folder_joins_txt_files_in_relative_path_order(tmp_path):
    (tmp_path / "b.txt").write_text("bee\n\n\n", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z.txt").write_text("zed", encoding="utf-8")
    (tmp_path / "a" / "y.TXT").write_bytes(b"\xef\xbb\xbfwhy\r\n")
    (tmp_path / "c.md").write_text("not included\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden file\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden folder\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    assert read_text(tmp_path) == "why\n\nzed\n\nbee\n"


def test_folder_without_txt_files(tmp_path):
    (tmp_path / "notes.md").write_text("text\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError) as e:
        read_text(tmp_path)
    assert "no .txt files" in _one_sentence(e.value, tmp_path)


def test_folder_with_only_empty_txt_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b"\n\n")
    with pytest.raises(DataError) as e:
        read_text(tmp_path)
    assert "empty" in _one_sentence(e.value, tmp_path)


def test_folder_with_a_binary_txt_names_that_file(tmp_path):
    (tmp_path / "good.txt").write_text("fine\n", encoding="utf-8")
    bad = tmp_path / "sub" / "bad.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"abc\x00def")
    with pytest.raises(DataError) as e:
        read_text(tmp_path)
    assert "binary" in _one_sentence(e.value, bad)


def test_folder_with_invalid_utf8_names_that_file(tmp_path):
    bad = tmp_path / "old.txt"
    bad.write_bytes(b"ok\n\x80")
    with pytest.raises(DataError) as e:
        read_text(tmp_path)
    assert "byte offset 3" in _one_sentence(e.value, bad)


def test_unreadable_subfolder_simulated(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "locked")))
        yield from real_walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(text_module.os, "walk", walk)
    with pytest.raises(DataError) as e:
        read_text(tmp_path)
    assert "Permission denied" in _one_sentence(e.value, tmp_path / "locked")


# --- decode_text and describe_text ------------------------------------------------------------
def test_decode_text_uses_the_given_name():
    with pytest.raises(DataError, match=r"^upload is not valid UTF-8"):
        decode_text(b"\xc3", "upload")
    assert decode_text(b"a\r\nb") == "a\nb"


def test_describe_text_counts():
    assert describe_text("héllo\nwörld\n") == {
        "characters": 12,
        "distinct_characters": 9,
        "lines": 2,
        "utf8_bytes": 14,
    }
    assert describe_text("no newline")["lines"] == 1
    assert describe_text("")["lines"] == 0
    assert describe_text("a\n\nb")["lines"] == 3


@pytest.mark.parametrize(
    "encoding, reason",
    [
        ("utf-16", "it starts with a UTF-16 byte-order mark"),  # Windows Notepad's "Unicode"
        ("utf-16-le", "every other byte is NUL"),
        ("utf-16-be", "every other byte is NUL"),
    ],
)
def test_utf16_text_is_named_as_such_not_binary(tmp_path, encoding, reason):
    f = tmp_path / "notes.txt"
    f.write_bytes("Hello, world.\nA second line.\n".encode(encoding))
    with pytest.raises(DataError) as e:
        read_text(f)
    msg = str(e.value)
    assert f"looks like UTF-16 text ({reason}), not UTF-8" in msg and "iconv -f UTF-16 -t UTF-8" in msg
    assert "binary" not in msg


def test_utf32_with_a_byte_order_mark_is_named(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_bytes("Hello".encode("utf-32"))
    with pytest.raises(DataError, match="looks like UTF-32 text"):
        read_text(f)


def test_binary_with_scattered_nuls_is_still_binary(tmp_path):
    f = tmp_path / "blob.txt"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="binary"):
        read_text(f)
